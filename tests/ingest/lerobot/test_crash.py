"""Crash safety of the writer: a process killed (SIGKILL) mid-episode or mid-commit, and a second concurrent writer.

The writer runs in a child process (`_crash_writer.py`) that signals where it is on stdout and is then killed. The
parent reopens the dataset with `LeRobotWriter.open`, which must drop the unfinished episode or finish the journaled
commit, and the result is checked on disk and, for the oracle-marked tests, loaded by the real lerobot 0.3.3.
"""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.lerobot.errors import WriterLockedError
from ingest.lerobot.video import VideoCodec
from ingest.lerobot.writer import LeRobotWriter, stage_episode
from ingest.lerobot.writer_dir import JOURNAL, STAGING
from schemas.canonical import STATE
from tests.fixtures.episodes import CAMERAS, canonical_frames, write_canonical_dataset
from tests.fixtures.readback import count_frames
from tests.ingest.lerobot import _crash_writer as child
from tests.ingest.lerobot.crash_child import reap, start, wait_for

VIDEO_KEYS = [f"observation.images.{cam}" for cam in CAMERAS]
AFTER_LENGTH, AFTER_SEED = 25, 7


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def _expected_files(episodes: int) -> set[str]:
    files = {f"meta/{n}" for n in ("info.json", "episodes.jsonl", "episodes_stats.jsonl", "tasks.jsonl")}
    files.add(".eidata/writer.lock")
    for ep in range(episodes):
        files.add(f"data/chunk-000/episode_{ep:06d}.parquet")
        files.update(f"videos/chunk-000/{key}/episode_{ep:06d}.mp4" for key in VIDEO_KEYS)
    return files


def _jsonl(root: Path, name: str) -> list[dict]:
    return [json.loads(line) for line in (root / "meta" / name).read_text().splitlines()]


def _all_rows(root: Path) -> pa.Table:
    return pa.concat_tables(pq.read_table(p) for p in sorted((root / "data").rglob("*.parquet")))


def _assert_consistent(root: Path, lengths: list[int]) -> None:
    """Exactly the committed episodes on disk, meta lines and totals agree, `index` runs 0..N-1 with no gap."""
    n_eps, total = len(lengths), sum(lengths)
    assert _files(root) == _expected_files(n_eps)
    assert not (root / JOURNAL).exists()
    staging = root / STAGING
    assert not staging.exists() or not any(staging.iterdir())
    info = json.loads((root / "meta/info.json").read_text())
    assert (info["total_episodes"], info["total_frames"], info["total_videos"]) == (n_eps, total, 2 * n_eps)
    assert info["splits"] == {"train": f"0:{n_eps}"}
    assert [e["length"] for e in _jsonl(root, "episodes.jsonl")] == lengths
    assert [e["episode_index"] for e in _jsonl(root, "episodes_stats.jsonl")] == list(range(n_eps))
    rows = _all_rows(root)
    assert rows.column("index").to_pylist() == list(range(total))
    assert rows.column("episode_index").to_pylist() == [ep for ep, n in enumerate(lengths) for _ in range(n)]
    assert rows.column("frame_index").to_pylist() == [i for n in lengths for i in range(n)]
    for ep, n in enumerate(lengths):
        for key in VIDEO_KEYS:
            assert count_frames(root / f"videos/chunk-000/{key}/episode_{ep:06d}.mp4") == n, (ep, key)


def _episode_states(root: Path, ep: int) -> np.ndarray:
    table = pq.read_table(root / f"data/chunk-000/episode_{ep:06d}.parquet", columns=[STATE])
    return np.stack(table.column(STATE).to_numpy(zero_copy_only=False)).astype(np.float32)


# -- killed while an episode is being staged ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def after_kill(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    work = tmp_path_factory.mktemp("killed_mid_episode")
    root, log = work / "ds", work / "child.err"
    proc = start("mid-episode", root, log)
    wait_for(proc, "MID-EPISODE", log)
    assert reap(proc, kill=True) == -signal.SIGKILL
    staged_before = {d.name: sorted(f.name for f in d.iterdir()) for d in (root / STAGING).iterdir()}
    info_before = json.loads((root / "meta/info.json").read_text())
    frames = list(canonical_frames(AFTER_LENGTH, seed=AFTER_SEED))
    with LeRobotWriter.open(root) as w:
        staged_at_open = list((root / STAGING).iterdir())
        with w.episode(task="after the crash") as b:
            for f in frames:
                b.add_frame(f)
    return SimpleNamespace(
        root=root, frames=frames, staged_before=staged_before, info_before=info_before, staged_at_open=staged_at_open
    )


