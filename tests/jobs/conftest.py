"""The demo's raw corpus (with its corrupt episodes) and its embedded-Ray ingest, shared by the job tests that only
read them (`tests/jobs/demo_reference.py`); the planted GR00T corpus of the behaviour QA job tests
(`tests/ingest/qa/planted_raw.py`), built once, which each of its modules copies before it writes into it."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.demo.corpus import write_raw_corpus
from jobs.ingest.job import run_ingest
from jobs.spec import load_spec
from schemas.canonicalize import CanonicalizeSpec
from tests.ingest.qa.planted_raw import write_planted_corpus
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


@pytest.fixture(scope="session")
def planted_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real GR00T episodes and their planted copies written with the default spec (`write_planted_corpus`),
    ~5 s, once for the session instead of once per module. Read only: a module copies it (`shutil.copytree` with
    `copy2`, so mtimes are kept) and writes its catalog and verdicts into the copy."""
    root = tmp_path_factory.mktemp("planted")
    write_planted_corpus(root, CanonicalizeSpec())
    return root
