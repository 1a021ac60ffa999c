"""The benchmarks' smoke runs start once collection is over and their tests come last in the session
(`tests/benchmarks/smoke_runs.py`): the runs have the whole suite's time on the core it leaves idle."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.benchmarks import smoke_runs

HERE = Path(__file__).resolve().parent


@pytest.hookimpl(trylast=True)  # after the other orderings (tests/ray_scope.py's)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """This folder's tests last (a stable sort keeps every other test in its place)."""
    items.sort(key=lambda item: item.path.is_relative_to(HERE))


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:  # nothing will run: a started run held `--collect-only` up ~1 min at exit
        return
    names = {
        item.callspec.params["name"]
        for item in session.items
        if getattr(item, "originalname", None) == smoke_runs.TEST_NAME and item.get_closest_marker("skip") is None
    }  # a run whose test is skipped (slow, without --runslow) is not started
    if any(item.path == HERE / "test_latents.py" for item in session.items):
        names.add(smoke_runs.MODEL_PART)  # it ran in the main thread: ~10 s of the suite's wall time
    if names:
        smoke_runs.start(names)


def pytest_sessionfinish(session: pytest.Session) -> None:
    smoke_runs.stop()
