"""Open-loop eval of a checkpoint on the val split: per-tier and per-dataset numbers that mean what they say."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest
import torch

from tests.training.corpus import tiny_config
from training.checkpoint import load_checkpoint
from training.evaluate import OWN_SPLIT_STATS, TRAIN_STATS, evaluate, summarize
from training.normalize import NormStats
from training.trainer import train


@pytest.fixture(scope="module")
def checkpoint(manifest: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = train(tiny_config(manifest, schedule_steps=2), tmp_path_factory.mktemp("eval") / "run", device="cpu")
    assert result.checkpoint is not None
    return result.checkpoint


def test_eval_reports_per_tier(checkpoint: Path, manifest: Path) -> None:
    report = evaluate(checkpoint, manifest, "val", max_samples=24, batch_size=8)
    m = report["metrics"]
    assert report["step"] == 2 and report["inference_steps"] == 4 and report["samples"] == 24
    assert {"overall", "tier=high", "tier=low", "tier=actionless"} <= set(m)
    assert "datasets/sim/arm [high]" in m and "datasets/ego/video [actionless]" in m
    assert m["tier=actionless"]["action_samples"] == 0 and m["tier=actionless"]["l1"] is None
    for tier in ("high", "low"):
        row = m[f"tier={tier}"]
        assert row["action_samples"] == row["samples"] > 0
        assert row["l1"] > 0 and row["mse"] > 0 and row["l1_raw"] > 0
    assert sum(m[f"tier={t}"]["samples"] for t in ("high", "low", "actionless")) == m["overall"]["samples"]
    for row in m.values():
        assert -1 <= row["latent_cos"] <= 1 and -1 <= row["latent_cos_copy"] <= 1


def test_eval_says_which_statistics_normalized_each_dataset(
    checkpoint: Path, manifest: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The run's training statistics where the run has them; a dataset the run never trained on is normalized with its
    own split's statistics, and the report and a warning say so (audit S11)."""
    report = evaluate(checkpoint, manifest, "val", max_samples=8, batch_size=8)
    assert report["normalization"] == {"datasets/sim/arm": TRAIN_STATS, "datasets/ego/video": TRAIN_STATS}
    state = dict(load_checkpoint(checkpoint))
    stats = NormStats.model_validate_json(state["norm_stats"])
    unseen = NormStats(datasets={k: v for k, v in stats.datasets.items() if k != "datasets/ego/video"})
    state["norm_stats"] = unseen.model_dump_json()
    trimmed = tmp_path / "unseen_ego.pt"
    torch.save(state, trimmed)
    with caplog.at_level(logging.WARNING, logger="training.evaluate"):
        report = evaluate(trimmed, manifest, "val", max_samples=8, batch_size=8)
    assert report["normalization"] == {"datasets/sim/arm": TRAIN_STATS, "datasets/ego/video": OWN_SPLIT_STATS}
    assert any("unseen in training" in r.message and "datasets/ego/video" in r.message for r in caplog.records)


def test_eval_is_deterministic(checkpoint: Path, manifest: Path) -> None:
    a = evaluate(checkpoint, manifest, "val", max_samples=8, batch_size=4)
    b = evaluate(checkpoint, manifest, "val", max_samples=8, batch_size=4)
    assert a["metrics"] == b["metrics"]


def test_summarize_means() -> None:
    rows = [
        {"dataset": "d", "tier": "high", "has_action": True, "l1": 1.0, "mse": 2.0, "l1_raw": 3.0,
         "latent_cos": 0.5, "latent_cos_copy": 0.1},
        {"dataset": "d", "tier": "high", "has_action": False, "l1": 9.0, "mse": 9.0, "l1_raw": 9.0,
         "latent_cos": 0.3, "latent_cos_copy": 0.3},
    ]  # fmt: skip
    s = summarize(rows)["tier=high"]
    assert s["l1"] == 1.0 and s["action_samples"] == 1 and math.isclose(s["latent_cos"], 0.4)
