"""Episode ends and starts (issue 15 item 6, training audit S7/S12): policy anchors reach the last frame with the
chunk's missing steps masked out of the loss, tasks that use the future latent anchor only where one exists, and
history before the episode start is flagged as padding."""

from __future__ import annotations

import numpy as np
import torch

from schemas.tiers import QualityTier, Task
from tests.training.conftest import MODEL
from tests.training.helpers import batch_with_tasks, objective
from training.config import DataConfig
from training.dataset import ManifestDataset
from training.episodes import SampleIndex
from training.index_build import anchors
from training.routing import NO_FUTURE, TASKS_BY_ID

CHUNK, FUTURE = MODEL.chunk, DataConfig().future_offset


def test_policy_anchors_reach_the_last_latent_frame() -> None:
    frames = np.arange(0, 60, 3)  # a 6 s episode at 10 Hz, latents at ~3 Hz
    a, f = anchors(frames, 60, CHUNK, FUTURE, to_end=True)
    assert frames[a].tolist() == frames.tolist()  # t >= 44 included, up to the last latent frame 57
    t = frames[a]
    has = (t + CHUNK <= 60) & (t + FUTURE <= frames[-1])
    assert (f >= 0).tolist() == has.tolist()
    assert (frames[f[has]] >= t[has] + FUTURE).all()
    old_a, old_f = anchors(frames, 60, CHUNK, FUTURE)  # tasks with the future latent: as before
    assert frames[old_a].max() == 39 and (old_f >= 0).all()


def test_future_tasks_never_anchor_without_a_future(index: SampleIndex, dataset: ManifestDataset) -> None:
    none = index.sample_future < 0
    assert none.any()  # the end of every policy episode is a sample
    for i in range(len(index)):
        ep = index.episodes[int(index.sample_episode[i])]
        t = int(ep.latent_frames[index.sample_anchor[i]])
        if none[i]:
            assert ep.tier is QualityTier.high and ep.action.canonical.any()  # only the high tier routes to policy
            continue
        assert t + CHUNK <= ep.length and int(ep.latent_frames[index.sample_future[i]]) >= t + FUTURE
    for i in np.flatnonzero(none)[:6]:
        for draw in range(20):
            s = dataset[(int(i), draw)]
            assert NO_FUTURE[int(s["task"])] and TASKS_BY_ID[int(s["task"])] is Task.policy
            assert float(s["future_mask"]) == 0.0
    s = dataset[(int(np.flatnonzero(~none)[0]), 0)]
    assert float(s["future_mask"]) == 1.0


def test_the_last_frame_is_a_policy_anchor_with_its_missing_steps_masked(
    index: SampleIndex, dataset: ManifestDataset
) -> None:
    e = next(j for j, ep in enumerate(index.episodes) if ep.tier is QualityTier.high and ep.action.canonical.any())
    ep = index.episodes[e]
    last = len(ep.latent_frames) - 1
    i = int(np.flatnonzero((index.sample_episode == e) & (index.sample_anchor == last))[0])
    s = dataset[(i, 0)]
    t = int(s["frame"])
    assert t == ep.latent_frames[-1] and t > ep.length - CHUNK
    inside = ep.length - t
    assert s["chunk_mask"].tolist() == [1.0] * inside + [0.0] * (CHUNK - inside)
    assert s["actions"].shape == (CHUNK, s["action_mask"].shape[0])


def test_padded_chunk_steps_give_no_loss_and_no_gradient() -> None:
    obj, cfg = objective(lara="joint")
    tasks = [Task.policy, Task.inverse_dynamics, Task.policy, Task.forward_dynamics]
    batch, noise = batch_with_tasks(cfg, tasks)
    batch["chunk_mask"][0, 5:] = 0.0
    batch["chunk_mask"][2, 1:] = 0.0
    base = obj(batch, noise)
    changed = dict(batch)
    changed["actions"] = batch["actions"].clone()
    changed["actions"][0, 5:] = 7.0
    changed["actions"][2, 1:] = torch.randn(CHUNK - 1, batch["actions"].shape[-1]) * 50
    after = obj(changed, noise)
    for name in ("total", "action", "per_sample", "align"):
        torch.testing.assert_close(getattr(after, name), getattr(base, name))
    assert base.per_sample[0] > 0 and base.per_sample[2] > 0  # the steps inside still train
    actions = batch["actions"].clone().requires_grad_(True)
    obj({**batch, "actions": actions}, noise).total.backward()
    assert actions.grad is not None
    assert torch.count_nonzero(actions.grad[0, 5:]) == 0 and torch.count_nonzero(actions.grad[2, 1:]) == 0
    assert torch.count_nonzero(actions.grad[0, :5]) > 0


def test_history_before_the_start_is_flagged_as_padding(index: SampleIndex, dataset: ManifestDataset) -> None:
    e = next(j for j, ep in enumerate(index.episodes) if ep.action.canonical.any())
    flags = {}
    for k in (0, 1, 3):
        i = int(np.flatnonzero((index.sample_episode == e) & (index.sample_anchor == k))[0])
        s = dataset[(i, 0)]
        flags[k] = s["hist_mask"].tolist()
    assert flags == {0: [0.0, 0.0], 1: [0.0, 1.0], 3: [1.0, 1.0]}
    # the model sees padding, not a zero action with mask 1: its input differs from a real all-zero history
    obj, cfg = objective(lara="off")
    batch, noise = batch_with_tasks(cfg, [Task.policy, Task.policy])
    batch["hist_actions"] = torch.zeros_like(batch["hist_actions"])
    real = obj(batch, noise).per_sample
    padded = obj({**batch, "hist_mask": torch.zeros_like(batch["hist_mask"])}, noise).per_sample
    assert not torch.allclose(real, padded)
