"""The writer's own folder inside a dataset (`.eidata/`): its journal, staging area and lock. A dataset has one writer
at a time: an exclusive `flock` on `.eidata/writer.lock`, which holds the holder's record so that a second writer's
error, or a wait, can name it; whoever may wait for the lock waits here, in `acquire_lock(wait_s=...)`, and nowhere
else.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from adapters.storage.root import Root
from ingest.lerobot.errors import WriterLockedError
from schemas.storage import STATE_DIR, LockHeldError

JOURNAL = f"{STATE_DIR}/commit.json"
STAGING = f"{STATE_DIR}/staging"
LOCK = f"{STATE_DIR}/writer.lock"


def acquire_lock(root: Path, *, wait_s: float = 0.0) -> int:
    """Take the dataset's writer lock; returns its file descriptor (kept open while held). Waits up to `wait_s`
    seconds for the holder to let go (0: try once; a wait past a second is said, naming the holder: `Root.lock`),
    then raises `WriterLockedError` naming the holder's pid."""
    try:
        return Root(root).lock(LOCK, wait_s)
    except LockHeldError as e:
        raise WriterLockedError(root, e.pid) from None


def release_lock(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
