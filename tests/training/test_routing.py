"""Per-sample routing: role tables, zero gradient on the head a task does not train, rows that stay aligned in a
mixed-task batch, and losses masked per sample and per action dim."""

from __future__ import annotations

import torch

from schemas.tiers import TASK_IDS, TASK_SPECS, Task
from tests.training.helpers import TASKS, batch_with_tasks, objective
from training.objective import chunk_loss
from training.routing import ABSENT, ACTION_ROLE, CLEAN, FUTURE_ROLE, NOISED, route


def action_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """`chunk_loss` with every step of the chunk inside the episode: [B, K, A] x2, [B, A] -> [B]."""
    return chunk_loss(pred, target, mask, torch.ones(pred.shape[:2]))


def test_role_tables_follow_the_task_specs() -> None:
    code = {"noised": NOISED, "clean": CLEAN, "absent": ABSENT}
    for task in Task:
        assert ACTION_ROLE[TASK_IDS[task]] == code[TASK_SPECS[task].action]
        assert FUTURE_ROLE[TASK_IDS[task]] == code[TASK_SPECS[task].future_latents]


def test_route_builds_each_row_from_its_own_task() -> None:
    g = torch.Generator().manual_seed(0)
    a, f = torch.randn(4, 16, 50, generator=g), torch.randn(4, 49, 384, generator=g)
    na, nf = torch.randn(4, 16, 50, generator=g), torch.randn(4, 49, 384, generator=g)
    t = torch.tensor([0.1, 0.3, 0.6, 0.9])
    task = torch.tensor([TASK_IDS[x] for x in TASKS])  # policy, forward, inverse, forecasting
    r = route(a, f, task, t, na, nf)
    for i, x in enumerate(TASKS):
        spec = TASK_SPECS[x]
        expect_a = {"noised": t[i] * a[i] + (1 - t[i]) * na[i], "clean": a[i], "absent": torch.zeros_like(a[i])}
        expect_f = {"noised": t[i] * f[i] + (1 - t[i]) * nf[i], "clean": f[i], "absent": torch.zeros_like(f[i])}
        torch.testing.assert_close(r.act_in[i], expect_a[spec.action])
        torch.testing.assert_close(r.fut_in[i], expect_f[spec.future_latents])
        assert bool(r.act_weight[i]) == (spec.loss == "action") and bool(r.fut_weight[i]) == (spec.loss == "obs")
    torch.testing.assert_close(r.act_target, a - na)


def _head_grads(obj, batch, noise):  # type: ignore[no-untyped-def]
    obj.zero_grad(set_to_none=False)
    obj(batch, noise).total.backward()
    act = torch.cat([p.grad.flatten() for p in obj.dit.action_head.parameters()])
    lat = torch.cat([p.grad.flatten() for p in obj.dit.latent_head.parameters()])
    return act, lat


def test_actionless_batch_puts_zero_gradient_on_the_action_head() -> None:
    obj, cfg = objective()
    act, lat = _head_grads(obj, *batch_with_tasks(cfg, [Task.visual_forecasting] * 4))
    assert torch.count_nonzero(act) == 0
    assert torch.count_nonzero(lat) > 0


def test_policy_batch_puts_zero_gradient_on_the_latent_head() -> None:
    obj, cfg = objective()
    act, lat = _head_grads(obj, *batch_with_tasks(cfg, [Task.policy] * 4))
    assert torch.count_nonzero(lat) == 0
    assert torch.count_nonzero(act) > 0


def test_mixed_batch_rows_match_samples_run_alone() -> None:
    """Each sample's loss in a mixed batch equals its loss computed alone: targets stay with their own inputs."""
    obj, cfg = objective(lara="off")
    tasks = [Task.policy, Task.visual_forecasting, Task.inverse_dynamics, Task.forward_dynamics] * 2
    batch, noise = batch_with_tasks(cfg, tasks)
    together = obj(batch, noise).per_sample
    for i in range(len(tasks)):
        one = {k: v[i : i + 1] for k, v in batch.items()}
        alone = obj(
            one, type(noise)(t=noise.t[i : i + 1], action=noise.action[i : i + 1], latent=noise.latent[i : i + 1])
        ).per_sample
        torch.testing.assert_close(together[i : i + 1], alone, atol=2e-5, rtol=1e-4)
    perm = torch.tensor([5, 2, 7, 0, 1, 6, 3, 4])
    shuffled = obj(
        {k: v[perm] for k, v in batch.items()},
        type(noise)(t=noise.t[perm], action=noise.action[perm], latent=noise.latent[perm]),
    )
    torch.testing.assert_close(shuffled.per_sample, together[perm], atol=2e-5, rtol=1e-4)


def test_action_loss_is_masked_per_dim_and_per_sample() -> None:
    g = torch.Generator().manual_seed(0)
    pred, target = torch.randn(2, 16, 50, generator=g), torch.randn(2, 16, 50, generator=g)
    mask = torch.zeros(2, 50)
    mask[0, 25:35] = 1  # a one-armed gripper
    base = action_loss(pred, target, mask)
    pred2 = pred.clone()
    pred2[0, :, :25] += 100.0  # a dim the embodiment does not have
    torch.testing.assert_close(action_loss(pred2, target, mask), base)
    expected0 = (pred[0, :, 25:35] - target[0, :, 25:35]).square().mean()
    torch.testing.assert_close(base[0], expected0)
    assert base[1] == 0  # a sample without any real dim contributes nothing (and no NaN)
