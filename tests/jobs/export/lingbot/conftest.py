"""A tiny Wan2.2 VAE and UMT5 encoder (tests.fixtures.wan) and the small corpus of corpus.py, made once for the
package."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.wan import write_tiny_wan
from tests.jobs.export.lingbot.corpus import write_small_corpus


@pytest.fixture(scope="package")
def wan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_tiny_wan(tmp_path_factory.mktemp("wan"))


@pytest.fixture(scope="package")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_small_corpus(tmp_path_factory.mktemp("lingbot-corpus"))
