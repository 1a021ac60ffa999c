"""A pytest plugin that records every test's phases and times (`-p tests.timing --timings FILE`): one tab-separated
line per phase (node id, setup/call/teardown, seconds, outcome), appended as the run goes, so a run cut short still
leaves what it measured. `python -m tests.tiering FILE` turns such a file into tests/long_modules.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

_OUT: list[Path] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--timings", default=None, help="append each test phase's time to this file (tests/timing.py)")


def pytest_configure(config: pytest.Config) -> None:
    if path := config.getoption("--timings"):
        _OUT.append(Path(path))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for path in _OUT:
        with path.open("a", encoding="utf-8") as f:
            f.write(f"{report.nodeid}\t{report.when}\t{report.duration:.3f}\t{report.outcome}\n")
