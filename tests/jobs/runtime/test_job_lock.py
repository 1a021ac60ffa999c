"""One job of a kind per corpus folder: a second taker is refused naming the holder's pid, other kinds do not
collide, a released lock can be taken again, and a SIGKILLed holder leaves no stale lock (the kernel drops its
flock)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.runtime.job_lock import JobLock, JobLockedError
from schemas.corpus import JOB_DIR

REPO = Path(__file__).resolve().parents[3]
HOLD = (
    "import sys, time; from jobs.runtime.job_lock import JobLock; "
    "JobLock(sys.argv[1]); print('held', flush=True); time.sleep(600)"
)


def test_a_second_taker_is_refused_naming_the_holder(tmp_path: Path) -> None:
    with JobLock(tmp_path, "ingest"):
        assert (tmp_path / JOB_DIR / "ingest.lock").read_text() == str(os.getpid())
        with pytest.raises(JobLockedError, match=rf"another ingest job \(pid {os.getpid()}\) is writing this output"):
            JobLock(tmp_path, "ingest")
        JobLock(tmp_path, "captions").release()  # another kind of job on the same folder
    JobLock(tmp_path, "ingest").release()  # released: taken again


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        with pytest.raises(JobLockedError, match=rf"pid {child.pid}\)"):
            JobLock(tmp_path)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    with JobLock(tmp_path) as lock:  # the pid file of the dead holder is overwritten with ours
        assert os.pread(lock.fd, 64, 0) == str(os.getpid()).encode()
