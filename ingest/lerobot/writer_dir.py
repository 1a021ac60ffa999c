"""The writer's own folder inside a dataset (`.eidata/`): its journal, staging area and lock. A dataset has one writer
at a time: an exclusive `flock` on `.eidata/writer.lock`, which holds the holder's pid so that a second writer's error
can name it; whoever may wait for the lock waits here, in `acquire_lock(wait_s=...)`, and nowhere else.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from ingest.lerobot.errors import WriterLockedError
from schemas.storage import STATE_DIR

JOURNAL = f"{STATE_DIR}/commit.json"
STAGING = f"{STATE_DIR}/staging"
LOCK = f"{STATE_DIR}/writer.lock"
LOCK_POLL_S = 0.2  # flock has no timeout; a waiter retries at this period


def acquire_lock(root: Path, *, wait_s: float = 0.0) -> int:
    """Take the dataset's writer lock; returns its file descriptor (kept open while held). Waits up to `wait_s`
    seconds for the holder to let go (0: try once), then raises `WriterLockedError` naming the holder's pid."""
    path = root / LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise WriterLockedError(root, holder) from None
            time.sleep(LOCK_POLL_S)
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def release_lock(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
