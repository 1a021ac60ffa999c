"""Per-sample task routing (DESIGN.md section 4) on tensors: what each sample's task noises, gives clean or leaves
absent.

Every sample carries its own task id, drawn from its tier's routing row when the sample was read
(`training.dataset`), so a batch mixes tasks freely. The role tables below come from `schemas.tiers.TASK_SPECS`,
are looked up by task id, and every input and loss weight is selected row by row with `torch.where`: the batch is
never split into per-task pieces, so no tensor's rows can drift out of line with another's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from schemas.tiers import TASK_IDS, TASK_SPECS, QualityTier, RoutingTable, Task

NOISED, CLEAN, ABSENT = 0, 1, 2
_ROLE = {"noised": NOISED, "clean": CLEAN, "absent": ABSENT}
TASKS_BY_ID: list[Task] = sorted(TASK_IDS, key=TASK_IDS.__getitem__)
ACTION_ROLE = torch.tensor([_ROLE[TASK_SPECS[t].action] for t in TASKS_BY_ID])
FUTURE_ROLE = torch.tensor([_ROLE[TASK_SPECS[t].future_latents] for t in TASKS_BY_ID])
# Tasks that never see the future latent (policy): the only ones an anchor without a future latent can train.
NO_FUTURE = np.array([TASK_SPECS[t].future_latents == "absent" for t in TASKS_BY_ID])

# One diffusion time per sample is enough only because every task noises exactly one modality, and the loss is
# on that modality; the AdaLN time is then that modality's time.
for _t in Task:
    _spec = TASK_SPECS[_t]
    assert [_spec.action, _spec.future_latents].count("noised") == 1, f"{_t}: exactly one modality is noised"
    assert (_spec.loss == "action") == (_spec.action == "noised"), f"{_t}: the loss is on the noised modality"


@dataclass
class Routed:
    act_in: torch.Tensor  # [B, K, A] the chunk as the model sees it (zeros where absent)
    fut_in: torch.Tensor  # [B, P, C]
    act_absent: torch.Tensor  # [B] bool
    fut_absent: torch.Tensor  # [B] bool
    act_target: torch.Tensor  # [B, K, A] velocity: actions - noise
    fut_target: torch.Tensor  # [B, P, C]
    act_weight: torch.Tensor  # [B] 1.0 where the sample's loss is on the actions
    fut_weight: torch.Tensor  # [B] 1.0 where the sample's loss is on the future latents


def _mix(role: torch.Tensor, clean: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    shape = (-1,) + (1,) * (clean.dim() - 1)
    tb = t.view(shape).to(clean.dtype)
    noised = tb * clean + (1 - tb) * noise
    out = torch.where((role == NOISED).view(shape), noised, clean)
    return torch.where((role == ABSENT).view(shape), torch.zeros_like(clean), out)


def route(
    actions: torch.Tensor,
    future: torch.Tensor,
    task: torch.Tensor,
    t: torch.Tensor,
    act_noise: torch.Tensor,
    fut_noise: torch.Tensor,
    roles: tuple[torch.Tensor, torch.Tensor] = (ACTION_ROLE, FUTURE_ROLE),
) -> Routed:
    """Inputs, velocity targets and loss weights for a mixed-task batch; flow convention x_t = t x + (1 - t) noise.
    `roles`: the (action, future) role tables, best already on the batch's device (`LDAObjective` keeps them as
    buffers): a copy from the host's pageable memory each step synchronizes the GPU (tests/training/test_gpu.py,
    measured on an H100)."""
    act_role = roles[0].to(task.device)[task]  # no copy where the table is on the device already
    fut_role = roles[1].to(task.device)[task]
    return Routed(
        act_in=_mix(act_role, actions, act_noise, t),
        fut_in=_mix(fut_role, future, fut_noise, t),
        act_absent=act_role == ABSENT,
        fut_absent=fut_role == ABSENT,
        act_target=actions - act_noise,
        fut_target=future - fut_noise,
        act_weight=(act_role == NOISED).to(actions.dtype),
        fut_weight=(fut_role == NOISED).to(future.dtype),
    )


def routing_arrays(routing: RoutingTable) -> dict[str, np.ndarray]:
    """tier name -> probabilities over task ids (TASK_IDS order), for drawing tasks per sample."""
    rows = {
        QualityTier(tier).value: np.array([row.get(t, 0.0) for t in TASKS_BY_ID])
        for tier, row in routing.probabilities.items()
    }
    return {tier: p / p.sum() for tier, p in rows.items()}


def anchors_to_end(routing: RoutingTable, tier: QualityTier) -> bool:
    """Whether a tier's routing row gives any mass to a task without the future latent, so its episodes may anchor
    up to their last frame (the chunk's missing steps masked)."""
    return bool((routing_arrays(routing).get(tier.value, np.zeros(len(TASKS_BY_ID))) * NO_FUTURE).any())


def draw_task(probs: np.ndarray, rng: np.random.Generator) -> int:
    """One task id from a tier's probabilities (inverse CDF on one uniform draw, stable across numpy versions);
    rounding in the cumulative sum can never select a task of probability 0."""
    cdf = np.cumsum(probs)
    i = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
    return min(i, int(np.flatnonzero(probs)[-1]))
