"""Training tests: one small canonical corpus per session (real writer, catalog, curate) and one CPU thread.

Two threads on a shared two-core machine make small matmuls up to 10x slower (OpenMP spin-waits), hence one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.training.corpus import build_corpus


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread: None) -> None:
    """Every training test runs on one torch thread (`one_torch_thread`)."""


@pytest.fixture(scope="session")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_corpus(tmp_path_factory.mktemp("training") / "corpus")
