"""CUDA paths: bf16 autocast with the fused attention, float32 agreement with the CPU, the trainer on a GPU."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from schemas.tiers import Task
from tests.training.corpus import tiny_config
from tests.training.helpers import TASKS, batch_with_tasks, objective
from training.attention import backend_for, choose_backend, flash_available, pad_text
from training.dataset import to_device
from training.objective import Noise
from training.trainer import build_optimizer, train

pytestmark = pytest.mark.gpu


def _noise_to(noise: Noise, device: str) -> Noise:
    return Noise(t=noise.t.to(device), action=noise.action.to(device), latent=noise.latent.to(device))


def test_bf16_step_is_finite_and_uses_the_fused_backend() -> None:
    obj, cfg = objective()
    obj = obj.cuda()
    batch, noise = batch_with_tasks(cfg, TASKS * 2)
    with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
        losses = obj(to_device(batch, torch.device("cuda")), _noise_to(noise, "cuda"))
    losses.total.backward()
    assert torch.isfinite(losses.total)
    assert all(torch.isfinite(p.grad).all() for p in obj.parameters() if p.grad is not None)
    assert backend_for("cuda") == "sdpa"  # flash only when asked for (TrainConfig.attention)


def test_training_step_never_syncs_the_host() -> None:
    """Forward, backward, clipping and fused AdamW under `set_sync_debug_mode("error")`: any host sync raises."""
    obj, cfg = objective()
    obj = obj.cuda()
    opt = build_optimizer(obj, cfg.optim, fused=True)
    params = [p for p in obj.parameters() if p.requires_grad]
    batch, noise = batch_with_tasks(cfg, TASKS * 2)
    batch, noise = to_device(pad_text(batch, 64, 1024), torch.device("cuda")), _noise_to(noise, "cuda")
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(2):
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
                losses = obj(batch, noise)
            opt.zero_grad(set_to_none=True)
            losses.total.backward()
            torch.nn.utils.clip_grad_norm_(params, cfg.optim.grad_clip)
            opt.step()
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert torch.isfinite(losses.total)


@pytest.mark.parametrize("backend", ["sdpa", "flash"])
def test_cuda_step_traces_in_one_graph(backend: str) -> None:
    if backend == "flash" and not flash_available():
        pytest.skip("flash_attn is not installed")
    choose_backend("cuda", backend)
    try:
        obj, cfg = objective()
        batch, noise = batch_with_tasks(cfg, TASKS * 2)
        batch, noise = to_device(pad_text(batch, 64, 1024), torch.device("cuda")), _noise_to(noise, "cuda")
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
            explained = torch._dynamo.explain(obj.cuda())(batch, noise)
    finally:
        choose_backend("cuda", "auto")
    assert explained.graph_break_count == 0, [r.reason for r in explained.break_reasons]


def test_float32_on_cuda_matches_cpu() -> None:
    obj, cfg = objective(lara="off")
    batch, noise = batch_with_tasks(cfg, [Task.policy, Task.forward_dynamics, Task.visual_forecasting])
    cpu = obj(batch, noise).per_sample
    gpu = obj.cuda()(to_device(batch, torch.device("cuda")), _noise_to(noise, "cuda")).per_sample
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-3, rtol=1e-3)


def test_trainer_on_cuda(manifest: Path, tmp_path: Path) -> None:
    result = train(tiny_config(manifest, schedule_steps=2), tmp_path / "run", device="cuda")
    assert result.step == 2 and result.loss == result.loss
