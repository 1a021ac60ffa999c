"""Per-block activation checkpointing: the blocks run again in the backward pass, and the loss and every gradient
are exactly those of the plain step."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from tests.training.corpus import tiny_config
from tests.training.helpers import TASKS, batch_with_tasks, objective
from training.checkpoint import load_checkpoint
from training.trainer import METRICS, train


def _step(checkpointing: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor], int]:
    obj, cfg = objective(lara="joint")
    obj.dit.checkpointing = checkpointing
    calls = [0]
    for block in obj.dit.blocks:
        block.register_forward_pre_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    batch, noise = batch_with_tasks(cfg, TASKS * 2)
    loss = obj(batch, noise).total
    loss.backward()
    return loss.detach(), {n: p.grad for n, p in obj.named_parameters() if p.grad is not None}, calls[0]


def test_checkpointed_step_has_the_same_loss_and_gradients() -> None:
    loss, grads, calls = _step(False)
    loss_ck, grads_ck, calls_ck = _step(True)
    assert calls == 2 and calls_ck == 4  # two blocks, each run again in the backward pass
    assert torch.equal(loss_ck, loss)
    assert grads_ck.keys() == grads.keys()
    assert all(torch.equal(grads_ck[n], g) for n, g in grads.items())


def test_no_recompute_without_gradients() -> None:
    obj, cfg = objective(lara="off")
    obj.dit.checkpointing = True
    batch, noise = batch_with_tasks(cfg, TASKS)
    with torch.no_grad():
        plain = obj(batch, noise).per_sample
    obj.dit.checkpointing = False
    with torch.no_grad():
        torch.testing.assert_close(obj(batch, noise).per_sample, plain, atol=0, rtol=0)


def test_trainer_checkpointing_trains_the_same_run(manifest: Path, tmp_path: Path) -> None:
    """`checkpointing` is a runtime choice: the run's losses and weights are those of the plain run."""
    for name, on in (("plain", False), ("ckpt", True)):
        train(tiny_config(manifest, lara="off", schedule_steps=2, checkpointing=on), tmp_path / name, device="cpu")
    plain, ckpt = (
        [json.loads(x)["loss"] for x in (tmp_path / n / METRICS).read_text().splitlines()] for n in ("plain", "ckpt")
    )
    assert plain == ckpt
    a, b = (load_checkpoint(tmp_path / n / "checkpoints/step_00000002.pt")["model"] for n in ("plain", "ckpt"))
    assert all(torch.equal(a[k], b[k]) for k in a)
