"""`adapters.hostile.watcher`: a command run as its own process ends within 5 s of SIGTERM or Ctrl-C wherever it waits
(issue 75 item 2: `eidata report` waited in DuckDB's Arrow scan, where no Python handler runs, and `timeout`'s SIGTERM
never ended it), and nothing it started outlives it, a `kill -9` of it included (review 6: Ray's agents and workers
outlived a killed driver by minutes); a process it did not start, or a noted pid now another process, is left alone.

The stuck command is a stand-in that waits as the hung report did: its main thread in a C call that restarts after a
signal and never returns to the interpreter (the lock of a mutex it holds), with a helper of its own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adapters.hostile import watcher
from tests import processes

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="the watcher reads /proc (Linux)")
REPO = Path(__file__).resolve().parents[3]
FUTEX = ("202", "98")  # the futex syscall's number on x86_64 and aarch64 (where wchan does not name it)
STUCK = """
import ctypes, subprocess
from jobs.cli import watched
from jobs.runtime.stops import armed
watched("clean")
helper = subprocess.Popen(["sleep", "300"])  # a process it started
libc, mutex = ctypes.CDLL(None), ctypes.create_string_buffer(64)
libc.pthread_mutex_init(mutex, None)
def wait_in_c():
    print("ready", helper.pid, flush=True)
    libc.pthread_mutex_lock(mutex)
    libc.pthread_mutex_lock(mutex)  # a mutex it holds: a futex wait that restarts after each signal, for ever
with armed():
    wait_in_c()
"""
CLEAN = """
import sys, time
from jobs.cli import watched
from jobs.runtime.exits import exit_process
from jobs.runtime.stops import armed, stopped, message
watched("clean")
try:
    with armed():
        print("ready", flush=True)
        time.sleep(300)
except KeyboardInterrupt as e:
    print(message("eidata clean", stopped(e)), file=sys.stderr)
    exit_process(stopped(e).status)
