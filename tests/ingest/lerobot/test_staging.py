"""A staged episode's folder: held while its builder lives (so recovery spares it), released when finished, gone
when aborted; staging needs no writer lock."""

from __future__ import annotations

from pathlib import Path

from ingest.lerobot.staging import is_stage_in_use
from ingest.lerobot.video import VideoCodec
from ingest.lerobot.writer import LeRobotWriter, stage_episode
from ingest.lerobot.writer_dir import acquire_lock, release_lock
from tests.fixtures.episodes import canonical_frames, write_canonical_dataset


def test_a_stage_is_in_use_until_finished_and_gone_when_aborted(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    write_canonical_dataset(root, [4])
    with LeRobotWriter.open(root) as w:
        info = w.info
    fd = acquire_lock(root)  # another writer holds the dataset: staging goes on regardless
    try:
        kept = stage_episode(root, info, VideoCodec(), task="kept", label="w/1")
        dropped = stage_episode(root, info, VideoCodec(), task="dropped", label="w/2")
        for f in canonical_frames(3, seed=1):
            kept.add_frame(f)
            dropped.add_frame(f)
        assert is_stage_in_use(kept.stage_dir) and is_stage_in_use(dropped.stage_dir)
        staged = kept.finish()
        dropped.abort()
    finally:
        release_lock(fd)
    assert staged.length == 3 and staged.tasks == ["kept"]
    assert staged.stage_dir.is_dir() and not is_stage_in_use(staged.stage_dir)
    assert not dropped.stage_dir.exists()
    assert not is_stage_in_use(tmp_path / "no such stage")
