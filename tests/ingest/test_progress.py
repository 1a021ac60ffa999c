"""Progress of a long job: off a terminal, a log line at most every `log_every_s` and always at the end, with counts
and rates; on one, a bar and no log lines."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from ingest.progress import Progress
from tests import processes


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "eidata.progress"]


def test_log_lines_are_throttled_and_the_last_one_always_comes(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="eidata.progress"):
        p = Progress(5, "ingest", unit="episodes", enabled=False, log_every_s=3600.0)
        for _ in range(4):
            p.update(frames=100)
        assert _lines(caplog) == []  # an hour has not passed and the job is not done
        p.update(frames=100)
        p.close()
    (line,) = _lines(caplog)
    assert line.startswith("ingest: 5/5 episodes, ") and line.endswith(" frames/s, ETA 0 s")
    assert (p.done, p.frames) == (5, 500)


def test_every_update_logs_when_the_interval_is_zero(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="eidata.progress"):
        p = Progress(4, "captions", enabled=False, log_every_s=0.0)
        p.update(2)
        p.update(1)
    assert [line.split(",")[0] for line in _lines(caplog)] == ["captions: 2/4 it", "captions: 3/4 it"]


def test_a_terminal_gets_a_bar_and_no_log_lines(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    with caplog.at_level(logging.INFO, logger="eidata.progress"):
        p = Progress(3, "export", unit="files", enabled=True, log_every_s=0.0)
        for _ in range(3):
            p.update(frames=10)
        p.close()
    assert _lines(caplog) == []
    err = capsys.readouterr().err
    assert "export" in err and "3/3" in err and "frames/s" in err


def test_saved_work_is_said_beside_the_count_and_a_rate_without_frames_is_the_items(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Review 6: the count read as kept work (48/81 shown, 0 kept after a kill), and `report` and `latents`, which
    count no frames, printed "0 frames/s"."""
    saved = [0]
    with caplog.at_level(logging.INFO, logger="eidata.progress"):
        p = Progress(3, "ingest", unit="ep", enabled=False, log_every_s=0.0, saved=lambda: saved[0])
        p.update(frames=10)
        saved[0] = 1
        p.update(frames=10)
        q = Progress(2, "report", unit="datasets", enabled=False, log_every_s=0.0)
        q.update()
    first, second, third = _lines(caplog)
    assert first.startswith("ingest: 1/3 ep (0 saved), ") and second.startswith("ingest: 2/3 ep (1 saved), ")
    assert third.startswith("report: 1/2 datasets, ") and " datasets/s, ETA " in third and "frames/s" not in third


def test_a_slow_rate_is_never_zero(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 59: `latents` on a CPU said "1 frames/s", and below half a frame a second "0 frames/s"; a slow rate keeps
    two significant digits, a fast one whole numbers."""
    now = [0.0]
    monkeypatch.setattr("ingest.progress.time.perf_counter", lambda: now[0])
    with caplog.at_level(logging.INFO, logger="eidata.progress"):
        p = Progress(3, "latents", unit="ep", enabled=False, log_every_s=0.0)
        now[0] = 30.0
        p.update(frames=12)  # 0.4 frames/s
        now[0] = 100.0
        p.update(frames=0)  # 0.12 frames/s
        now[0] = 101.0
        p.update(frames=1200)  # 12 frames/s
    assert [line.split(", ")[1:3] for line in _lines(caplog)] == [
        ["12 frames", "0.4 frames/s"],
        ["12 frames", "0.12 frames/s"],
        ["1212 frames", "12 frames/s"],
    ]


QUIET = """
import sys, time
from ingest.progress import Progress, stacks_when_quiet
stacks_when_quiet(float(sys.argv[1]))
Progress(3, "x", enabled=False).update()
def waits_quietly():
    print("ready", flush=True)
    sys.stdin.readline()  # until the test has seen the stacks (or the pipe closes)
waits_quietly()
"""


def test_the_stacks_of_a_process_quiet_for_long_are_printed_and_it_goes_on() -> None:
    """`eidata --stacks-after-s`: no progress for that long prints every thread's stack (where it waits), again every
    period, and ends nothing; 0 prints none."""
    for after, printed in (("0.3", True), ("0", False)):
        with processes.group(
            [sys.executable, "-c", QUIET, after], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        ) as proc:
            assert proc.stdout.readline() == b"ready\n"
            if printed:
                seen = b""
                while seen.count(b"in waits_quietly") < 2:  # printed again while it stays quiet
                    line = proc.stderr.readline()
                    assert line, seen
                    seen += line
            _, err = proc.communicate(b"\n", timeout=60)
        assert proc.returncode == 0, err
        assert printed or err == b"", err
