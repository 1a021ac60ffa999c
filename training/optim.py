"""AdamW and the cosine learning-rate schedule of the LDA report (lr 1e-4 -> 5e-7, wd 1e-5, betas 0.9/0.95)."""

from __future__ import annotations

import math

import torch
from torch import nn

from training.config import OptimConfig


def cosine_lr(step: int, cfg: OptimConfig, total: int) -> float:
    """Linear warm-up to `lr`, then half a cosine down to `min_lr` at `total` steps, `min_lr` after."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
    return cfg.min_lr + (cfg.lr - cfg.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


def build_optimizer(model: nn.Module, cfg: OptimConfig, *, fused: bool = False) -> torch.optim.AdamW:
    """Weight decay on matrices only (biases and norm gains are not shrunk); frozen parameters are left out."""
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [
        {"params": [p for _, p in params if p.ndim >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for _, p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, fused=fused or None)


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: OptimConfig, total: int
) -> torch.optim.lr_scheduler.LRScheduler:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: cosine_lr(step, cfg, total) / cfg.lr)
