"""One bad file costs its own episode, never its dataset (issue 85): for each adapter whose episodes have their own
files and each kind of bad file, one bad file is planted among good episodes and the whole source goes through the
real ingest. The good episodes are written, the bad file's episodes (a v3.0 chunk's: each episode in it) are
quarantined naming the file, and the ingest exits 0.

The kinds: a hard link whose other name lies outside the root, a symlink out of the root, a FIFO, a missing file, a
file cut in half, a file that is not of its format, and a file that vanished after it was listed (a link to nothing
beside it: listed, gone at its open). A missing file is planted only where something else declares it (a LeRobot
meta, a ROS bag's metadata, HoloAssist's other hand file, an MPS folder); where the files themselves are the episodes
(EgoDex, array recordings) a missing file is no episode at all. `test_unseen_kinds_hold_too` plants kinds the table
does not: an empty file and a folder in place of the file.

At 00f20645 the LeRobot v2.1 and v3.0 hard links quarantined the whole dataset ("dataset meta unreadable"), a cut or
non-zip Zarr zip ended its source's discovery (`BadZipFile`), a hard-linked, symlinked-out, FIFO or vanished MPS
hand file ended Aria's, and a ROS bag folder whose `.mcap` was cut or not an MCAP named only the folder.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

import jobs.cli
from adapters.registry import get_adapter
from jobs.catalog.query import run_query


@dataclass(frozen=True)
class Planted:
    """A source built good: its adapter and options, the file to damage, and the raw ids that file's damage costs."""

    adapter: str
    options: dict
    bad: Path
    costs: tuple[str, ...]  # raw ids (or a store's, whose episodes' raw ids lie below it)


def _lerobot_v21(root: Path) -> Planted:
    from tests.adapters.lerobot.conftest import MOTORS, write_arm_dataset

    write_arm_dataset(root, "so101_follower", list(MOTORS), np.linspace(0, 1, 12 * len(MOTORS)).reshape(12, -1))
    data, entry = root / "data/chunk-000", json.loads((root / "meta/episodes.jsonl").read_text())
    table = pq.read_table(data / "episode_000000.parquet")
    index = table.schema.get_field_index("episode_index")
    for i in (1, 2):
        pq.write_table(
            table.set_column(index, "episode_index", pa.array([i] * table.num_rows)), data / f"episode_{i:06d}.parquet"
        )
    (root / "meta/episodes.jsonl").write_text(
        "".join(json.dumps(entry | {"episode_index": i}) + "\n" for i in range(3))
    )
    info = json.loads((root / "meta/info.json").read_text())
    (root / "meta/info.json").write_text(json.dumps(info | {"total_episodes": 3, "total_frames": 3 * entry["length"]}))
    return Planted("lerobot", {}, data / "episode_000001.parquet", ("episode_000001",))


def _lerobot_v30(root: Path) -> Planted:
    """Four episodes in two chunk files: the second file's two episodes go with it."""
    from adapters.synthetic.lerobot import write_lerobot_v3
    from tests.adapters.lerobot.conftest import MOTORS

    write_lerobot_v3(root, (8, 9, 7, 6), cameras={}, names=list(MOTORS), robot_type="so101_follower")
    data = root / "data/chunk-000"
    table = pq.read_table(data / "file-000.parquet")
    second = pa.array(table["episode_index"].to_numpy() >= 2)
    pq.write_table(table.filter(pa.compute.invert(second)), data / "file-000.parquet")
    pq.write_table(table.filter(second), data / "file-001.parquet")
    meta = root / "meta/episodes/chunk-000/file-000.parquet"
    eps = pq.read_table(meta)
    column = eps.schema.get_field_index("data/file_index")
    pq.write_table(eps.set_column(column, "data/file_index", pa.array([0, 0, 1, 1], eps[column].type)), meta)
    return Planted("lerobot", {}, data / "file-001.parquet", ("episode_000002", "episode_000003"))


def _egodex(root: Path) -> Planted:
    from adapters.synthetic.egodex import write_egodex

    write_egodex(root, tasks=("basic_pick_place",), episodes_per_task=2, num_frames=40, old_episode=False)
    return Planted("egodex", {}, root / "part1/basic_pick_place/1.hdf5", ("ds/part1/basic_pick_place/1",))