"""
EARLY = CLEAN.replace('print("ready", flush=True)\n        time.sleep(300)', "time.sleep(300)").replace(
    "try:\n", 'print("ready", flush=True)\ntime.sleep(1.5)  # its imports: no handler of its own yet\ntry:\n'
)
# killed by the test: its child in a session of its own ignores SIGTERM (as an orphaned Ray agent that outlives its
# raylet) and starts a grandchild
DRIVER = """
import subprocess, sys, time
from jobs.cli import watched
from adapters.hostile import watcher
from tests.processes import start
STARTS
child = start([sys.executable, "-c", '''
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
g = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(g.pid, flush=True)
time.sleep(600)
'''], stdout=subprocess.PIPE, text=True)
print(child.pid, child.stdout.readline().strip(), flush=True)
time.sleep(600)
"""


def _start(script: str) -> tuple[subprocess.Popen, list[str]]:
    proc = processes.start(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().split()


def _in_the_c_wait(pid: int) -> None:
    """Once the main thread of `pid` waits in the kernel for the mutex (before, a stop's handler still runs)."""
    deadline = time.monotonic() + 30
    task = Path(f"/proc/{pid}/task/{pid}")
    while "futex" not in (task / "wchan").read_text() and (task / "syscall").read_text().split()[0] not in FUTEX:
        assert time.monotonic() < deadline, "the stand-in never reached its wait"
        time.sleep(0.02)


def _gone(pids: list[int], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(watcher._stat(p) is not None for p in pids):
        time.sleep(0.05)
    return all(watcher._stat(p) is None for p in pids)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["term", "ctrl-c"])
def test_a_command_no_handler_can_reach_ends_within_5_s_and_leaves_no_process(sig: signal.Signals) -> None:
    proc, ready = _start(STUCK)
    try:
        assert ready[0] == "ready"
        helper = int(ready[1])
        [watching] = [p for p in watcher.descendants(proc.pid) if p != helper]
        _in_the_c_wait(proc.pid)
        t0 = time.monotonic()
        processes.kill_group(proc, sig)  # to the whole group, as `timeout` and a terminal send it
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - t0
    finally:
        processes.kill_group(proc)
    assert proc.returncode == -signal.SIGKILL, err  # a shell says 137
    assert took <= 5.0, took
    assert f"stopped by {sig.name}, it did not end within" in err and "(exit 137; its stacks above)" in err, err
    assert "in wait_in_c" in err, err  # its main thread's stack, printed before the kill
    assert _gone([helper, watching], 5.0), "the command's helper and its watcher end"


@pytest.mark.parametrize("script", [CLEAN, EARLY], ids=["armed", "during-imports"])
def test_a_command_that_handles_the_stop_ends_with_its_own_line(script: str) -> None:
    """Also a stop that comes before the command has its handlers (its imports): held until `armed`, then the same
    one line (before: a KeyboardInterrupt traceback, or SIGTERM's default death without it)."""
    proc, ready = _start(script)
    try:
        assert ready == ["ready"]
        processes.kill_group(proc, signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        processes.kill_group(proc)
    assert proc.returncode == 143
    assert err.strip().splitlines() == ["eidata clean: " + err.strip().split("eidata clean: ", 1)[1]]  # one line
    assert "killed" not in err


@pytest.mark.parametrize(("end", "status"), [("exit(0)", 0), ("exit(3)", 3), ("os.abort()", -signal.SIGABRT)])
def test_the_exit_status_is_the_commands(end: str, status: int) -> None:
    """A library's abort is the command's own death, blamed on nothing (it was once called the memory limit's
    refusal, of a command that used a fraction of it: issue 84)."""
    done = subprocess.run(
        [sys.executable, "-c", f"import os; from jobs.cli import watched; watched('x'); {end}"],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (status, ""), done.stderr


@pytest.mark.parametrize(
    "starts", ['watched("clean")', "watcher.start(stops=False)"], ids=["command", "library-ray"]
)  # the command's own watcher; one a process starting embedded Ray without the CLI gets (`jobs.runtime.ray_pool`)
def test_a_killed_commands_descendants_end_and_no_other_process(starts: str) -> None:
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])  # not the command's
    proc, ready = _start(DRIVER.replace("STARTS", starts))
    child, grandchild = (int(x) for x in ready)
    try:
        [watching] = [p for p in watcher.descendants(proc.pid) if p not in (child, grandchild)]
        time.sleep(3 * watcher.SCAN_S)  # noted by a scan (one started and orphaned within a scan can be missed)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert _gone([child, grandchild, watching], 10.0), "its descendants (the SIGTERM-deaf one too) and watcher end"
        assert bystander.poll() is None, "a process the command did not start is left alone"
    finally:
        for pid in (child, grandchild):
            if watcher._stat(pid) is not None:
                os.kill(pid, signal.SIGKILL)
        bystander.kill()
        bystander.wait()


def test_descendants_follow_parent_links_and_a_reused_pid_is_left_alone() -> None:
    here = watcher.descendants(os.getppid())
    assert os.getpid() in here and os.getppid() not in here
    sleeper = processes.start([sys.executable, "-c", "import time; time.sleep(60)"])  # a session of its own
    try:
        at = watcher.descendants(os.getpid())[sleeper.pid]  # a new session is still a descendant
        assert watcher.descendants(-1, {sleeper.pid: at}) == {sleeper.pid: at}, "a noted process stays while alive"
        watcher.end({sleeper.pid: at + 1})  # another process at that pid
        time.sleep(0.2)
        assert sleeper.poll() is None, "a pid whose start time differs is another process: never signalled"
    finally:
        sleeper.kill()
        sleeper.wait()
    assert watcher.descendants(-1, {sleeper.pid: at}) == {}, "a noted process is forgotten once it has ended"


def test_what_the_command_left_in_its_cgroup_v2_ends_with_it(tmp_path: Path) -> None:
    """Under cgroup v2 the command's cgroup holds exactly what it started (`adapters.hostile.limits.command_cgroup`): a
    process there the scan never saw as a descendant (orphaned between two looks) ends with it, in its leaf or in a
    cage beside it; a process elsewhere is left alone. The cgroup is a folder laid out as one (this machine's memory
    controller is on v1): its `cgroup.procs` name real processes, which the watcher ends."""
    sleep = [sys.executable, "-c", "import time; time.sleep(60)"]
    owner, orphan, caged, bystander = (subprocess.Popen(sleep) for _ in range(4))
    try:
        for folder, pid in (("eidata-main", orphan.pid), ("eidata-parse-1-0", caged.pid), ("", os.getpid())):
            (tmp_path / folder).mkdir(exist_ok=True)
            (tmp_path / folder / "cgroup.procs").write_text(f"{pid}\n")
        owner.kill()
        owner.wait()
        r, w = os.pipe()
        watcher.watch(owner.pid, r, cgroup=str(tmp_path))  # the owner has ended: what it left is ended
        os.close(r)
        os.close(w)
        assert orphan.wait(timeout=10) == caged.wait(timeout=10) == -signal.SIGTERM
        assert bystander.poll() is None, "a process outside the command's cgroup is left alone"
    finally:
        for proc in (orphan, caged, bystander):
            proc.kill()
            proc.wait()
