"""The dataset's writer lock: a typed error naming the holder, and the one place a caller waits for it."""

from __future__ import annotations

import ast
import os
import threading
import time
from pathlib import Path

import pytest

from ingest.lerobot.errors import DatasetError, WriterLockedError
from ingest.lerobot.writer import LeRobotWriter
from ingest.lerobot.writer_dir import acquire_lock, release_lock
from tests.fixtures.episodes import canonical_test_features, write_canonical_dataset

REPO = Path(__file__).resolve().parents[3]
SHIPPED = ("adapters", "ingest", "jobs", "training", "schemas", "benchmarks")


def test_a_held_lock_is_a_typed_error_naming_its_holder(tmp_path: Path) -> None:
    fd = acquire_lock(tmp_path)
    try:
        with pytest.raises(WriterLockedError) as err:
            acquire_lock(tmp_path)
        assert isinstance(err.value, DatasetError)  # callers that treat any dataset error alike still catch it
        assert (err.value.root, err.value.holder) == (tmp_path, str(os.getpid()))
    finally:
        release_lock(fd)
    release_lock(acquire_lock(tmp_path))


def test_waiting_takes_the_lock_once_the_holder_lets_go(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    write_canonical_dataset(root, [4])
    holder = LeRobotWriter.open(root)
    try:
        t0 = time.monotonic()
        with pytest.raises(WriterLockedError):
            LeRobotWriter.open(root, lock_wait_s=0.5)
        assert time.monotonic() - t0 >= 0.5  # waited the whole time before giving up
        threading.Timer(0.5, holder.close).start()
        t0 = time.monotonic()
        with LeRobotWriter.open(root, lock_wait_s=10) as w:
            assert w.num_episodes == 1
        assert 0.4 <= time.monotonic() - t0 < 5
    finally:
        holder.close()


def test_create_takes_the_lock_before_it_writes_meta(tmp_path: Path) -> None:
    """A second writer creating the same dataset gets the lock error with nothing of its own on disk."""
    root = tmp_path / "ds"
    fd = acquire_lock(root)
    try:
        with pytest.raises(WriterLockedError):
            LeRobotWriter.create(root, fps=10, features=canonical_test_features())
        assert not (root / "meta").exists()
    finally:
        release_lock(fd)
    LeRobotWriter.create(root, fps=10, features=canonical_test_features()).close()
    assert (root / "meta/info.json").is_file()


def test_no_code_recognises_the_lock_error_by_its_message() -> None:
    """The lock error is a class: a `"another writer" in ...` test on an error's text must not come back."""
    text = str(WriterLockedError("ds", "1")).split(": ", 1)[1].split(" (")[0]  # "another writer"
    found = []
    for top in SHIPPED:
        for path in sorted((REPO / top).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Compare) and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops):
                    consts = [n for n in [node.left, *node.comparators] if isinstance(n, ast.Constant)]
                    if any(isinstance(c.value, str) and text in c.value for c in consts):
                        found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert text == "another writer"
    assert found == []
