"""Flow matching: time sampling, masked per-sample losses, and the Euler sampler.

Convention (GR00T / LDA public code): x_t = t x + (1 - t) noise, so t = 1 is clean data; the network predicts the
velocity x - noise; sampling integrates from noise at t = 0 to t = 1 in a few Euler steps (4 by default).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from training.config import FlowConfig


def sample_time(n: int, cfg: FlowConfig, generator: torch.Generator, device: torch.device | str) -> torch.Tensor:
    """t = (s - u) / s with u ~ Beta(alpha, 1), drawn by inverse CDF (u = U^(1/alpha)), which takes a generator.

    alpha = 1.5 puts u near 1, i.e. t near 0: training sees mostly heavily noised inputs. The draws with u > s
    (0.15 % for s = 0.999) would give a t just below 0; they are clamped to pure noise, t = 0."""
    uniform = torch.rand(n, generator=generator, device=device)
    u = uniform.pow(1.0 / cfg.beta_alpha)
    return ((cfg.s - u) / cfg.s).clamp_min(0.0)


def latent_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample mean squared error over the future latent tokens: [B, P, C] x2 -> [B]."""
    return (pred.float() - target.float()).square().mean(dim=(1, 2))


def weighted_mean(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean of `values` over the samples whose weight is 1 (0 when none): the batch loss of one objective."""
    return (values * weights).sum() / weights.sum().clamp_min(1)


def per_task_sums(values: torch.Tensor, task: torch.Tensor, num_tasks: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of `values`, count) per task id, by scatter-add over the batch (for logging per-task losses)."""
    sums = torch.zeros(num_tasks, device=values.device).index_add_(0, task, values.detach().float())
    counts = torch.zeros(num_tasks, device=values.device).index_add_(0, task, torch.ones_like(values).float())
    return sums, counts


def euler(
    velocity: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], noise: torch.Tensor, steps: int
) -> torch.Tensor:
    """Integrate dx/dt = velocity(x, t) from t = 0 (x = noise) to t = 1 in `steps` equal Euler steps."""
    x, dt = noise, 1.0 / steps
    for i in range(steps):
        t = torch.full((x.shape[0],), i * dt, device=x.device, dtype=torch.float32)
        x = x + dt * velocity(x, t).to(x.dtype)
    return x
