"""Training tests: one small canonical corpus per session (real writer, catalog, curate) and one CPU thread.

Two threads on a shared two-core machine make small matmuls up to 10x slower (OpenMP spin-waits), hence one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.training.corpus import TEXT_DIM, build_corpus
from training.config import PRESETS, DataConfig
from training.dataset import ManifestDataset
from training.episodes import SampleIndex, build_index
from training.normalize import compute_stats

MODEL = PRESETS["tiny"].model.model_copy(update={"text_dim": TEXT_DIM})


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread: None) -> None:
    """Every training test runs on one torch thread (`one_torch_thread`)."""


@pytest.fixture(scope="session")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_corpus(tmp_path_factory.mktemp("training") / "corpus")


@pytest.fixture(scope="module")
def index(manifest: Path) -> SampleIndex:
    """The corpus's train split, indexed for the tiny model."""
    return build_index(manifest, "train", MODEL, DataConfig(num_workers=0))


@pytest.fixture(scope="module")
def dataset(index: SampleIndex) -> ManifestDataset:
    return ManifestDataset(index, compute_stats(index), MODEL, index.manifest.routing, seed=0)
