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


@pytest.fixture(scope="module")
def judged_corpus(planted_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A module's copy of the planted corpus with its catalog built and `eidata verdicts` run (the default
    thresholds): the dataset_qa rows and the report's behaviour section read it."""
    import shutil

    from adapters.storage.corpus import Corpus
    from jobs.catalog.build import rebuild_catalog
    from jobs.verdicts.step import run_verdicts
    from schemas.behaviour import BehaviourConfig

    root = tmp_path_factory.mktemp("corpus") / "corpus"
    shutil.copytree(planted_corpus, root, copy_function=shutil.copy2)  # mtimes kept
    rebuild_catalog(Corpus(root))
    run_verdicts(root, BehaviourConfig())
    return root
