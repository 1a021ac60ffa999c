"""The sample index (training/episodes.py) from a real manifest: anchors that need a chunk and a future, the index's
skips, a bad latents file that names itself, an empty split."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from adapters.storage.corpus_files import CorpusFiles
from schemas.tiers import QualityTier
from tests.training.conftest import MODEL
from tests.training.corpus import TEXT_DIM
from training.config import DataConfig
from training.episode_latents import read_latents_header
from training.episodes import SampleIndex, build_index
from training.errors import DataError


def test_index_reports_its_skips(index: SampleIndex) -> None:
    r = index.report
    # high-tier episodes with actions route to policy, which anchors at every latent frame up to the end (the short
    # episode included); the others need a full chunk and a +16 future (12 anchors at length 40, 10 at 36)
    to_end = [e.routed is QualityTier.high for e in index.episodes]
    assert r.episodes == 7 and len(index) == sum(
        len(e.latent_frames) if end else 12 if e.length == 40 else 10
        for e, end in zip(index.episodes, to_end, strict=True)
    )
    assert r.skipped == {"no latents for cameras ['head', 'third_person', 'wrist_right', 'wrist_left']": 1}
    assert (
        r.without_text == 1 and r.kinds == {"canonical": 5, "none": 2} and not r.demoted and index.text_dim == TEXT_DIM
    )
    assert {e.uid for e in index.episodes if e.text_path is None} == {"sim/arm/arm-5"}  # NO_TEXT_TASK's episode


def test_bad_latents_file_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "episode_000000.safetensors"
    save_file(
        {"latents": torch.zeros(2, 196, 384), "frame_index": torch.tensor([0, 3])},
        str(path),
        metadata={"format": "something-else"},
    )
    with pytest.raises(DataError, match=r"episode_000000\.safetensors: metadata format"):
        read_latents_header(path, MODEL, CorpusFiles(tmp_path))
    save_file(
        {"latents": torch.zeros(2, 100, 384), "frame_index": torch.tensor([0, 3])},
        str(path),
        metadata={"format": "eidata-latents-1"},
    )
    with pytest.raises(DataError, match=r"latents shape \(2, 100, 384\)"):
        read_latents_header(path, MODEL, CorpusFiles(tmp_path))


def test_empty_split_is_an_error(manifest: Path) -> None:
    with pytest.raises(DataError, match="no entries in split"):
        build_index(manifest, "nope", MODEL, DataConfig())  # type: ignore[arg-type]


def test_no_latents_refusal_names_the_command_that_writes_them(manifest: Path, tmp_path: Path) -> None:
    """Issue 59: the refusal named the cause ("no latents for cameras ...") but not what fixes it."""
    corpus = Path(shutil.copytree(manifest.parent.parent, tmp_path / "corpus"))
    gone = [p.unlink() for p in corpus.glob("datasets/*/*/latents/**/*.safetensors")]
    assert gone
    with pytest.raises(DataError) as e:
        build_index(corpus / "manifests" / manifest.name, "train", MODEL, DataConfig(num_workers=0))
    assert "no episode can give a sample" in str(e.value) and "no latents for cameras" in str(e.value)
    assert f"run `eidata latents {corpus} --model DIR` first" in str(e.value)
