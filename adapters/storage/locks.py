"""`flocked`: an exclusive flock held for a block (a catalog rebuild's, a manifest folder's, the object cache's
bookkeeping). The kernel releases a flock when its process dies, so a killed holder never leaves a stale lock."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def flocked(path: Path, busy: Callable[[], Exception] | None = None) -> Iterator[None]:
    """An exclusive flock on `path` (a folder itself: no lock file to leave behind; else a lock file, created) for the
    block: waited for, or with `busy` refused at once by raising `busy()`."""
    fd = os.open(path, os.O_RDONLY) if path.is_dir() else os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if busy is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise busy() from None
        yield
    finally:
        os.close(fd)  # closing releases the flock
