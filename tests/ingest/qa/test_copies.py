"""`ingest.qa.copies.copy_check`: a copy is found whatever happened to it on the way (trimmed at either end,
re-gridded at another phase or from another rate, float16), and two different motions are not copies however alike
their shape; the residual is in units of each dim's scale. The real-data figures: benchmarks/duplicates_real.py."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.qa.copies import NOT_COMPARED, copy_check, scale_with_floor
from schemas.behaviour import BehaviourConfig

CFG = BehaviourConfig()


def reach(seed: int, seconds: float = 20.0, fps: float = 30.0) -> np.ndarray:
    """A smooth reach-and-return of four joints (rad), the same task with a seed's own path and timing."""
    rng = np.random.default_rng(seed)
    t = np.arange(0, seconds, 1 / fps)
    amp, speed, phase = rng.uniform(0.4, 1.0, 4), rng.uniform(0.25, 0.4, 4), rng.uniform(0, 0.5, 4)
    return amp * np.sin(2 * np.pi * speed * t[:, None] + phase) + 0.02 * np.sin(7 * t)[:, None]


def grid(x: np.ndarray, fps: float, start_s: float = 0.0) -> np.ndarray:
    """What our resampler makes of a source at `fps`: linear interpolation at 10 Hz from `start_s`."""
    t = np.arange(len(x)) / fps
    g = np.arange(start_s, t[-1] + 1e-9, 0.1)
    return np.stack([np.interp(g, t, x[:, d]) for d in range(x.shape[1])], axis=1)


SCALE = np.full(4, 2.0)


@pytest.mark.parametrize(
    "made",
    [
        lambda x: grid(x[11:], 30.0),  # trimmed 0.37 s at the start: another phase of the grid
        lambda x: grid(x[20:-45], 30.0),  # trimmed at both ends
        lambda x: grid(x[::2], 15.0),  # stored at 15 Hz
        lambda x: grid(x[1::3], 10.0, 0.0),  # stored at 10 Hz, shifted by a third of a frame
        lambda x: grid(x.astype(np.float16).astype(np.float64), 30.0),
    ],
)
def test_copies_are_found(made) -> None:
    x = reach(1)
    check = copy_check(grid(x, 30.0), made(x), SCALE, CFG)
    assert check.is_copy(CFG) and check.residual < CFG.copy_tolerance / 2, check


def test_repetitions_of_one_task_are_not_copies() -> None:
    a = grid(reach(1), 30.0)
    for seed in range(2, 8):
        check = copy_check(a, grid(reach(seed), 30.0), SCALE, CFG)
        assert not check.is_copy(CFG) and check.residual > 2 * CFG.copy_tolerance, (seed, check)


def test_a_small_part_in_common_is_not_a_copy() -> None:
    x = grid(reach(1, seconds=40.0), 30.0)
    check = copy_check(x, x[:100], SCALE, CFG)  # the first quarter: an exact prefix, but 100% of the shorter
    assert check.is_copy(CFG)
    spliced = np.concatenate([x[:100], grid(reach(5, seconds=30.0), 30.0)])  # a prefix, then another recording
    assert not copy_check(x, spliced, SCALE, CFG).is_copy(CFG)


def test_nothing_to_compare() -> None:
    x = grid(reach(1), 30.0)
    assert copy_check(x, x, np.zeros(4), CFG) == NOT_COMPARED
    assert not NOT_COMPARED.is_copy(CFG)


def test_scale_floor_keeps_a_resting_dim_from_deciding() -> None:
    assert np.allclose(scale_with_floor(np.array([1e-6, 0.5]), ("m", "other")), [0.01, 0.5])
    assert np.allclose(scale_with_floor(np.array([1e-4, 3.0])), [0.03, 3.0])
    x = grid(reach(1), 30.0)
    resting = np.random.default_rng(0).normal(0, 1e-5, (len(x), 1))  # a still finger's sensor noise
    a, b = np.hstack([x, resting]), np.hstack([x, -resting])
    assert copy_check(a, b, scale_with_floor(np.r_[SCALE, 4e-5]), CFG).is_copy(CFG)
