"""The LeRobot v3.0 writer (`adapters/synthetic/lerobot.py`) checked by the maker's own code, lerobot 0.6.1 in its
oracle venv (`tests/oracle/lerobot_v30_oracle.py`): `LeRobotDataset` and `StreamingLeRobotDataset` load what it wrote
(totals, tasks, cameras, every frame), and its files, columns and column types are the ones lerobot's own writer
leaves for a dataset of the same kind (`write-ref`); `tear_parquet` tears what it names."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adapters.synthetic.lerobot import write_lerobot_v3
from tests.fixtures.corrupt import inject_fault
from tests.fixtures.episodes import write_canonical_dataset

REF_CAMERA = "observation.images.head"  # the one camera of the oracle's reference dataset


@pytest.fixture(scope="module")
def checked(run_oracle_v30, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    tmp = tmp_path_factory.mktemp("lerobot_v3")
    written = write_lerobot_v3(tmp / "ours")
    results = run_oracle_v30("check", written.root, "--dump", tmp / "dump", "--write-ref", tmp / "ref")
    return SimpleNamespace(written=written, result=results[str(written.root)], ref=tmp / "ref")


def test_lerobots_own_loaders_read_the_written_dataset(checked: SimpleNamespace) -> None:
    w, r = checked.written, checked.result
    assert (r["num_episodes"], r["num_frames"], r["fps"]) == (len(w.lengths), sum(w.lengths), w.fps)
    assert r["streaming_len"] == sum(w.lengths)  # the streaming reader sees every frame too
    assert sorted(r["video_keys"]) == sorted(w.frames)
    assert r["tasks"]["task"] == list(dict.fromkeys(w.tasks))  # the index lerobot reads by its name
    assert [e["length"] for e in r["episodes"]] == w.lengths


def _norm(name: str, cameras: list[str]) -> str:
    for camera in cameras:
        name = name.replace(camera, "<camera>")
    return name


def _files(root: Path, cameras: list[str]) -> set[str]:
    return {_norm(p.relative_to(root).as_posix(), cameras) for p in root.rglob("*") if p.is_file()}


def _episode_columns(root: Path, cameras: list[str]) -> set[str]:
    table = pq.read_schema(root / "meta/episodes/chunk-000/file-000.parquet")
    return {_norm(c, cameras) for c in table.names if not c.startswith("stats/")}


def test_files_and_columns_are_those_lerobots_writer_leaves(checked: SimpleNamespace) -> None:
    ours, ref, cameras = checked.written.root, checked.ref, sorted(checked.written.frames)
    assert set(json.loads((ours / "meta/info.json").read_text())) == set(
        json.loads((ref / "meta/info.json").read_text())
    )
    assert _files(ours, cameras) == _files(ref, [REF_CAMERA])
    assert _episode_columns(ours, cameras) == _episode_columns(ref, [REF_CAMERA])
    data_ours, data_ref = (pq.read_schema(r / "data/chunk-000/file-000.parquet") for r in (ours, ref))
    for name in ("timestamp", "frame_index", "episode_index", "index", "task_index", "observation.state"):
        assert data_ours.field(name).type.id == data_ref.field(name).type.id, name  # fixed-size list of float32
        assert str(data_ours.field(name).type).split("[")[0] == str(data_ref.field(name).type).split("[")[0], name
    tasks_ours, tasks_ref = (pq.read_schema(r / "meta/tasks.parquet") for r in (ours, ref))
    assert tasks_ours.names == tasks_ref.names == ["task_index", "task"]
    assert tasks_ours.pandas_metadata["index_columns"] == tasks_ref.pandas_metadata["index_columns"] == ["task"]


def test_stats_hold_lerobots_core_statistics(checked: SimpleNamespace) -> None:
    """lerobot 0.6.1 adds quantiles (q01..q99) to what 0.4 wrote; the core five are in both."""
    stats = {
        root: {c.rsplit("/", 1)[-1] for c in pq.read_schema(root / "meta/episodes/chunk-000/file-000.parquet").names}
        for root in (checked.written.root, checked.ref)
    }
    core = {"min", "max", "mean", "std", "count"}
    assert core <= stats[checked.written.root] and core <= stats[checked.ref]


def test_inject_fault_damages_what_it_names(tmp_path: Path) -> None:
    write_canonical_dataset(tmp_path / "ds", [4, 5, 6])
    root = tmp_path / "ds"
    gone = inject_fault(root, "missing_parquet", episode=1)
    assert gone == root / "data/chunk-000/episode_000001.parquet" and not gone.exists()
    torn = inject_fault(root, "unreadable_parquet", episode=2)
    with pytest.raises(pa.ArrowInvalid):
        pq.read_table(torn)
    meta = inject_fault(root, "length_mismatch", episode=0)
    lengths = [json.loads(line)["length"] for line in meta.read_text().splitlines()]
    assert lengths == [4 + 3, 5, 6]
    with pytest.raises(ValueError, match="unknown fault"):
        inject_fault(root, "no_such_fault")  # type: ignore[arg-type]
