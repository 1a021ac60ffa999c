"""tests/processes.py: a child and what it started die together on every way out of the block, a timeout included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.processes import group, run_group, start, stop_group

# a child that starts a grandchild (in its group) and prints the grandchild's pid, then waits
PARENT = (
    "import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); "
    "print(p.pid, flush=True); time.sleep(120)"
)


def _gone(pid: int, within_s: float = 10) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        with open(f"/proc/{pid}/stat") as f:  # a zombie (its parent killed too, it waits for init) counts as gone
            if f.read().split(") ", 1)[1].startswith("Z"):
                return True
        time.sleep(0.05)
    return False


def test_the_whole_group_is_killed_when_the_block_ends() -> None:
    with group([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True) as proc:
        grandchild = int(proc.stdout.readline())
    assert proc.returncode == -signal.SIGKILL and _gone(grandchild)


def test_a_timeout_kills_the_group_and_says_what_was_printed() -> None:
    with pytest.raises(subprocess.TimeoutExpired) as e:
        run_group([sys.executable, "-c", PARENT], timeout=3, stdout=subprocess.PIPE, text=True)
    assert _gone(int(e.value.output))


def test_stop_group_asks_first_then_kills() -> None:
    proc = start([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    grandchild = int(proc.stdout.readline())
    stop_group(proc, grace_s=5)
    assert proc.returncode == -signal.SIGTERM and _gone(grandchild)
    assert run_group([sys.executable, "-c", "print(1)"], timeout=60, capture_output=True).stdout == b"1\n"
