"""AdamW settings and the cosine schedule of the LDA report."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from tests.training.helpers import objective
from training.config import OptimConfig
from training.optim import build_optimizer, build_scheduler, cosine_lr


def test_cosine_from_lr_to_min_lr() -> None:
    cfg = OptimConfig()
    assert (cfg.lr, cfg.min_lr, cfg.weight_decay, cfg.betas) == (1e-4, 5e-7, 1e-5, (0.9, 0.95))
    assert cosine_lr(0, cfg, 100) == pytest.approx(1e-4)
    assert cosine_lr(50, cfg, 100) == pytest.approx((1e-4 + 5e-7) / 2)
    assert cosine_lr(100, cfg, 100) == pytest.approx(5e-7)
    assert cosine_lr(500, cfg, 100) == pytest.approx(5e-7)  # stays at the floor past the horizon
    warm = OptimConfig(warmup_steps=10)
    assert cosine_lr(0, warm, 100) == pytest.approx(1e-5) and cosine_lr(9, warm, 100) == pytest.approx(1e-4)
    assert cosine_lr(10 + 45, warm, 100) == pytest.approx(5e-7 + (1e-4 - 5e-7) * 0.5 * (1 + math.cos(math.pi / 2)))


def test_scheduler_drives_adamw() -> None:
    obj, _ = objective(lara="off", randomize=False)
    cfg = OptimConfig()
    opt = build_optimizer(obj, cfg)
    sched = build_scheduler(opt, cfg, total=10)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(1e-4) and opt.param_groups[0]["lr"] == pytest.approx(5e-7)
    assert all(a >= b for a, b in itertools.pairwise(lrs))
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 1e-5 and no_decay["weight_decay"] == 0.0
    assert all(p.ndim >= 2 for p in decay["params"]) and all(p.ndim < 2 for p in no_decay["params"])
    assert opt.defaults["betas"] == (0.9, 0.95) and opt.defaults["eps"] == 1e-8


def test_frozen_lam_is_not_optimized() -> None:
    obj, _ = objective(lara="frozen", randomize=False)
    opt = build_optimizer(obj, OptimConfig())
    optimized = {id(p) for g in opt.param_groups for p in g["params"]}
    assert obj.lam is not None and not any(id(p) in optimized for p in obj.lam.parameters())
    assert all(id(p) in optimized for p in obj.projector.parameters())  # type: ignore[union-attr]
    assert isinstance(opt, torch.optim.AdamW)
