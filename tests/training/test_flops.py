"""The analytic FLOP count against torch's FlopCounterMode, and the MFU formula."""

from __future__ import annotations

import pytest
from torch.utils.flop_counter import FlopCounterMode

from schemas.tiers import Task
from tests.fixtures.attention import forced_backend
from tests.fixtures.training import forward_per_sample
from tests.training.helpers import batch_with_tasks, objective
from training import flops
from training.config import PRESETS, ModelConfig

TEXT = 5  # batch_with_tasks: 5 text tokens, the first sample's cut to 3


TINY = PRESETS["tiny"].model
LDA_OPTIONS = {
    "per_block_adaln": TINY.model_copy(update={"per_block_adaln": True}),
    "channel_layout": TINY.model_copy(update={"image_layout": "channel", "image_registers": 4}),
}


@pytest.mark.parametrize(
    ("lara", "model"),
    [("off", None), ("joint", None), ("frozen", None), *(("off", m) for m in LDA_OPTIONS.values())],
    ids=["off", "joint", "frozen", *LDA_OPTIONS],
)
def test_forward_flops_match_the_counter(lara: str, model: ModelConfig | None) -> None:
    obj, cfg = objective(lara=lara, randomize=False, model=model)
    batch, noise = batch_with_tasks(cfg, [Task.policy, Task.visual_forecasting])
    batch["text_mask"][:] = True  # every text token real, as the analytic count assumes
    with forced_backend("reference"), FlopCounterMode(display=False) as counter:  # matmul attention is counted
        losses = obj(batch, noise)
    assert counter.get_total_flops() == pytest.approx(2 * forward_per_sample(cfg, TEXT), rel=1e-9)
    with forced_backend("reference"), FlopCounterMode(display=False) as back:
        losses.total.backward()
    total = counter.get_total_flops() + back.get_total_flops()
    assert total == pytest.approx(2 * flops.train_per_sample(cfg, TEXT), rel=0.1)  # backward ~ 2x forward


def test_mfu_formula() -> None:
    assert flops.mfu(1e12, 100.0, 1e15, 2) == pytest.approx(0.05)
    assert flops.mfu(1e12, 100.0, None, 1) is None


@pytest.mark.parametrize(
    ("name", "sms", "tflops"),
    [
        ("NVIDIA H100 80GB HBM3", 132, 989.4),  # SXM5
        ("NVIDIA H100 PCIe", 114, 756.5),
        ("NVIDIA H100 NVL", 132, 835.5),
        ("NVIDIA H100", 114, 756.5),  # a name that says neither: the PCIe card's SM count
        ("NVIDIA H100", 132, 989.4),
        ("NVIDIA H200", 132, 989.4),
        ("NVIDIA H200 NVL", 132, 835.5),
        ("NVIDIA H800", 132, 989.4),
        ("NVIDIA A100-SXM4-80GB", 108, 312.0),
        ("NVIDIA A100 80GB PCIe", 108, 312.0),
        ("NVIDIA H20", 78, 148.0),
        ("Some GPU", 10, None),
    ],
)
def test_peak_by_device_name(name: str, sms: int, tflops: float | None) -> None:
    peak = flops.peak_flops(name, sm_count=sms)
    assert peak == (None if tflops is None else pytest.approx(tflops * 1e12))
    assert flops.peak_flops(name, 100.0, sms) == 100e12  # --peak-tflops wins


def test_device_peak_on_cpu() -> None:
    assert flops.device_peak("cpu") is None and flops.device_peak("cpu", 50.0) == 50e12
