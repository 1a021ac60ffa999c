"""The writer's own folder inside a dataset (`.eidata/`): where its journal, staging area and lock live, and the lock.

A dataset has one writer at a time: an exclusive `flock` on `.eidata/writer.lock`, which holds the holder's pid so
that a second writer's error can name it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from ingest.lerobot.errors import DatasetError

STATE_DIR = ".eidata"
JOURNAL = f"{STATE_DIR}/commit.json"
STAGING = f"{STATE_DIR}/staging"
LOCK = f"{STATE_DIR}/writer.lock"


def acquire_lock(root: Path) -> int:
    """Take the dataset's writer lock without waiting; returns its file descriptor (kept open while held)."""
    path = root / LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise DatasetError(f"{root}: another writer (pid {holder}) holds this dataset") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def release_lock(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
