"""The objective (training/objective.py) on a tiny random-weight model, CPU: the chunk loss against its definition,
each loss read only from the rows whose task trains it (tasks drawn from each tier's routing row), the total as the
sum of its weighted parts in every LARA mode, and noise drawn from the generator alone.

Flow matching: the time distribution, the Euler sampler, per-task loss bookkeeping.
"""

from __future__ import annotations

import pytest
import torch

from schemas.tiers import ALLOWED_TASKS, QualityTier, Task
from tests.training.helpers import batch_with_tasks, objective
from training.config import PRESETS, FlowConfig
from training.objective import chunk_loss, draw_noise, euler, per_task_sums, sample_time, weighted_mean


def test_chunk_loss_is_the_masked_mean_squared_error() -> None:
    g = torch.Generator().manual_seed(0)
    pred, target = torch.randn(3, 4, 5, generator=g), torch.randn(3, 4, 5, generator=g)
    action_mask = torch.tensor([[1, 1, 0, 1, 0], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1]]).float()
    chunk_mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1], [1, 0, 0, 0]]).float()
    got = chunk_loss(pred, target, action_mask, chunk_mask)
    for b in range(3):
        errors = [
            (pred[b, k, a].item() - target[b, k, a].item()) ** 2
            for k in range(4)
            for a in range(5)
            if action_mask[b, a] and chunk_mask[b, k]
        ]
        expected = sum(errors) / len(errors) if errors else 0.0  # nothing to learn: 0, never NaN
        assert got[b].item() == pytest.approx(expected, rel=1e-6, abs=1e-7), b


def _losses(tasks: list[Task], lara: str = "off", **change: torch.Tensor):  # type: ignore[no-untyped-def]
    obj, cfg = objective(lara=lara)
    batch, noise = batch_with_tasks(cfg, tasks)
    batch.update(change)
    with torch.no_grad():
        return obj(batch, noise), batch


@pytest.mark.parametrize("tier", [QualityTier.low, QualityTier.actionless])
def test_a_tier_without_a_policy_never_puts_a_loss_on_what_its_tasks_leave_out(tier: QualityTier) -> None:
    """Every task the tier may train, in one batch, then the same batch with its action chunks changed: the
    forecasting rows never see the chunk, and an actionless tier's actions (whatever they hold) reach no loss."""
    tasks = sorted(ALLOWED_TASKS[tier]) * 2
    assert Task.policy not in tasks
    base, batch = _losses(tasks)
    changed, _ = _losses(tasks, actions=batch["actions"] + 100.0)
    forecasting = [i for i, t in enumerate(tasks) if t is Task.visual_forecasting]
    assert torch.equal(changed.per_sample[forecasting], base.per_sample[forecasting])
    if tier is QualityTier.actionless:
        assert base.action.item() == 0.0 and torch.equal(changed.total, base.total)
    else:
        assert changed.action.item() != base.action.item()  # inverse dynamics predicts the (changed) chunk


def test_losses_read_only_the_rows_whose_task_trains_them() -> None:
    tasks = [Task.policy, Task.visual_forecasting, Task.policy, Task.visual_forecasting]
    base, batch = _losses(tasks)
    fut = batch["fut_latents"].clone()
    fut[[0, 2]] += 5.0  # the policy rows' future frames: no task of theirs reads them
    moved, _ = _losses(tasks, fut_latents=fut)
    assert torch.equal(moved.latent, base.latent) and torch.equal(moved.action, base.action)
    actions = batch["actions"].clone()
    actions[[1, 3]] += 5.0  # the forecasting rows' actions: absent for them
    moved, _ = _losses(tasks, actions=actions)
    assert torch.equal(moved.per_sample[[1, 3]], base.per_sample[[1, 3]])
    # the batch losses are the means over the rows each trains: rows 0, 2 for actions, rows 1, 3 for latents
    assert base.action.item() == pytest.approx(base.per_sample[[0, 2]].mean().item(), rel=1e-6)
    assert base.latent.item() == pytest.approx(base.per_sample[[1, 3]].mean().item(), rel=1e-6)


@pytest.mark.parametrize("lara", ["off", "joint", "frozen", "pretrain"])
def test_the_total_is_the_sum_of_its_weighted_parts(lara: str) -> None:
    obj, cfg = objective(lara=lara)
    batch, noise = batch_with_tasks(cfg, [Task.policy, Task.inverse_dynamics, Task.forward_dynamics, Task.policy])
    losses = obj(batch, noise)
    w = cfg.lara
    if lara == "off":
        assert losses.align is None and losses.lam is None and obj.lam is None
        expected = losses.action + losses.latent
    elif lara == "frozen":
        assert losses.lam is None and losses.align is not None
        expected = losses.action + losses.latent + w.align_weight * losses.align
    elif lara == "joint":
        assert losses.lam is not None and losses.align is not None
        expected = losses.action + losses.latent + w.align_weight * losses.align + w.lam_weight * losses.lam
    else:
        assert losses.action.item() == losses.latent.item() == 0.0 and losses.lam is not None
        expected = losses.lam
    torch.testing.assert_close(losses.total, expected)
    losses.total.backward()
    trained = {
        name.split(".")[0] for name, p in obj.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0
    }
    assert (
        trained
        == {"off": {"dit"}, "frozen": {"dit", "projector"}, "joint": {"dit", "lam", "projector"}, "pretrain": {"lam"}}[
            lara
        ]
    )


def test_noise_comes_from_the_generator_alone() -> None:
    model, flow = PRESETS["tiny"].model, FlowConfig()
    a = draw_noise(6, model, flow, torch.Generator().manual_seed(3))
    torch.manual_seed(123)  # the global RNG plays no part
    b = draw_noise(6, model, flow, torch.Generator().manual_seed(3))
    c = draw_noise(6, model, flow, torch.Generator().manual_seed(4))
    for x, y, z in ((a.t, b.t, c.t), (a.action, b.action, c.action), (a.latent, b.latent, c.latent)):
        assert torch.equal(x, y) and not torch.equal(x, z)
    assert a.action.shape == (6, model.chunk, model.action_dim) and a.latent.shape == (
        6,
        model.patches,
        model.latent_dim,
    )
    assert ((a.t >= 0) & (a.t <= 1)).all()


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
