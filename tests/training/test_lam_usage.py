"""LAM codebook health (audit S5): usage metrics in metrics.jsonl, a collapse warning, and a tiny joint run that keeps
its codebook alive (before dead-code restarts it collapsed to 1-2 codes of 128 within 15 steps)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from tests.training.corpus import tiny_config
from training.metrics import codebook_usage, collapse_warning
from training.trainer import METRICS, train


def test_tiny_joint_run_keeps_more_than_8_active_codes(manifest: Path, tmp_path: Path) -> None:
    cfg = tiny_config(manifest, schedule_steps=20, log_every=5)
    train(cfg, tmp_path / "run", device="cpu")
    records = [json.loads(line) for line in (tmp_path / "run" / METRICS).read_text().splitlines()]
    assert [r["step"] for r in records] == [5, 10, 15, 20]
    for r in records[1:]:  # the first interval precedes any restart (restart_after = 5 idle steps)
        assert r["lam_active_codes"] > 8, r
        assert r["lam_perplexity"] > 8, r
        assert r["lam_z_std"] > 1e-3, r


def test_codebook_usage_counts_codes_and_their_spread() -> None:
    usage = codebook_usage(torch.tensor([4.0, 4.0, 0.0, 0.0]))
    assert usage["lam_active_codes"] == 2 and math.isclose(usage["lam_perplexity"], 2.0, rel_tol=1e-6)
    assert codebook_usage(torch.zeros(4)) == {"lam_active_codes": None, "lam_perplexity": None}


def test_collapse_warning() -> None:
    assert "2 active codes" in (collapse_warning({"step": 3, "lam_active_codes": 2, "lam_z_std": 0.1}) or "")
    assert "z spread" in (collapse_warning({"step": 3, "lam_active_codes": 50, "lam_z_std": 1e-5}) or "")
    assert collapse_warning({"step": 3, "lam_active_codes": 50, "lam_z_std": 0.1}) is None
    assert collapse_warning({"step": 3, "lam_active_codes": None, "lam_z_std": None}) is None  # --lara off
