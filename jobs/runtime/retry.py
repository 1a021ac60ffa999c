"""Errors of the environment inside a job: retried with backoff where they happen, and past that the end of the job,
never a quarantine row (issue 38 item 1).

A full disk or a store that stops answering says nothing about the episode: quarantined, it would be lost for good (a
rerun skips quarantined episodes). So an episode task, a discovery or a commit failing for a reason of the environment
(`schemas.faults.environment_fault`) is retried as `EnvironmentRetry` says; one that persists ends the job
with `EnvironmentFaultError`: what is committed stays, the rest of the dataset is left to the next run at the indices
an uninterrupted run gives, and `eidata ingest` exits `EXIT_ENVIRONMENT` (75, sysexits' EX_TEMPFAIL).

A worker killed on each of its attempts is the environment's the first time (an out-of-memory kill on a loaded machine
passes); killing its worker again in the next run, the episode is likelier at fault (a decoder crashing on its bytes),
and left to every next run it would stop the corpus for good: it is quarantined with `fault: environment`
(`--retry-quarantined` tries it again). `worker_died` keeps the first time in `<output>/job/died/` until a run finishes.

Unless the file did it: each attempt names the source file it reads in `reading_note` (written by the read fence,
`adapters.storage.beneath`), so a worker killed mid-read leaves the name behind; when every attempt's note names the
same file (`killed_by`), its episode alone is quarantined in this run, naming it (issue 67 item 5); a source's
discovery task runs again with the file refused (`jobs.ingest.discovery.discover_all`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pydantic import Field

from schemas.corpus import JOB_DIR
from schemas.faults import environment_fault, say
from schemas.frozen import Frozen

log = logging.getLogger(__name__)

T = TypeVar("T")
EXIT_ENVIRONMENT = 75  # sysexits.h EX_TEMPFAIL
DIED_DIR = "died"  # under <output>/job/: one marker per episode whose worker died on each attempt (the module)
READING_DIR = "reading"  # under <output>/job/: per attempt, the source file it is reading (`reading_note`)


class EnvironmentRetry(Frozen):
    """How long an error of the environment is waited out before it ends the job."""

    retries: int = Field(5, ge=0, description="tries after the first one; 0: the first such error ends the job")
    backoff_s: float = Field(1.0, ge=0, description="wait before the first retry, doubled before each next one")
    max_backoff_s: float = Field(30.0, ge=0, description="the longest single wait")

    def waits(self) -> list[float]:
        """The waits before each retry (defaults: 1, 2, 4, 8, 16 s: 31 s in all)."""
        return [min(self.backoff_s * 2**i, self.max_backoff_s) for i in range(self.retries)]


class EnvironmentFaultError(RuntimeError):
    """A fault of the environment that outlasted its retries: the job ends, and its rerun resumes."""

    def __init__(self, where: str, cause: str, *, left: str = "") -> None:
        self.where, self.cause = where, cause
        super().__init__(
            f"{where}: {cause}. The environment failed, not the data: nothing was quarantined for it"
            f"{left}; rerun the same command once it is fixed (disk space, the store, the machine)"
        )


def retry_environment(call: Callable[[], T], policy: EnvironmentRetry, what: str) -> T:
    """`call()`, called again after each wait of `policy` while it raises an error of the environment; the last such
    error (or any other at once) is raised as it came."""
    for wait in [*policy.waits(), None]:
        try:
            return call()
        except Exception as e:
            cause = environment_fault(e)
            if cause is None or wait is None:
                raise
            say(f"{what}: {cause}; trying again in {wait:.0f} s", log)  # a Ray worker's too (jobs.runtime.voice)
            time.sleep(wait)
    raise AssertionError("unreachable")


def marker_key(uid: str) -> str:
    """An episode's markers' name: uids hold `/` and `:`, a marker is one flat file name."""
    return hashlib.sha1(uid.encode()).hexdigest()[:20]


def reading_note(output: Path, uid: str) -> Path:
    """Where this process's attempt at `uid` names the source file it is reading (the module's doc)."""
    return output / JOB_DIR / READING_DIR / f"{marker_key(uid)}.{os.getpid()}"


def noted(note: Path) -> str | None:
    """The source file a reading note names (this process's parse process was reading it), None without one."""
    try:
        return note.read_text(encoding="utf-8") or None
    except OSError:
        return None


def killed_by(output: Path, uid: str, attempts: int) -> str | None:
    """The source file each of `uid`'s `attempts` attempts was reading when its worker died; None when one left no
    note or the notes disagree."""
    folder = output / JOB_DIR / READING_DIR
    try:
        notes = [p.read_text(encoding="utf-8") for p in folder.glob(f"{marker_key(uid)}.*") if p.suffix != ".tmp"]
    except OSError:
        return None
    return notes[0] if len(notes) >= attempts and len(set(notes)) == 1 else None


def forget_reading(output: Path, uid: str) -> None:
    """`uid`'s attempts' reading notes removed: its next attempts' deaths are told by their own notes only."""
    for note in (output / JOB_DIR / READING_DIR).glob(f"{marker_key(uid)}.*"):
        note.unlink(missing_ok=True)


def worker_died(output: Path, uid: str) -> bool:
    """Note that `uid`'s worker died on each of its attempts; True when a run before this one noted it too."""
    marker = output / JOB_DIR / DIED_DIR / marker_key(uid)
    if marker.exists():
        return True
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(uid)
    return False


def forget_worker_deaths(output: Path) -> None:
    """A run that finished: the next one starts with no worker death noted, nor any attempt's reading note."""
    for folder in (DIED_DIR, READING_DIR):
        shutil.rmtree(output / JOB_DIR / folder, ignore_errors=True)
