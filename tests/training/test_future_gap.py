"""The gap between an anchor and its future latent is constant (audit S13): a sample that uses the future latent
anchors only where a latent frame sits exactly at the chunk's end, t + 16, as LDA's future observation is where its
chunk ends (`training.episodes.exact_future`). With latents at 3 Hz of a 10 Hz stream the first latent at or after
t + 16 is 16 or 17 frames on, a gap the model is not told."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from jobs.stages.latents import LatentsJob
from schemas.image_latents import latent_frame_indices
from schemas.tiers import QualityTier
from tests.training.conftest import MODEL
from training.config import DataConfig
from training.episodes import build_index
from training.index_build import anchors, exact_future

CHUNK, FUTURE = MODEL.chunk, DataConfig().future_offset


def three_hz(length: int) -> np.ndarray:
    """The frames `latents` stores at 3 Hz of a 10 fps stream: nearest to k / 3 s, ties up
    (schemas.image_latents.latent_frame_indices, repeated here as its own check)."""
    step = Fraction(10, 3)
    return np.array([int(k * step + Fraction(1, 2)) for k in range(int((length - 1) / step) + 1)], dtype=np.int64)


def test_the_default_future_is_the_chunks_end() -> None:
    assert FUTURE == CHUNK and exact_future(MODEL, DataConfig())
    # LAM pretraining pairs (LARA's stride 5) have no chunk to end on: first latent at or after t + 5
    assert not exact_future(MODEL, DataConfig(future_offset=5))


def test_anchor_to_future_is_exactly_16_frames_at_3_hz() -> None:
    frames = three_hz(120)
    assert frames[:7].tolist() == [0, 3, 7, 10, 13, 17, 20]
    a, f = anchors(frames, 120, CHUNK, FUTURE, exact=True)
    assert len(a) and (frames[f] - frames[a] == FUTURE).all()
    loose_a, loose_f = anchors(frames, 120, CHUNK, FUTURE)  # the old rule: first latent at or after t + 16
    assert set((frames[loose_f] - frames[loose_a]).tolist()) == {16, 17}
    assert set(a.tolist()) < set(loose_a.tolist())
    # policy anchors still reach the end; those without an exact future are policy-only (-1)
    a_end, f_end = anchors(frames, 120, CHUNK, FUTURE, to_end=True, exact=True)
    assert a_end.tolist() == list(range(len(frames)))
    has = f_end >= 0
    assert (frames[f_end[has]] - frames[a_end[has]] == FUTURE).all() and (~has).sum() > len(frames) // 2


def relatched(manifest: Path, out: Path, frames_of: Callable[[int], np.ndarray], rate_hz: float) -> Path:
    """A copy of the session corpus whose latents are stored at the frames `frames_of(length)` of each episode."""
    corpus = Path(shutil.copytree(manifest.parent.parent, out))
    for path in corpus.glob("datasets/**/*.safetensors"):
        with safe_open(str(path), framework="pt") as f:
            if "latents" not in set(f.keys()):  # a text-embedding file
                continue
            meta, lat, cls = f.metadata(), f.get_tensor("latents"), f.get_tensor("cls_registers")
            old = f.get_tensor("frame_index").numpy()
        frames = frames_of(int(old[-1]) + 2)  # the episode's length (latents every second frame, length even)
        rows = torch.from_numpy(np.minimum(np.arange(len(frames)), len(old) - 1))
        tensors = {
            "latents": lat[rows].contiguous(),
            "cls_registers": cls[rows].contiguous(),
            "frame_index": torch.from_numpy(frames),
        }
        save_file(tensors, str(path), metadata={**meta, "rate_hz": str(rate_hz)})
    return corpus


@pytest.fixture
def corpus_3hz(manifest: Path, tmp_path: Path) -> Path:
    """A copy of the session corpus whose latents are stored at 3 Hz (the latents default before issue 59)."""
    return relatched(manifest, tmp_path / "corpus", three_hz, 3.0)


def test_the_default_latents_rate_gives_every_anchor_its_future(
    manifest: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`eidata latents` at its default rate and `eidata train` at its default chunk fit each other (issue 59: the
    default 3 Hz left 567 of 1,081 anchors without their future): every anchor whose chunk's end is a frame of its
    episode has a latent frame exactly there."""
    rate = LatentsJob.model_fields["rate_hz"].default
    corpus = relatched(manifest, tmp_path / "corpus", lambda n: latent_frame_indices(n, 10.0, rate), rate)
    with caplog.at_level(logging.WARNING, logger="training.episodes"):
        index = build_index(corpus / "manifests/train_all", "train", MODEL, DataConfig(num_workers=0))
    assert index.report.inexact_future == 0 and not any("2.5 Hz" in r.message for r in caplog.records)
    fits = [
        ep.latent_frames[index.sample_anchor[i]] + FUTURE < ep.length
        for i in range(len(index))
        for ep in [index.episodes[int(index.sample_episode[i])]]
    ]
    assert sum(fits) > 0 and (index.sample_future[np.array(fits)] >= 0).all()


def test_every_future_sample_of_a_3_hz_corpus_is_16_frames_on(
    corpus_3hz: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="training.episodes"):
        index = build_index(corpus_3hz / "manifests/train_all", "train", MODEL, DataConfig(num_workers=0))
    assert any("5 or 2.5 Hz" in r.message for r in caplog.records)  # two in three anchors lost: said, with the fix
    has = index.sample_future >= 0
    assert has.any() and (~has).any()
    gaps = {
        int(ep.latent_frames[index.sample_future[i]] - ep.latent_frames[index.sample_anchor[i]])
        for i in np.flatnonzero(has)
        for ep in [index.episodes[int(index.sample_episode[i])]]
    }
    assert gaps == {FUTURE}
    assert index.report.inexact_future > 0 and "at the chunk's end" in index.report.summary()
    # episodes that route nothing to policy (low tier, actionless video) still give samples, all with a future
    future_only = [
        j for j, e in enumerate(index.episodes) if e.tier is not QualityTier.high or not e.action.canonical.any()
    ]
    assert future_only and all(has[index.sample_episode == j].all() for j in future_only)
