"""Progress of a long job: off a terminal, a log line at most every `log_every_s` and always at the end, with counts
and rates; on one, a bar and no log lines."""

from __future__ import annotations

import logging

import pytest

from ingest.progress import Progress


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
