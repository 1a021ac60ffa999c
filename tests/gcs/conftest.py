"""One GCS emulator per test session (tests/gcs/server.py), with bucket `raw`; each test writes under its own prefix.
Without `gcp-storage-emulator` (`make venv` installs it with the test extra) the tests skip, or fail under CI=true."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.gcs.server import GcsServer, emulator_binary, gcs_server
from tests.needs import tool_missing


@pytest.fixture(scope="session")
def gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GcsServer]:
    if emulator_binary() is None:
        tool_missing("gcp-storage-emulator", "pip install gcp-storage-emulator (make venv installs the test extra)")
    with gcs_server(tmp_path_factory.mktemp("gcs"), ("raw",)) as server:
        yield server


@pytest.fixture
def prefix() -> str:
    """A fresh prefix for one test inside the bucket."""
    return f"t-{uuid.uuid4().hex[:10]}"
