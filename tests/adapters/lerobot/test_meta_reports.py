"""A LeRobot dataset's meta says what is wrong with it, naming the right file: a byte that is not UTF-8 in
episodes.jsonl or tasks.jsonl names that file and line (not info.json), and an episode index listed twice or a
parquet whose episode_index column names another episode are reported (reliability review 1m, 1n)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adapters.base import AdapterError
from adapters.lerobot.adapter import LeRobotSource
from tests.adapters.lerobot.conftest import MOTORS, quirk_report, write_arm_dataset


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    rows = np.linspace(0, 1, 12 * len(MOTORS)).reshape(12, len(MOTORS))
    root = write_arm_dataset(tmp_path / "fc", "so101_follower", list(MOTORS), rows)
    data = root / "data/chunk-000/episode_000000.parquet"
    (root / "data/chunk-000/episode_000001.parquet").write_bytes(data.read_bytes())  # a second episode
    lines = (root / "meta/episodes.jsonl").read_text().splitlines()
    second = json.loads(lines[0]) | {"episode_index": 1}
    (root / "meta/episodes.jsonl").write_text("\n".join([lines[0], json.dumps(second)]) + "\n")
    info = json.loads((root / "meta/info.json").read_text())
    (root / "meta/info.json").write_text(json.dumps(info | {"total_episodes": 2, "total_frames": 22}))
    return root


@pytest.mark.parametrize("rel", ["meta/episodes.jsonl", "meta/tasks.jsonl"])
def test_a_byte_that_is_not_utf8_names_its_file_and_line(dataset: Path, rel: str) -> None:
    path = dataset / rel
    lines = path.read_bytes().splitlines(keepends=True)
    lines[-1] = lines[-1].replace(b'"', b'"\xff\xfe', 1)
    path.write_bytes(b"".join(lines))
    adapter = LeRobotSource()
    [ref] = list(adapter.discover(dataset))
    assert ref.raw_id == "meta" and ref.paths == (str(path),)
    assert f"{path}:{len(lines)}: not UTF-8 (byte 0xff at column 3)" in ref.error
    with pytest.raises(AdapterError) as err:
        adapter.read(ref)
    assert err.value.file == str(path)


def test_duplicated_and_mismatched_episode_indices_are_reported(dataset: Path) -> None:
    with (dataset / "meta/episodes.jsonl").open("a") as f:
        f.write((dataset / "meta/episodes.jsonl").read_text().splitlines()[0] + "\n")  # episode 0 listed again
    # episode 1's parquet says it is episode 0 (a copy of episode 0's file)
    quirks = {q["code"]: q for q in quirk_report(LeRobotSource(), dataset)}
    assert quirks["duplicate_episode_index"]["severity"] == "error"
    assert "lists episode(s) 0 (2 times)" in quirks["duplicate_episode_index"]["message"]
    assert quirks["duplicate_episode_index"]["path"] == "meta/episodes.jsonl"
    mismatch = quirks["episode_index_mismatch"]
    assert "episodes 1 [episode 1: 0]" in mismatch["message"]
    assert mismatch["path"] == "data/chunk-000/episode_000001.parquet"
    table = pq.read_table(dataset / "data/chunk-000/episode_000001.parquet")
    fixed = table.set_column(table.schema.get_field_index("episode_index"), "episode_index", pa.array([1] * 11))
    pq.write_table(fixed, dataset / "data/chunk-000/episode_000001.parquet")
    assert "episode_index_mismatch" not in {q["code"] for q in quirk_report(LeRobotSource(), dataset)}
