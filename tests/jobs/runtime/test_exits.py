"""`jobs.runtime.exits`: how a command's process leaves (`exit_process` and `finish_process` are run by
tests/jobs/runtime/test_stops.py and tests/jobs/test_cli.py through `eidata` as a process)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jobs.runtime.exits import fail


def test_fail_says_its_line_on_stderr_and_gives_the_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert fail(2, "eidata query: give ROOT and SQL") == 2
    assert capsys.readouterr() == ("", "eidata query: give ROOT and SQL\n")


def test_say_and_exit_ends_at_once_with_its_line() -> None:
    code = "import atexit; from jobs.runtime.exits import say_and_exit\natexit.register(print, 'TEARDOWN')\n"
    run = subprocess.run([sys.executable, "-c", code + "say_and_exit('stopped', 143)"], capture_output=True, text=True)
    assert (run.returncode, run.stderr, run.stdout) == (143, "stopped\n", "")
