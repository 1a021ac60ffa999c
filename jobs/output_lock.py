"""The one lock on a folder a command writes (issue 86 item 1): an ingest's corpus, a train run folder, an export's
output, a curated manifest. It is ingest's job lock (`jobs.runtime.job_lock.JobLock`: an flock on
`<folder>/job/<kind>.lock` holding the holder's pid, refused naming that pid) and two things more: a holder that
ends cleanly empties the pid file, so a pid left there is a holder that died (killed, crashed) and whose lock the
kernel freed; the next taker says it takes that lock over, naming the dead pid.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from jobs.runtime.job_lock import JobLock
from schemas.corpus import JOB_DIR

log = logging.getLogger(__name__)


class OutputLock(JobLock):
    """`JobLock` on `folder` for `kind` (JobLockedError naming the live holder's pid), saying when it takes over a
    dead holder's lock; `release()` (or the end of `with`) empties the pid file, then frees the lock. A command that
    wrote nothing (a bad call found after the lock was taken) leaves no folder the lock made."""

    def __init__(self, folder: Path | str, kind: str) -> None:
        path = Path(folder) / JOB_DIR / f"{kind}.lock"
        self.path, self.made = path, [p for p in (Path(folder), path.parent) if not p.exists()]  # see `release`
        try:
            left = path.read_text(errors="replace").strip()
        except OSError:  # no lock file yet: nobody ever held it
            left = ""
        try:
            super().__init__(Path(folder), kind)
        except OSError:  # taken, then the pid not written (a full disk): not held by this process past the error
            if (fd := getattr(self, "fd", None)) is not None:
                os.close(fd)
            raise
        self.took_over = left if left and left != str(os.getpid()) else None
        if self.took_over:
            log.warning(
                "%s: took over the %s lock of pid %s, which ended without releasing it (killed or crashed)",
                folder,
                kind,
                self.took_over,
            )

    def release(self) -> None:
        os.ftruncate(self.fd, 0)  # a clean end: no pid left for the next taker to call dead
        if self.made and _holds_only(self.made, self.path):
            with contextlib.suppress(OSError):  # a bad call that wrote nothing leaves no folder (unlinked while held)
                self.path.unlink()
                for folder in reversed(self.made):
                    folder.rmdir()
        super().release()


def _holds_only(made: list[Path], lock: Path) -> bool:
    """The folders the lock made hold nothing but each other and the lock file: the command wrote nothing."""
    inner = [*made[1:], lock]
    try:
        return all(list(folder.iterdir()) == [held] for folder, held in zip(made, inner, strict=True))
    except OSError:
        return False


def is_local(where: Path | str | None) -> bool:
    """A folder on this machine (a bucket URL is locked by its lease, `adapters.storage.lease`)."""
    return where is not None and "://" not in str(where)