def _arrays(root: Path) -> Planted:
    from tests.fixtures.writers.arrays import write_aloha

    for i in range(2):
        write_aloha(root / f"episode_{i}.hdf5", 12)
    return Planted("arrays", {}, root / "episode_1.hdf5", ("ds/episode_1.hdf5",))


def _zarr(root: Path) -> Planted:
    from tests.fixtures.writers.arrays import write_umi

    for i in range(2):
        write_umi(root / f"session_{i}/dataset.zarr.zip", [12])
    return Planted("zarr", {"fps": 10}, root / "session_1/dataset.zarr.zip", ("ds/session_1/dataset.zarr",))


def _rosbag(root: Path) -> Planted:
    from tests.adapters.rosbag.conftest import write_bag

    for i in range(2):
        write_bag(root / f"episode_{i}", seconds=1.0)
    return Planted("rosbag", {}, next((root / "episode_1").glob("*.mcap")), ("ds/episode_1",))


def _aria(root: Path) -> Planted:
    from tests.fixtures.writers.aria_mps import write_aria_mps

    write_aria_mps(root, frames=20)
    bad = root / "rec02/mps_rec02_vrs/hand_tracking/hand_tracking_results.csv"
    return Planted("aria_mps", {}, bad, ("ds/rec02/mps_rec02_vrs",))


def _holoassist(root: Path) -> Planted:
    from tests.fixtures.writers.holoassist import write_holoassist

    write_holoassist(root, frames=60)
    return Planted("holoassist", {}, root / "R002-demo/Export_py/Hands/Right_sync.txt", ("ds/R002-demo",))


BUILDERS: dict[str, Callable[[Path], Planted]] = {
    "lerobot_v21": _lerobot_v21,
    "lerobot_v30": _lerobot_v30,
    "egodex": _egodex,
    "arrays": _arrays,
    "zarr": _zarr,
    "rosbag": _rosbag,
    "aria_mps": _aria,
    "holoassist": _holoassist,
}
FILES_ARE_EPISODES = {"egodex", "arrays", "zarr"}  # a missing file there is no episode (the module's doc)
# where the bad file is what makes a folder an episode, the folder is skipped, named in a source finding (the file or
# its recording folder), not quarantined: an MPS folder without its hand file; a folder in a zipped store's place
NO_EPISODE = {("aria_mps", "missing"), ("aria_mps", "folder"), ("zarr", "folder")}


def plant(kind: str, path: Path, outside: Path) -> None:
    """`path` made bad in the way `kind` says; `outside` is a folder beside the source root."""
    outside.mkdir(parents=True, exist_ok=True)
    if kind in ("hard_link", "symlink_out"):
        shutil.move(path, outside / path.name)
        (os.link if kind == "hard_link" else os.symlink)(outside / path.name, path)
    elif kind == "fifo":
        path.unlink()
        os.mkfifo(path)
    elif kind == "missing":
        path.unlink()
    elif kind == "cut":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif kind == "not_its_format":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    elif kind == "vanished":
        path.unlink()
        os.symlink(path.name + ".gone", path)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "folder":
        path.unlink()
        (path / "part").mkdir(parents=True)
    else:
        raise ValueError(kind)


KINDS = ("hard_link", "symlink_out", "fifo", "missing", "cut", "not_its_format", "vanished")
UNSEEN = ("empty", "folder")


def _cases(adapter: str, kinds: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(adapter, k) for k in kinds if not (k == "missing" and adapter in FILES_ARE_EPISODES)]


@dataclass(frozen=True)
class Expected:
    good: frozenset[str]  # raw ids
    bad: tuple[str, ...]  # raw ids (`Planted.costs`)
    bad_file: Path
    no_episode: bool = False  # `NO_EPISODE`


