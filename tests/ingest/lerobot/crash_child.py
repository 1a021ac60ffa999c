"""The parent's side of the crash tests: start `_crash_writer.py` in a child process, wait for the line it prints
where it stands, reap it (SIGKILLed by the parent or by itself)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
HELPER = Path(__file__).with_name("_crash_writer.py")


def start(mode: str, root: Path, log: Path, helper: Path = HELPER) -> subprocess.Popen:
    """`python <helper> <mode> <root>`, its stderr to `log`."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "SVT_LOG": "1"}
    with open(log, "w") as err:
        return subprocess.Popen(
            [sys.executable, str(helper), mode, str(root)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )


def wait_for(proc: subprocess.Popen, marker: str, log: Path, timeout: float = 60) -> str:
    """The child's stdout line starting with `marker`; the child is killed if it takes longer than `timeout`."""
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    try:
        for line in proc.stdout:
            if line.startswith(marker):
                return line.strip()
    finally:
        watchdog.cancel()
    proc.wait()
    pytest.fail(f"child exited {proc.returncode} before printing {marker!r}; stderr:\n{log.read_text()[-3000:]}")


def reap(proc: subprocess.Popen, kill: bool = False) -> int:
    if kill:
        proc.send_signal(signal.SIGKILL)
    code = proc.wait(timeout=30)
    proc.stdout.close()
    return code
