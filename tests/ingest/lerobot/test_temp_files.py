"""Reopening a dataset removes the temp files its killed atomic writes left behind, and nothing else."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.storage.atomic import temp_path
from ingest.lerobot.writer import LeRobotWriter
from schemas.storage import STATE_DIR
from tests.fixtures.episodes import canonical_test_features, write_canonical_dataset

OPENERS: dict[str, Callable[[Path], LeRobotWriter]] = {
    "open": LeRobotWriter.open,
    "open without recovery": lambda root: LeRobotWriter.open(root, recover=False),
    "create_or_open": lambda root: LeRobotWriter.create_or_open(root, fps=10, features=canonical_test_features()),
}


def _plant(root: Path) -> tuple[list[Path], list[Path]]:
    """Temp files as `atomic_write` names them in the folders the writer's lock guards, and files it never names."""
    ours = [
        temp_path(root / "meta/info.json"),
        temp_path(root / "meta/episodes.jsonl"),  # a meta update (captions) rewrites it atomically
        temp_path(root / STATE_DIR / "commit.json"),
    ]
    foreign = [
        root / "meta/.info.json.tmp",  # no uuid: not the helper's name
        root / f"meta/info.json.tmp-{uuid.uuid4().hex}",  # not hidden
        root / "meta/.info.json.tmp-NOT-A-UUID",
        root / "meta/notes.txt",
        root / f"data/chunk-000/.episode_000000.parquet.tmp-{uuid.uuid4().hex}",  # outside the writer's folders
    ]
    for p in ours + foreign:
        p.write_text("left behind")
    return ours, foreign


@pytest.mark.parametrize("opener", list(OPENERS))
def test_reopen_removes_only_the_atomic_helpers_temp_files(tmp_path: Path, opener: str) -> None:
    root = tmp_path / "ds"
    write_canonical_dataset(root, [5])
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and p.name != "writer.lock"}
    ours, foreign = _plant(root)
    OPENERS[opener](root).close()
    assert [p for p in ours if p.exists()] == []
    assert [p for p in foreign if not p.exists()] == []
    assert {p: p.read_bytes() for p in before} == before  # the dataset itself is untouched


def test_a_temp_folder_named_like_a_temp_file_stays(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    write_canonical_dataset(root, [5])
    folder = temp_path(root / "meta/info.json")
    folder.mkdir()
    LeRobotWriter.open(root).close()
    assert folder.is_dir()
