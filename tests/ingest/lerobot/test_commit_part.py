"""One staged episode's part of a commit: written inside its staging folder only, named relative to the dataset,
and refused when staged outside it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest.lerobot.commit_part import prepare_part
from ingest.lerobot.errors import DatasetError
from ingest.lerobot.video import VideoCodec
from ingest.lerobot.writer import LeRobotWriter, stage_episode
from schemas.lerobot import EPISODES_PATH, TASKS_PATH
from tests.fixtures.episodes import canonical_frames, write_canonical_dataset


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_part_writes_only_in_staging_and_names_paths_from_the_root(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    write_canonical_dataset(root, [4, 4])
    with LeRobotWriter.open(root) as w:
        info, tasks, features = w.info, w.tasks, w.user_features
    builder = stage_episode(root, info, VideoCodec(), task="a new task", label="w/1")
    for f in canonical_frames(5, seed=2):
        builder.add_frame(f)
    staged = builder.finish()
    outside = {k: v for k, v in _tree(root).items() if not k.startswith(".eidata/staging/")}
    part, after, after_tasks = prepare_part(root, staged, info, tasks, user_features=features, durable=False)
    assert {k: v for k, v in _tree(root).items() if not k.startswith(".eidata/staging/")} == outside
    assert (staged.stage_dir / "data.parquet").is_file()
    stage = staged.stage_dir.relative_to(root).as_posix()
    assert part["moves"][0] == [f"{stage}/data.parquet", "data/chunk-000/episode_000002.parquet"]
    assert all(not Path(src).is_absolute() and not Path(dst).is_absolute() for src, dst in part["moves"])
    assert part["new_tasks"] == [{"task_index": 2, "task": "a new task"}]
    assert set(part["appends"]) >= {EPISODES_PATH, TASKS_PATH}
    assert (after.total_episodes, after.total_frames, after.total_tasks) == (3, 13, 3)
    assert (info.total_episodes, len(tasks)) == (2, 2)  # the inputs are not changed
    assert after_tasks["a new task"] == 2


def test_a_stage_outside_the_dataset_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    write_canonical_dataset(root, [4])
    with LeRobotWriter.open(root) as w:
        info, tasks, features = w.info, w.tasks, w.user_features
    builder = stage_episode(root, info, VideoCodec(), task="t", label="w/1")
    for f in canonical_frames(3, seed=2):
        builder.add_frame(f)
    staged = builder.finish()
    moved = tmp_path / "elsewhere"
    shutil.move(staged.stage_dir, moved)
    with pytest.raises(DatasetError, match="is not inside the dataset"):
        prepare_part(
            root, staged.model_copy(update={"stage_dir": moved}), info, tasks, user_features=features, durable=False
        )
