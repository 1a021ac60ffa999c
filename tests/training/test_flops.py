"""The analytic FLOP count against torch's FlopCounterMode, and the MFU formula."""

from __future__ import annotations

import pytest
from torch.utils.flop_counter import FlopCounterMode

from schemas.tiers import Task
from tests.training.helpers import batch_with_tasks, objective
from training import flops
from training.attention import forced_backend

TEXT = 5  # batch_with_tasks: 5 text tokens, the first sample's cut to 3


@pytest.mark.parametrize("lara", ["off", "joint", "frozen"])
def test_forward_flops_match_the_counter(lara: str) -> None:
    obj, cfg = objective(lara=lara, randomize=False)
    batch, noise = batch_with_tasks(cfg, [Task.policy, Task.visual_forecasting])
    batch["text_mask"][:] = True  # every text token real, as the analytic count assumes
    with forced_backend("reference"), FlopCounterMode(display=False) as counter:  # matmul attention is counted
        losses = obj(batch, noise)
    assert counter.get_total_flops() == pytest.approx(2 * flops.forward_per_sample(cfg, TEXT), rel=1e-9)
    with forced_backend("reference"), FlopCounterMode(display=False) as back:
        losses.total.backward()
    total = counter.get_total_flops() + back.get_total_flops()
    assert total == pytest.approx(2 * flops.train_per_sample(cfg, TEXT), rel=0.1)  # backward ~ 2x forward


def test_mfu_formula_and_peaks() -> None:
    assert flops.mfu(1e12, 100.0, 1e15, 2) == pytest.approx(0.05)
    assert flops.mfu(1e12, 100.0, None, 1) is None
    assert flops.peak_flops("NVIDIA H200") == 989.4e12 and flops.peak_flops("NVIDIA A100-SXM4-80GB") == 312e12
    assert flops.peak_flops("Some GPU") is None and flops.peak_flops(None, 100.0) == 100e12
