"""Writer behaviour on our side of the format: totals, chunking, tasks, reopening, episode extras and segments."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from adapters.lerobot_format.files import load_entries, load_info
from ingest.lerobot.errors import DatasetError, EpisodeError, WriterLockedError
from ingest.lerobot.video import VideoCodec
from ingest.lerobot.video_read import decode_frames
from ingest.lerobot.writer import LeRobotWriter
from schemas.canonical import STATE
from schemas.lerobot import EpisodeEntry
from tests.fixtures.episodes import canonical_frames, canonical_test_features, write_canonical_dataset
from tests.fixtures.readback import count_frames


def _write(w: LeRobotWriter, n: int, task: str, seed: int = 0, **kw) -> EpisodeEntry:
    ctx = w.episode(task=task, **kw)
    with ctx as ep:
        for f in canonical_frames(n, seed=seed):
            ep.add_frame(f)
    assert ctx.entry is not None
    return ctx.entry


def test_totals_tasks_and_index_columns(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    write_canonical_dataset(root, [4, 6, 3], tasks=["pick", "place", "pick"])
    info = load_info(root / "meta/info.json")
    assert (info.total_episodes, info.total_frames, info.total_tasks, info.total_videos) == (3, 13, 2, 6)
    assert info.splits == {"train": "0:3"} and info.total_chunks == 1
    tasks = [json.loads(line) for line in (root / "meta/tasks.jsonl").read_text().splitlines()]
    assert tasks == [{"task_index": 0, "task": "pick"}, {"task_index": 1, "task": "place"}]
    index = np.concatenate([pq.read_table(root / info.data_file(e)).column("index").to_numpy() for e in range(3)])
    assert index.tolist() == list(range(13))
    t = pq.read_table(root / info.data_file(2))
    assert t.column("task_index").to_pylist() == [0, 0, 0]
    assert t.column("episode_index").to_pylist() == [2, 2, 2]
    assert np.allclose(t.column("timestamp").to_numpy(), np.arange(3) / 10)
    for key in info.video_keys:
        assert count_frames(root / info.video_file(2, key)) == 3
        vi = info.features[key].video_info
        assert vi is not None and vi.codec == "av1" and vi.pix_fmt == "yuv420p" and vi.fps == 10


def test_several_tasks_in_one_episode(tmp_path: Path) -> None:
    with LeRobotWriter.create(tmp_path / "ds", fps=10, features=canonical_test_features()) as w:
        with w.episode(task="reach") as ep:
            for i, f in enumerate(canonical_frames(6)):
                ep.add_frame(f, task="grasp" if i >= 3 else None)
    entry = load_entries(tmp_path / "ds/meta/episodes.jsonl", EpisodeEntry)[0]
    assert entry.tasks == ["reach", "grasp"]  # order of first appearance, deterministic
    col = pq.read_table(tmp_path / "ds/data/chunk-000/episode_000000.parquet").column("task_index")
    assert col.to_pylist() == [0, 0, 0, 1, 1, 1]


def test_chunking(tmp_path: Path) -> None:
    feats = {k: v for k, v in canonical_test_features().items() if v.dtype != "video"}
    with LeRobotWriter.create(tmp_path / "ds", fps=10, features=feats, chunks_size=2) as w:
        for e in range(5):
            _write_numeric(w, e)
        assert w.info.total_chunks == 3 and w.info.video_path is None
    assert (tmp_path / "ds/data/chunk-002/episode_000004.parquet").exists()


def _write_numeric(w: LeRobotWriter, seed: int) -> None:
    with w.episode(task="numeric only") as ep:
        for f in canonical_frames(3, seed=seed):
            ep.add_frame({k: v for k, v in f.items() if not k.startswith("observation.images")})


def test_reopen_continues_at_next_index(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    write_canonical_dataset(root, [3, 3])
    with LeRobotWriter.open(root) as w:
        entry = _write(w, 4, "task 0", seed=9)
    assert entry.episode_index == 2
    info = load_info(root / "meta/info.json")
    assert (info.total_episodes, info.total_frames, info.total_tasks) == (3, 10, 2)
    assert pq.read_table(root / info.data_file(2)).column("index").to_pylist() == [6, 7, 8, 9]


def test_second_writer_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    with LeRobotWriter.create(root, fps=10, features=canonical_test_features()):
        with pytest.raises(WriterLockedError) as err:
            LeRobotWriter.open(root)
        assert err.value.holder == str(os.getpid())  # the lock file names its holder
    LeRobotWriter.open(root).close()  # free again once the first one is closed


def test_create_refuses_existing_and_create_or_open_checks_features(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    LeRobotWriter.create(root, fps=10, features=canonical_test_features()).close()
    with pytest.raises(DatasetError, match="already exists"):
        LeRobotWriter.create(root, fps=10, features=canonical_test_features())
    LeRobotWriter.create_or_open(root, fps=10, features=canonical_test_features()).close()
    other = canonical_test_features({"head": (32, 32)})
    with pytest.raises(DatasetError, match="other features"):
        LeRobotWriter.create_or_open(root, fps=10, features=other)


def test_extras_and_action_config_in_episodes_jsonl(tmp_path: Path) -> None:
    with LeRobotWriter.create(tmp_path / "ds", fps=10, features=canonical_test_features()) as w:
        ep = w.stage("open the drawer")
        for f in canonical_frames(8):
            ep.add_frame(f)
        ep.extra = {"eidata": {"raw_path": "raw/ep.h5", "content_hash": "abc"}}
        ep.action_config = [
            {"start_frame": 0, "end_frame": 5, "action_text": "reach the handle"},
            {"start_frame": 5, "end_frame": 8, "action_text": "pull"},
        ]
        w.commit(ep.finish())
    line = json.loads((tmp_path / "ds/meta/episodes.jsonl").read_text())
    assert list(line) == ["episode_index", "tasks", "length", "action_config", "eidata"]
    assert line["action_config"][1] == {"start_frame": 5, "end_frame": 8, "action_text": "pull"}
    assert line["eidata"]["raw_path"] == "raw/ep.h5"


def test_h264_option(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    with LeRobotWriter.create(root, fps=10, features=canonical_test_features(), codec=VideoCodec.h264()) as w:
        _write(w, 5, "h264")
    info = load_info(root / "meta/info.json")
    assert info.features["observation.images.head"].video_info.codec == "h264"
    frames = list(decode_frames(root / info.video_file(0, "observation.images.head")))
    assert len(frames) == 5 and frames[0][1].shape == (96, 128, 3)


def test_expected_frames_hint_mismatch_still_gives_stats(tmp_path: Path) -> None:
    """A wrong length hint measures the missing sample frames from the encoded video instead."""
    roots = {}
    for name, hint in (("exact", None), ("wrong_hint", 40)):
        roots[name] = tmp_path / name
        with LeRobotWriter.create(roots[name], fps=10, features=canonical_test_features()) as w:
            _write(w, 12, "t", expected_frames=hint)
    stats = {k: json.loads((r / "meta/episodes_stats.jsonl").read_text())["stats"] for k, r in roots.items()}
    a, b = stats["exact"]["observation.images.head"], stats["wrong_hint"]["observation.images.head"]
    assert a["count"] == b["count"] == [12]
    assert np.allclose(a["mean"], b["mean"], atol=0.01) and np.allclose(a["std"], b["std"], atol=0.01)
    assert stats["exact"][STATE] == stats["wrong_hint"][STATE]


def test_long_episode_memory_is_bounded(tmp_path: Path) -> None:
    """Rows spill to disk: the builder never holds more than `spill_every` frames of numeric data."""
    with LeRobotWriter.create(tmp_path / "ds", fps=10, features=canonical_test_features({"head": (16, 16)})) as w:
        ep = w.stage("long")
        ep._spill_every = 64
        for f in canonical_frames(300, cameras={"head": (16, 16)}):
            ep.add_frame(f)
            assert len(ep._rows[STATE]) < 64
        w.commit(ep.finish())
    t = pq.read_table(tmp_path / "ds/data/chunk-000/episode_000000.parquet")
    assert t.num_rows == 300 and t.column("frame_index").to_pylist() == list(range(300))


def test_commit_group_is_all_or_nothing(tmp_path: Path) -> None:
    with LeRobotWriter.create(tmp_path / "ds", fps=10, features=canonical_test_features()) as w:
        staged = []
        for seed in range(3):
            b = w.stage(f"part {seed}", label=f"raw/ep#span{seed}")
            for f in canonical_frames(4, seed=seed):
                b.add_frame(f)
            staged.append(b.finish())
        broken = [staged[0], staged[1].model_copy(update={"length": 99}), staged[2]]
        with pytest.raises(EpisodeError, match="staged 4 rows but 99"):
            w.commit_group(broken)
        assert w.info.total_episodes == 0 and not any((w.root / "data").glob("**/*.parquet"))
        assert all(not s.stage_dir.exists() for s in staged)
        again = []
        for seed in range(3):
            b = w.stage(f"part {seed}")
            for f in canonical_frames(4, seed=seed):
                b.add_frame(f)
            again.append(b.finish())
        entries = w.commit_group(again)
    assert [e.episode_index for e in entries] == [0, 1, 2]
    info = load_info(tmp_path / "ds/meta/info.json")
    assert (info.total_episodes, info.total_frames, info.total_tasks) == (3, 12, 3)
    index = [pq.read_table(tmp_path / "ds" / info.data_file(e)).column("index").to_pylist() for e in range(3)]
    assert index == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
