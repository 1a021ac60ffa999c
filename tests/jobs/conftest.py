"""The planted GR00T corpus of the behaviour QA job tests (`tests/ingest/qa/planted_raw.py`), built once, which each
of its modules copies before it writes into it. The demo's raw corpus and its reference ingest (`raw`, `reference`)
are tests/conftest.py's: the bucket twins compare with them too."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.canonicalize import CanonicalizeSpec
from tests.ingest.qa.planted_raw import write_planted_corpus


@pytest.fixture(scope="session")
def planted_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real GR00T episodes and their planted copies written with the default spec (`write_planted_corpus`),
    ~5 s, once for the session instead of once per module. Read only: a module copies it (`shutil.copytree` with
    `copy2`, so mtimes are kept) and writes its catalog and verdicts into the copy."""
    root = tmp_path_factory.mktemp("planted")
    write_planted_corpus(root, CanonicalizeSpec())
    return root
