"""Flow matching: the time distribution, the Euler sampler, per-task loss bookkeeping."""

from __future__ import annotations

import torch

from training.config import FlowConfig
from training.flow import euler, per_task_sums, sample_time, weighted_mean


def test_time_is_shifted_beta() -> None:
    """t = (0.999 - u) / 0.999, u ~ Beta(1.5, 1): P(u <= x) = x^1.5, E[u] = 0.6."""
    cfg = FlowConfig()
    t = sample_time(200_000, cfg, torch.Generator().manual_seed(0), "cpu")
    u = cfg.s - cfg.s * t
    assert t.min() >= 0 and t.max() <= 1
    assert abs(float((u <= 0.5).float().mean()) - 0.5**1.5) < 0.005
    assert abs(float(t.mean()) - (0.999 - 0.6) / 0.999) < 0.005


def test_euler_follows_a_straight_path_exactly() -> None:
    g = torch.Generator().manual_seed(0)
    noise, data = torch.randn(3, 16, 50, generator=g), torch.randn(3, 16, 50, generator=g)
    out = euler(lambda x, t: data - noise, noise, steps=4)  # the flow-matching velocity of a straight path
    torch.testing.assert_close(out, data)


def test_euler_time_grid() -> None:
    """Four steps evaluate the velocity at t = 0, 1/4, 1/2, 3/4 (a left Riemann sum of dx/dt = t)."""
    seen: list[float] = []

    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        seen.append(float(t[0]))
        return t.view(-1, 1).expand_as(x)

    out = euler(velocity, torch.zeros(2, 1), steps=4)
    assert seen == [0.0, 0.25, 0.5, 0.75]
    torch.testing.assert_close(out, torch.full((2, 1), 0.375))


def test_per_task_sums_and_weighted_mean() -> None:
    values = torch.tensor([1.0, 2.0, 3.0, 4.0])
    task = torch.tensor([0, 2, 0, 3])
    sums, counts = per_task_sums(values, task, 4)
    assert sums.tolist() == [4.0, 0.0, 2.0, 4.0] and counts.tolist() == [2.0, 0.0, 1.0, 1.0]
    assert float(weighted_mean(values, torch.tensor([1.0, 0.0, 1.0, 0.0]))) == 2.0
    assert float(weighted_mean(values, torch.zeros(4))) == 0.0
