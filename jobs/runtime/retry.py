"""Errors of the environment inside a job: retried with backoff where they happen, and past that the end of the job,
never a quarantine row (issue 38 item 1).

A full disk or a store that stops answering says nothing about the episode: quarantined, it would be lost for good (a
rerun skips quarantined episodes). So an episode task, a discovery or a commit failing for a reason of the environment
(`schemas.faults.environment_fault`) is retried as `EnvironmentRetry` says; one that persists ends the job
with `EnvironmentFaultError`: what is committed stays, the rest of the dataset is left to the next run at the indices
an uninterrupted run gives, and `eidata ingest` exits `EXIT_ENVIRONMENT` (75, sysexits' EX_TEMPFAIL).

A worker killed on each of its attempts is the environment's the first time (an out-of-memory kill on a loaded machine
passes, a node lost); killed again in the next run, the episode left to every next run would stop the corpus for good:
it is quarantined with `fault: environment` (`--retry-quarantined` tries it again). `worker_died` keeps the first time
in `<output>/job/died/` until a run finishes. A file that kills what parses it (a decoder crashing on its bytes) kills
the parse process, which names it (`hostile.sandbox`), and the worker outlives it: a worker's own death names no
file.
"""

from __future__ import annotations

import hashlib
import logging
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


def worker_died(output: Path, uid: str) -> bool:
    """Note that `uid`'s worker died on each of its attempts; True when a run before this one noted it too."""
    marker = output / JOB_DIR / DIED_DIR / marker_key(uid)
    if marker.exists():
        return True
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(uid)
    return False


def forget_worker_deaths(output: Path) -> None:
    """A run that finished: the next one starts with no worker death noted."""
    shutil.rmtree(output / JOB_DIR / DIED_DIR, ignore_errors=True)