def _ingest(tmp: Path, cases: list[tuple[str, str]]) -> tuple[int, dict[str, Expected]]:
    """Every case a source of its own in one ingest job; returns its exit code and each source's expectations."""
    sources, expected = [], {}
    for case, kind in cases:
        name = f"{case}_{kind}"
        root = tmp / "raw" / name / "ds"
        root.mkdir(parents=True)
        made = BUILDERS[case](root)
        ids = {r.raw_id for r in get_adapter(made.adapter, made.options).discover(root.parent) if r.error is None}
        good = frozenset(i for i in ids if not any(_under(i, c) for c in made.costs))
        assert good and good < ids, (name, sorted(ids))
        plant(kind, made.bad, tmp / "outside" / name)
        expected[name] = Expected(good, made.costs, made.bad, (case, kind) in NO_EPISODE)
        sources.append({"name": name, "adapter": made.adapter, "root": str(root.parent), "options": made.options})
    spec = tmp / "spec.yaml"
    short = {"validity": {"min_length_frames": 1}, "min_episode_s": 0.0}  # the fixtures' episodes are short
    job = {"output": str(tmp / "corpus"), "sources": sources, "parallelism": {"num_cpus": 2}, "canonicalize": short}
    spec.write_text(yaml.safe_dump(job))
    return jobs.cli.main(["ingest", str(spec)]), expected


def _under(raw_id: str, cost: str) -> bool:
    return raw_id == cost or raw_id.startswith(cost + "/")


def _is(uid: str, source: str, raw_id: str) -> bool:
    """`uid` (`source/subset/raw_id`, a kept part's `#tag` after it) is of `raw_id`, whatever subset it landed in
    (a flagged array store's subset is its container, a read one's its layout)."""
    rest = uid.split("#", 1)[0]
    return rest.startswith(source + "/") and (rest.endswith("/" + raw_id) or rest == f"{source}/{raw_id}")


def _names(row: dict, bad: Path) -> bool:
    """The row names the bad file: its path, or its name with its folder's path (an MPS folder's hand file)."""
    text = f"{row['file']} {row['message']}"
    return str(bad) in text or (bad.name in text and str(bad.parent) in text)


def _check(corpus: Path, expected: dict[str, Expected]) -> None:
    """Each source's good episodes got past their read (written, or judged on their own content: the fixtures' few
    frames of synthetic motion may fail a quality check, never for the bad file), and each bad one is quarantined
    at discovery or read naming the file (a `NO_EPISODE` case: a source finding names it); nothing else is."""
    written = [r["episode_uid"] for r in run_query(corpus, "SELECT episode_uid FROM episodes").to_pylist()]
    found = run_query(corpus, "SELECT source, path, message FROM source_findings").to_pylist()
    rows = run_query(corpus, "SELECT episode_uid, stage, file, message FROM quarantine").to_pylist()
    early = [r for r in rows if r["stage"] in ("discover", "read")]
    wrong = {}
    for name, want in expected.items():
        judged = written + [r["episode_uid"] for r in rows if r not in early]
        lost = sorted(i for i in want.good if not any(_is(u, name, i) for u in judged))
        if want.no_episode:  # named in a finding instead
            said = [f"{f['path']} {f['message']}" for f in found if f["source"] == name]
            where = (str(want.bad_file), str(want.bad_file.parent.parent))
            unnamed = [] if any(w in t for t in said for w in where) else ["no source finding names it"]
        else:
            named = [r for r in early if _names(r, want.bad_file)]
            unnamed = [c for c in want.bad if not any(_is(r["episode_uid"], name, c) for r in named)]
        ours = [r["episode_uid"] for r in early if r["episode_uid"].startswith(name + "/")]
        other = [u for u in ours if not any(_is(u, name, c) for c in want.bad)]
        if lost or unnamed or other:
            wrong[name] = {
                "good not past their read": lost,
                "bad not quarantined naming the file": unnamed,
                "other": other,
            }
    assert not wrong, json.dumps(wrong, indent=1)


@pytest.mark.shared_ray  # tests/ray_scope.py
@pytest.mark.parametrize("adapter", sorted(BUILDERS))
def test_one_bad_file_costs_its_own_episodes(tmp_path: Path, adapter: str) -> None:
    """One ingest per adapter (a row of the table), one source per kind of bad file."""
    code, expected = _ingest(tmp_path, _cases(adapter, KINDS))
    _check(tmp_path / "corpus", expected)
    assert code == 0


@pytest.mark.shared_ray
def test_unseen_kinds_hold_too(tmp_path: Path) -> None:
    code, expected = _ingest(tmp_path, [c for a in sorted(BUILDERS) for c in _cases(a, UNSEEN)])
    _check(tmp_path / "corpus", expected)
    assert code == 0