def test_reopen_after_kill_mid_episode_leaves_no_trace(after_kill: SimpleNamespace) -> None:
    # the kill left an unfinished episode behind: one staging folder (its encoders may not have flushed a byte yet),
    # not counted in info.json
    assert len(after_kill.staged_before) == 1, after_kill.staged_before
    assert after_kill.info_before["total_episodes"] == 2
    assert after_kill.staged_at_open == []  # opening removed it
    root = after_kill.root
    lengths = [child.COMPLETE_LENGTH, child.COMPLETE_LENGTH, AFTER_LENGTH]
    _assert_consistent(root, lengths)
    assert [t["task"] for t in _jsonl(root, "tasks.jsonl")] == ["task 0", "task 1", "after the crash"]
    assert all("killed" not in (root / "meta" / n).read_text() for n in ("episodes.jsonl", "tasks.jsonl"))
    want = np.stack([f[STATE] for f in after_kill.frames])
    np.testing.assert_array_equal(_episode_states(root, 2), want)


@pytest.mark.oracle
def test_lerobot_loads_dataset_reopened_after_kill(after_kill: SimpleNamespace, run_oracle) -> None:
    out = run_oracle("load", after_kill.root, "--items", "39,40,64")
    assert (out["num_episodes"], out["num_frames"]) == (3, 65)
    assert out["episode_lengths"] == [20, 20, AFTER_LENGTH]
    assert out["index_column"] == list(range(65))
    assert out["sync_checks_on_load"] == [True] and out["sync_check_explicit"] is True
    assert out["tasks"] == {"0": "task 0", "1": "task 1", "2": "after the crash"}
    for idx, fi in ((40, 0), (64, AFTER_LENGTH - 1)):
        item = out["items"][str(idx)]
        assert (item["episode_index"], item["frame_index"], item["task"]) == (2, fi, "after the crash")
        np.testing.assert_array_equal(np.asarray(item[STATE], dtype=np.float32), after_kill.frames[fi][STATE])


