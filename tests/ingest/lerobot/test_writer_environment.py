"""A commit that fails for a reason of the environment (a full disk: ENOSPC injected at the two places a commit writes,
its parquet before the commit point and its journal at it) ends the writer's commits, so no later episode takes the
failed one's index; reopening the dataset resumes at that index, and the dataset then equals one written without the
failure. An episode's own bad input still leaves the writer open, the next episode taking the index (issue 38)."""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ingest.lerobot import writer as writer_module
from ingest.lerobot.errors import EpisodeError, WriterFailedError
from ingest.lerobot.staging import StagedEpisode
from ingest.lerobot.writer import LeRobotWriter
from ingest.lerobot.writer_dir import STAGING
from tests.fixtures.episodes import canonical_frames, canonical_test_features

ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _stage(w: LeRobotWriter, seed: int) -> StagedEpisode:
    b = w.stage(f"task {seed}", label=f"raw/ep{seed}")
    for f in canonical_frames(4, seed=seed):
        b.add_frame(f)
    return b.finish()


def _dataset(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".eidata" not in p.parts
    }


def _write(root: Path, seeds: list[int]) -> None:
    with LeRobotWriter.create(root, fps=10, features=canonical_test_features(), robot_type="franka") as w:
        for seed in seeds:
            w.commit(_stage(w, seed))


def _failing_once(real: Callable[..., Any]) -> Callable[..., Any]:
    calls = []

    def call(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise ENOSPC
        return real(*args, **kw)

    return call


@pytest.mark.parametrize("where", ["prepare_part", "atomic_write"])
def test_a_full_disk_ends_the_writer_s_commits_and_the_rerun_gives_the_same_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    _write(tmp_path / "reference", [0, 1, 2])
    root = tmp_path / "ds"
    with LeRobotWriter.create(root, fps=10, features=canonical_test_features(), robot_type="franka") as w:
        w.commit(_stage(w, 0))
        first, second = _stage(w, 1), _stage(w, 2)
        monkeypatch.setattr(writer_module, where, _failing_once(getattr(writer_module, where)))
        with pytest.raises(OSError) as failed:
            w.commit(first)
        assert failed.value.errno == errno.ENOSPC and not isinstance(failed.value, EpisodeError)
        with pytest.raises(
            WriterFailedError, match=r"an earlier commit of this dataset failed \(OSError: \[Errno 28\]"
        ):
            w.commit(second)  # before issue 38 it was committed at index 1, the failed episode's
        assert w.info.total_episodes == 1 and not second.stage_dir.exists()
    monkeypatch.undo()
    with LeRobotWriter.open(root) as w:  # the rerun: the dataset opened again goes on at index 1
        assert w.num_episodes == 1 and not any((root / STAGING).iterdir())
        assert [e.episode_index for e in w.commit_group([_stage(w, 1), _stage(w, 2)])] == [1, 2]
    assert _dataset(root) == _dataset(tmp_path / "reference")


def test_an_episode_s_own_error_leaves_the_writer_open(tmp_path: Path) -> None:
    with LeRobotWriter.create(tmp_path / "ds", fps=10, features=canonical_test_features()) as w:
        bad = _stage(w, 0).model_copy(update={"length": 99})
        with pytest.raises(EpisodeError, match="staged 4 rows but 99"):
            w.commit(bad)
        assert w.commit(_stage(w, 1)).episode_index == 0  # a rerun fails it the same way: the same indices
