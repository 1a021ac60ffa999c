"""`jobs.runtime.supervisor`: a command run as its own process ends within 5 s of SIGTERM or Ctrl-C wherever it waits
(issue 75 item 2: `eidata report` waited in DuckDB's Arrow scan, where no Python handler runs, and `timeout`'s SIGTERM
never ended it), leaves no process it started, and its exit status is the command's.

The command here is a stand-in that behaves as the hung report did: its main thread never returns to the interpreter
for a handler (SIGTERM blocked, as a thread inside a C call that never yields), with a helper process of its own."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import processes

REPO = Path(__file__).resolve().parents[3]
STUCK = """
import signal, subprocess, sys, time
from jobs.runtime import supervisor
supervisor.supervise("stuck")
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})  # no handler of its will ever run
helper = subprocess.Popen(["sleep", "300"])  # a process it started
def wait_in_c():
    print("ready", helper.pid, flush=True)
    time.sleep(300)
wait_in_c()
"""
CLEAN = """
import sys, time
from jobs.runtime import supervisor
from jobs.runtime.stops import armed, stopped, exit_process, message
supervisor.supervise("clean")
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


def _start(script: str, **env: str) -> tuple[subprocess.Popen, list[str]]:
    proc = processes.start(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().split()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["term", "ctrl-c"])
def test_a_command_no_handler_can_reach_ends_within_5_s_and_leaves_no_process(sig: signal.Signals) -> None:
    proc, ready = _start(STUCK)
    try:
        assert ready[0] == "ready"
        helper = int(ready[1])
        t0 = time.monotonic()
        processes.kill_group(proc, sig)  # to the whole group, as `timeout` and a terminal send it
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - t0
    finally:
        processes.kill_group(proc)
    assert proc.returncode == 128 + sig, err
    assert took <= 5.0, took
    assert f"stopped by {sig.name} (exit {128 + sig})" in err.splitlines()[-1] and "killed (its stacks above)" in err
    assert "in wait_in_c" in err, err  # its main thread's stack, printed before the kill
    assert processes.in_session(proc.pid) == [] and not Path(f"/proc/{helper}/stat").exists()


@pytest.mark.parametrize("script", [CLEAN, EARLY], ids=["armed", "during-imports"])
def test_a_command_that_handles_the_stop_ends_with_its_own_line(script: str) -> None:
    """Also a stop that comes before the command has its handlers (its imports): held pending until `armed`, then
    the same one line (before: a KeyboardInterrupt traceback, or SIGTERM's default death without it)."""
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


@pytest.mark.parametrize(("end", "status"), [("exit(0)", 0), ("exit(3)", 3), ("os.abort()", 134)])
def test_the_exit_status_is_the_commands(end: str, status: int) -> None:
    """A library's abort is said as a shell says it, 128 + SIGABRT, and blamed on nothing (it was once called the
    memory limit's refusal, of a command that used a fraction of it: issue 84)."""
    done = subprocess.run(
        [sys.executable, "-c", f"import os; from jobs.runtime import supervisor; supervisor.supervise('x'); {end}"],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (status, ""), done.stderr


def test_the_command_ends_with_its_watcher() -> None:
    """`kill -9` of the process the user ran (the watcher) ends the command too: a command stuck before `stops.armed`
    keeps SIGTERM blocked, so an orphan of a killed watcher outlived every SIGTERM (two planted hangs were found alive
    an hour after their test run)."""
    proc, ready = _start(STUCK)
    try:
        assert ready[0] == "ready"
        helper = int(ready[1])
        command = [p for p in processes.in_session(proc.pid) if p not in (proc.pid, helper)]
        assert len(command) == 1, command
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)  # (its pipes stay open in the helper)
        deadline = time.monotonic() + 5
        while Path(f"/proc/{command[0]}/stat").exists() and time.monotonic() < deadline:
            if Path(f"/proc/{command[0]}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                break
            time.sleep(0.05)
        alive = Path(f"/proc/{command[0]}/stat")
        assert not alive.exists() or alive.read_text().rsplit(")", 1)[1].split()[0] == "Z", command
    finally:
        for pid in processes.in_session(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
