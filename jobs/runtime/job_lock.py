"""One job of a kind per corpus folder: an exclusive flock on `<folder>/job/<kind>.lock` holding the owner's pid.

The kernel releases a flock when its process dies, so a killed job never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from schemas.corpus import JOB_DIR


class JobLockedError(RuntimeError):
    """Another job of the same kind holds this folder."""


class JobLock:
    """Taken on construction (or raises JobLockedError naming the holder's pid); `release()` or `with` frees it."""

    def __init__(self, output: Path, kind: str = "ingest") -> None:
        path = Path(output) / JOB_DIR / f"{kind}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self.fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(self.fd)
            raise JobLockedError(f"{output}: another {kind} job (pid {holder}) is writing this output") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, str(os.getpid()).encode(), 0)

    def release(self) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)

    def __enter__(self) -> JobLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
