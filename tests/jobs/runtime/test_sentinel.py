"""The sentinel ends what a SIGKILLed driver started (review 6: Ray's agents and workers outlived `kill -9` of the
driver for minutes), and nothing else: a process the driver did not start, or a noted pid now another process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobs.runtime import sentinel
from tests.processes import start

# a driver: starts its sentinel, then a child in a session of its own that ignores SIGTERM (as an orphaned Ray agent
# that outlives its raylet), which starts a grandchild; prints their pids, then waits to be killed
DRIVER = """
import subprocess, sys, time
from jobs.runtime import sentinel
from tests.processes import start
assert sentinel.start()
child = start([sys.executable, "-c", '''
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
g = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(g.pid, flush=True)
time.sleep(600)
'''], stdout=subprocess.PIPE, text=True)
grandchild = child.stdout.readline().strip()
print(child.pid, grandchild, sentinel._started.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    return sentinel._stat(pid) is not None


def _wait_gone(pids: list[int], timeout_s: float) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if _alive(p)]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="the sentinel reads /proc (Linux)")
def test_a_killed_drivers_descendants_end_and_no_other_process() -> None:
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])  # not the driver's
    repo = Path(__file__).resolve().parents[3]
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER], stdout=subprocess.PIPE, text=True, cwd=repo, env={**os.environ}
    )
    child = grandchild = -1
    try:
        child, grandchild, watcher = (int(x) for x in driver.stdout.readline().split())
        time.sleep(3 * sentinel.SCAN_S)  # noted by a scan (one started and orphaned within a scan can be missed)
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
        left = _wait_gone([child, grandchild, watcher], sentinel.GRACE_S + 10)
        assert left == [], "the killed driver's descendants (the SIGTERM-deaf one by SIGKILL) and its sentinel end"
        assert bystander.poll() is None, "a process the driver did not start is left alone"
    finally:
        for pid in (child, grandchild):
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        bystander.kill()
        bystander.wait()


def test_descendants_follow_parent_links_and_leave_the_rest() -> None:
    here = sentinel.descendants(os.getppid())
    assert os.getpid() in here, "this test process is a descendant of its parent"
    assert os.getppid() not in here
    sleeper = start([sys.executable, "-c", "import time; time.sleep(60)"])  # a session of its own
    try:
        assert sleeper.pid in sentinel.descendants(os.getpid()), "a new session is still a descendant"
        noted = {sleeper.pid: sentinel.descendants(os.getpid())[sleeper.pid] + 1}  # another process at that pid
        assert sentinel._signal(noted, signal.SIGKILL) == {}
        assert sleeper.poll() is None, "a pid whose start time differs is another process: never signalled"
    finally:
        sleeper.kill()
        sleeper.wait()
