"""Training metrics (training/metrics.py) on inputs whose answers are known."""

from __future__ import annotations

import math

import torch

from training.metrics import codebook_usage, collapse_warning


def test_codebook_usage_counts_codes_and_their_spread() -> None:
    usage = codebook_usage(torch.tensor([4.0, 4.0, 0.0, 0.0]))
    assert usage["lam_active_codes"] == 2 and math.isclose(usage["lam_perplexity"], 2.0, rel_tol=1e-6)
    assert codebook_usage(torch.zeros(4)) == {"lam_active_codes": None, "lam_perplexity": None}


def test_collapse_warning() -> None:
    assert "2 active codes" in (collapse_warning({"step": 3, "lam_active_codes": 2, "lam_z_std": 0.1}) or "")
    assert "z spread" in (collapse_warning({"step": 3, "lam_active_codes": 50, "lam_z_std": 1e-5}) or "")
    assert collapse_warning({"step": 3, "lam_active_codes": 50, "lam_z_std": 0.1}) is None
    assert collapse_warning({"step": 3, "lam_active_codes": None, "lam_z_std": None}) is None  # --lara off
