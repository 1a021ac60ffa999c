"""The report tests' corpus (corpus.py), written once for the package; a module that needs another defines its own
`corpus` fixture, which takes precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.jobs.report.corpus import write_report_corpus


@pytest.fixture(scope="package")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report_corpus(tmp_path_factory.mktemp("corpus"))