# -- killed after the journal is written, before it is applied ---------------------------------------------------------
@pytest.fixture(scope="module")
def rolled_forward(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    work = tmp_path_factory.mktemp("killed_mid_commit")
    root, log = work / "ds", work / "child.err"
    write_canonical_dataset(root, [child.COMPLETE_LENGTH, child.COMPLETE_LENGTH])
    proc = start("mid-commit", root, log)
    line = wait_for(proc, "JOURNAL-WRITTEN", log)
    assert reap(proc) == -signal.SIGKILL  # killed itself inside `_apply`
    before = SimpleNamespace(
        line=line,
        journal=(root / JOURNAL).exists(),
        info=json.loads((root / "meta/info.json").read_text()),
        episodes=len(_jsonl(root, "episodes.jsonl")),
    )
    LeRobotWriter.open(root).close()
    frames = list(canonical_frames(child.COMMIT_LENGTH, seed=child.COMMIT_SEED))
    return SimpleNamespace(root=root, before=before, frames=frames)


def test_reopen_rolls_an_interrupted_commit_forward(rolled_forward: SimpleNamespace) -> None:
    before = rolled_forward.before
    assert before.line == "JOURNAL-WRITTEN 2"
    assert before.journal and before.info["total_episodes"] == 2 and before.episodes == 2
    root = rolled_forward.root
    lengths = [child.COMPLETE_LENGTH, child.COMPLETE_LENGTH, child.COMMIT_LENGTH]
    _assert_consistent(root, lengths)
    assert _jsonl(root, "episodes.jsonl")[2]["tasks"] == ["committed while crashing"]
    want = np.stack([f[STATE] for f in rolled_forward.frames])
    np.testing.assert_array_equal(_episode_states(root, 2), want)


@pytest.mark.oracle
def test_lerobot_loads_rolled_forward_commit(rolled_forward: SimpleNamespace, run_oracle) -> None:
    last = 2 * child.COMPLETE_LENGTH + child.COMMIT_LENGTH - 1
    out = run_oracle("load", rolled_forward.root, "--items", f"40,{last}")
    assert (out["num_episodes"], out["num_frames"]) == (3, last + 1)
    assert out["episode_lengths"] == [child.COMPLETE_LENGTH, child.COMPLETE_LENGTH, child.COMMIT_LENGTH]
    assert out["index_column"] == list(range(last + 1))
    assert out["sync_check_explicit"] is True
    for idx, fi in ((40, 0), (last, child.COMMIT_LENGTH - 1)):
        item = out["items"][str(idx)]
        assert (item["episode_index"], item["frame_index"]) == (2, fi)
        np.testing.assert_array_equal(np.asarray(item[STATE], dtype=np.float32), rolled_forward.frames[fi][STATE])


def test_roll_forward_after_the_dataset_was_moved(tmp_path: Path) -> None:
    root, log = tmp_path / "ds", tmp_path / "child.err"
    write_canonical_dataset(root, [child.COMPLETE_LENGTH])
    proc = start("mid-commit", root, log)
    wait_for(proc, "JOURNAL-WRITTEN", log)
    assert reap(proc) == -signal.SIGKILL
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    moved = root.rename(tmp_path / "moved")
    for ds in (moved, copy):  # the journal is relative to its dataset: each recovers itself and nothing else
        LeRobotWriter.open(ds).close()
        _assert_consistent(ds, [child.COMPLETE_LENGTH, child.COMMIT_LENGTH])


def test_reopen_after_a_kill_inside_an_atomic_write_gives_the_uninterrupted_files(tmp_path: Path) -> None:
    """Killed between writing `meta/.info.json.tmp-<hex>` and renaming it: reopening rolls the commit forward and
    removes the temp file, so the dataset is byte for byte the one an uninterrupted commit writes."""
    root, log = tmp_path / "ds", tmp_path / "child.err"
    write_canonical_dataset(root, [child.COMPLETE_LENGTH])
    proc = start("mid-info", root, log)
    line = wait_for(proc, "INFO-TEMP-WRITTEN", log)
    assert reap(proc) == -signal.SIGKILL
    temp = root / "meta" / line.split()[1]
    assert temp.name.startswith(".info.json.tmp-") and temp.exists()
    LeRobotWriter.open(root).close()
    assert not temp.exists()
    _assert_consistent(root, [child.COMPLETE_LENGTH, child.COMMIT_LENGTH])

    clean = tmp_path / "clean"
    write_canonical_dataset(clean, [child.COMPLETE_LENGTH])
    with LeRobotWriter.open(clean) as w:
        child._write_episode(w, child.COMMIT_LENGTH, seed=child.COMMIT_SEED, task="committed while crashing")
    files = _files(root) - {".eidata/writer.lock"}  # the lock file holds its last holder's pid
    assert files == _files(clean) - {".eidata/writer.lock"}
    differ = [f for f in sorted(files) if (root / f).read_bytes() != (clean / f).read_bytes()]
    assert differ == []


def test_recovery_spares_a_live_builder(tmp_path: Path) -> None:
    """Opening the dataset removes abandoned staging folders, never one a live builder still writes."""
    root = tmp_path / "ds"
    write_canonical_dataset(root, [child.COMPLETE_LENGTH])
    with LeRobotWriter.open(root) as w:
        info = w.info
    live = stage_episode(root, info, VideoCodec(), task="parallel worker", label="worker/1")
    frames = list(canonical_frames(6, seed=5))
    for f in frames[:3]:
        live.add_frame(f)
    abandoned = root / STAGING / "deadbeef"
    abandoned.mkdir()
    with LeRobotWriter.open(root) as w:
        assert live.stage_dir.exists() and not abandoned.exists()
        for f in frames[3:]:
            live.add_frame(f)
        entry = w.commit(live.finish())
    assert entry.episode_index == 1 and entry.length == 6


# -- one writer at a time ---------------------------------------------------------------------------------------------
def test_second_writer_is_refused_while_the_first_holds_the_dataset(tmp_path: Path) -> None:
    root, log = tmp_path / "ds", tmp_path / "child.err"
    write_canonical_dataset(root, [5])
    proc = start("hold", root, log)
    try:
        wait_for(proc, "HOLDING", log)
        with pytest.raises(WriterLockedError) as err:
            LeRobotWriter.open(root)
        assert err.value.holder == str(proc.pid)
    finally:
        reap(proc, kill=True)
    LeRobotWriter.open(root).close()  # the lock dies with its holder
