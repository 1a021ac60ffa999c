"""The command-surface benchmark's replication (`benchmarks/_replicate.py`): every copy's episodes get uids of
their own, those of a dataset ingest split by signature too (issue 86: its folder `<subset>@<diff>~<hash>` was taken
for the subset its uids name, they were left as they were, and the catalog refused the duplicates), under the names
ingest gives now (`<subset>@<label>`, `~<hash>` after a label taken) and those it gave before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.lerobot_format.layout import find_datasets
from benchmarks._replicate import replicate
from schemas.corpus import LINEAGE_KEY
from schemas.lerobot import EPISODES_PATH, INFO_PATH

SOURCE, SUBSET = "isaaclab", "robomimic"
# a signature sibling's folder, as ingest names it (`ingest.lerobot.routing`), and as it named it before issue 86
SPLITS = [f"{SUBSET}@state-cube_4", f"{SUBSET}@state-cube_4~c062ad07", f"{SUBSET}@state.native164~c062ad07"]


def _dataset(root: Path, folder: str, raw: str) -> None:
    ds = root / "datasets" / SOURCE / folder
    (ds / "data/chunk-000").mkdir(parents=True)
    (ds / "meta").mkdir()
    (ds / "data/chunk-000/episode_000000.parquet").write_bytes(b"a recording")  # linked, never read
    (ds / INFO_PATH).write_text(json.dumps({"total_episodes": 1}))
    uid = f"{SOURCE}/{SUBSET}/{raw}"  # the subset's, whatever the folder
    lineage = {"episode_uid": uid, "raw_uid": uid, "source": SOURCE, "subset": SUBSET}
    (ds / EPISODES_PATH).write_text(json.dumps({"episode_index": 0, LINEAGE_KEY: lineage}) + "\n")


@pytest.mark.parametrize("split", SPLITS)
def test_every_copy_of_a_split_dataset_gets_uids_of_its_own(tmp_path: Path, split: str) -> None:
    _dataset(tmp_path, SUBSET, "dataset.hdf5/demo_1")
    _dataset(tmp_path, split, "dataset.hdf5/demo_0")
    assert replicate(tmp_path, 6) == 6  # the originals and two rounds of copies
    lines = [json.loads((d / EPISODES_PATH).read_text())[LINEAGE_KEY] for d in find_datasets(tmp_path)]
    uids = [x["episode_uid"] for x in lines]
    assert len(uids) == 6 and len(set(uids)) == 6, uids
    copy = next(x for d, x in zip(find_datasets(tmp_path), lines, strict=True) if d.name == f"{split}_r00002")
    assert copy == {
        "episode_uid": f"{SOURCE}/{SUBSET}_r00002/dataset.hdf5/demo_0",
        "raw_uid": f"{SOURCE}/{SUBSET}_r00002/dataset.hdf5/demo_0",
        "source": SOURCE,
        "subset": f"{SUBSET}_r00002",  # the copy of the subset, as the copy of its home dataset says
    }


def test_the_command_line_builds_the_corpus_and_a_smaller_size_removes_the_later_rounds(tmp_path: Path) -> None:
    import subprocess
    import sys

    _dataset(tmp_path, SUBSET, "dataset.hdf5/demo_1")
    run = [sys.executable, "-m", "benchmarks._replicate", str(tmp_path)]
    out = subprocess.run([*run, "5"], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[2])
    assert out.stdout.startswith(f"5 episodes in {tmp_path} (")
    assert len(find_datasets(tmp_path)) == 5
    subprocess.run([*run, "2"], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[2])
    assert sorted(d.name for d in find_datasets(tmp_path)) == [SUBSET, f"{SUBSET}_r00001"]
