"""The demo's raw corpus (with its corrupt episodes) and its embedded-Ray ingest, shared by the job tests that only
read them (`tests/jobs/demo_reference.py`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.demo.corpus import write_raw_corpus
from jobs.ingest.job import run_ingest
from jobs.spec import load_spec
from tests.jobs.demo_reference import demo_spec


@pytest.fixture(scope="session")
def raw(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_raw_corpus(tmp_path_factory.mktemp("raw"))


@pytest.fixture(scope="session")
def reference(raw: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo corpus ingested on embedded Ray (one node); its spec is `corpus.yaml` beside it."""
    tmp = tmp_path_factory.mktemp("ref")
    run_ingest(load_spec(demo_spec(tmp, raw)), progress=False)
    return tmp / "corpus"
