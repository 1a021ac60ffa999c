"""Training metrics (training/metrics.py) on inputs whose answers are known."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from schemas.tiers import TASK_IDS, Task
from training.metrics import JsonlLog, Meter, codebook_usage, collapse_warning, format_record
from training.objective import Losses


def test_codebook_usage_counts_codes_and_their_spread() -> None:
    usage = codebook_usage(torch.tensor([4.0, 4.0, 0.0, 0.0]))
    assert usage["lam_active_codes"] == 2 and math.isclose(usage["lam_perplexity"], 2.0, rel_tol=1e-6)
    assert codebook_usage(torch.zeros(4)) == {"lam_active_codes": None, "lam_perplexity": None}


def test_collapse_warning() -> None:
    assert "2 active codes" in (collapse_warning({"step": 3, "lam_active_codes": 2, "lam_z_std": 0.1}) or "")
    assert "z spread" in (collapse_warning({"step": 3, "lam_active_codes": 50, "lam_z_std": 1e-5}) or "")
    assert collapse_warning({"step": 3, "lam_active_codes": 50, "lam_z_std": 0.1}) is None
    assert collapse_warning({"step": 3, "lam_active_codes": None, "lam_z_std": None}) is None  # --lara off


def _losses(total: float, per_sample: list[float], codes: list[list[int]] | None, z: torch.Tensor | None) -> Losses:
    t = torch.tensor
    return Losses(
        total=t(total),
        action=t(total / 2),
        latent=t(total / 2),
        per_sample=t(per_sample),
        align=None,  # lara off: logged as 0
        lam=t(0.5),
        codes=None if codes is None else t(codes),
        z=z,
    )


def test_meter_averages_an_interval_as_computed_by_hand() -> None:
    z1 = torch.tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 8.0]])
    z2 = torch.tensor([[1.0, 1.0], [1.0, 1.0], [1.0, 4.0]])
    tasks = torch.tensor([TASK_IDS[Task.policy], TASK_IDS[Task.visual_forecasting], TASK_IDS[Task.policy]])
    meter = Meter(torch.device("cpu"), codes=6)
    meter.add(
        _losses(1.0, [0.5, 2.0, 1.5], [[0, 1], [1, 1], [5, 0]], z1), tasks, torch.ones(3, 4, dtype=torch.bool), 0.0
    )
    text = torch.tensor([[True, True, False, False]] * 3)
    meter.add(_losses(3.0, [1.0, 4.0, 0.0], [[1, 1], [1, 1], [1, 1]], z2), tasks, text, 0.0)
    r = meter.flush(world_size=1)
    assert r["loss"] == 2.0 and r["loss_action"] == 1.0 and r["loss_align"] == 0.0 and r["loss_lam"] == 0.5
    assert r["loss_task/policy"] == pytest.approx((0.5 + 1.5 + 1.0 + 0.0) / 4)
    assert r["loss_task/visual_forecasting"] == pytest.approx((2.0 + 4.0) / 2)
    assert r["loss_task/forward_dynamics"] is None and r["samples_task/forward_dynamics"] == 0
    assert r["samples_task/policy"] == 4 and r["text_tokens"] == pytest.approx((3 * 4 + 3 * 2) / 6)
    assert r["lam_active_codes"] == 3  # codes 0, 1 and 5 were chosen
    hist = np.bincount([0, 1, 1, 1, 5, 0, 1, 1, 1, 1, 1, 1], minlength=6) / 12
    p = hist[hist > 0]
    assert r["lam_perplexity"] == pytest.approx(math.exp(-(p * np.log(p)).sum()), rel=1e-6)
    z_std = np.mean([np.std(z.numpy(), axis=0, ddof=1).mean() for z in (z1, z2)])
    assert r["lam_z_std"] == pytest.approx(z_std, rel=1e-6)
    empty = meter.flush(world_size=1)  # a fresh interval after each flush
    assert empty["samples_task/policy"] == 0 and empty["lam_active_codes"] is None and empty["lam_z_std"] is None


def test_perplexity_of_known_distributions() -> None:
    assert codebook_usage(torch.tensor([5.0] * 16))["lam_perplexity"] == pytest.approx(16.0)
    assert codebook_usage(torch.tensor([2.0, 1.0, 1.0, 0.0]))["lam_perplexity"] == pytest.approx(2**1.5)  # H = 1.5 ln 2


def test_metrics_log_writes_null_for_non_finite_and_truncates_for_a_resume(tmp_path: Path) -> None:
    log = JsonlLog(tmp_path / "metrics.jsonl")
    for step in (1, 2, 3):
        log.append({"step": step, "loss": float("nan") if step == 2 else 1.0 / step, "mfu": float("inf")})
    with open(log.path, "a", encoding="utf-8") as f:
        f.write('{"step": 4, "lo')  # the torn last line of a killed run
    log.truncate_after(2)
    assert [json.loads(x) for x in log.path.read_text().splitlines()] == [
        {"step": 1, "loss": 1.0, "mfu": None},
        {"step": 2, "loss": None, "mfu": None},
    ]


def test_the_log_line_names_only_the_tasks_that_ran() -> None:
    record = {"step": 7, "lr": 1e-4, "loss": 1.0, "loss_action": 0.4, "loss_latent": 0.6, "samples_per_s": 12.0}
    record |= {"data_wait": 0.25, "mfu": None, "loss_task/policy": 0.5, "loss_task/forward_dynamics": None}
    line = format_record(record)
    assert "pol=0.5000" in line and "for=" not in line and "data_wait=25%" in line and "mfu" not in line
