"""Sampling weights per frame (issue 15 item 1): with equal weights every anchor is equally likely whatever its
episode's length, so sources are trained on in proportion to their hours; `weight_unit: episode` keeps the old
per-episode mass."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from adapters.storage.corpus_files import CorpusFiles
from schemas.actions import ActionKind, ActionSpace
from schemas.lerobot import InfoJson
from schemas.manifest import Manifest
from schemas.tiers import QualityTier
from training.actions import EpisodeAction
from training.dataset import StreamSampler
from training.episode_table import TIER_CODES, EpisodeTable
from training.episodes import SampleIndex
from training.index_build import anchors
from training.index_report import IndexReport

CHUNK, FUTURE = 16, 16


def _index(episodes: list[tuple[str, int, float]], stride: int, unit: str, balance: str = "none") -> SampleIndex:
    """An index of (uid, length, weight) episodes with latents every `stride` frames, by the real anchor rule."""
    per = [anchors(np.arange(0, length, stride), length, CHUNK, FUTURE) for _, length, _ in episodes]
    n = len(episodes)
    codes = np.zeros(n, np.int32)
    records = EpisodeTable(
        files=CorpusFiles(Path(".")),
        datasets=["d"],
        layouts=[InfoJson.model_construct(data_path="x", chunks_size=1000, total_episodes=n)],
        uid=pa.array([uid for uid, _, _ in episodes], pa.string()),
        dataset_id=codes,
        episode_index=np.arange(n, dtype=np.int64),
        tier=np.full(n, TIER_CODES.index(QualityTier.high), np.int8),
        routed=np.full(n, TIER_CODES.index(QualityTier.high), np.int8),
        weight=np.array([w for _, _, w in episodes], np.float64),
        length=np.array([length for _, length, _ in episodes], np.int64),
        action_id=codes,
        actions=[EpisodeAction(ActionKind.canonical, ActionSpace.canonical, np.ones(50, bool))],
        camera_id=codes.astype(np.int8),
        cameras=[("head", "observation.images.head")],
        frames_id=np.arange(n, dtype=np.int32),
        frames=[np.arange(0, length, stride) for _, length, _ in episodes],
        text_id=np.full(n, -1, np.int32),
        texts=[],
    )
    return SampleIndex(
        files=CorpusFiles(Path(".")),
        manifest=Manifest.model_construct(balance=balance, weight_unit=unit),
        split="train",
        datasets=["d"],
        episodes=records,
        sample_episode=np.concatenate([np.full(len(a), i) for i, (a, _) in enumerate(per)]).astype(np.int64),
        sample_anchor=np.concatenate([a for a, _ in per]).astype(np.int64),
        sample_future=np.concatenate([f for _, f in per]).astype(np.int64),
        text_dim=None,
        report=IndexReport(),
    )


def _draws(index: SampleIndex, n: int = 100_000) -> np.ndarray:
    sampler = StreamSampler(index.sample_weights(), seed=3)
    picks = np.array([sampler.draw(p)[0] for p in range(n)])
    return np.bincount(index.sample_episode[picks], minlength=len(index.episodes))


def _per_anchor(index: SampleIndex) -> np.ndarray:
    return _draws(index) / np.bincount(index.sample_episode)


def test_frame_unit_draws_every_anchor_equally_whatever_the_episode_length() -> None:
    per = _per_anchor(_index([("s/a/short", 40, 1.0), ("s/a/long", 400, 1.0)], stride=2, unit="frame"))
    assert per[0] / per[1] == pytest.approx(1.0, rel=0.05)  # per-episode mass gave 192/12 = 16


def test_episode_unit_keeps_the_per_episode_mass() -> None:
    index = _index([("s/a/short", 40, 1.0), ("s/a/long", 400, 1.0)], stride=2, unit="episode")
    assert _draws(index) / 100_000 == pytest.approx([0.5, 0.5], abs=0.01)


def test_source_shares_follow_the_hours_when_lengths_differ_tenfold() -> None:
    eps = [(f"short/x/{i}", 400, 1.0) for i in range(3)] + [(f"long/y/{i}", 4000, 1.0) for i in range(3)]
    index = _index(eps, stride=3, unit="frame")  # latents at ~3.3 Hz as DESIGN.md section 5 stores them
    draws = _draws(index)
    hours_short = 400 / 4400
    assert draws[:3].sum() / draws.sum() == pytest.approx(hours_short, rel=0.05)  # per episode: 0.5
    mass, frames = index.source_shares()["short"]
    assert frames == pytest.approx(hours_short) and mass == pytest.approx(hours_short, rel=0.05)


def test_balanced_groups_keep_their_total_weight_spread_over_their_frames() -> None:
    # curate's balance="source": equal total weight per source whatever their episode counts and lengths
    eps = [("a/x/0", 400, 1.5)] + [(f"b/y/{i}", 4000, 0.5) for i in range(2)] + [("b/z/0", 400, 0.5)]
    index = _index(eps, stride=2, unit="frame", balance="source")
    mass = np.bincount(index.sample_episode, weights=index.sample_weights())
    assert mass[0] / mass.sum() == pytest.approx(0.5)
    per = mass / np.bincount(index.sample_episode)
    assert per[1] == pytest.approx(per[3])  # one step uniformly within the source


def test_old_manifest_without_the_field_reads_as_frame(manifest: Path) -> None:
    raw = json.loads((manifest / "manifest.json").read_text())
    raw.pop("weight_unit", None)
    assert Manifest.model_validate(raw).weight_unit == "frame"
