"""State checks on arrays whose answer is known by construction: a smooth two-joint arm in radians."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.canonical.limits import DimLimits
from ingest.qa.state import frozen_rows, state_behaviour
from schemas.behaviour import BehaviourConfig

CFG = BehaviourConfig()
FPS = 10.0


def arm(n: int = 200) -> tuple[np.ndarray, DimLimits]:
    t = np.arange(n) / FPS
    q = np.stack([0.5 * np.sin(0.5 * t), 0.3 * np.cos(0.7 * t) + 0.2, np.zeros(n)], axis=1)  # third dim unused
    return q, DimLimits(np.array([-1.0, -1.0, 0.0]), np.array([1.0, 1.0, 0.0]), ("rad", "rad", "rad"))


def test_smooth_arm_is_clean() -> None:
    q, lim = arm()
    s = state_behaviour(q, FPS, lim, CFG)
    assert (s.frozen_s, s.dead_dims, s.saturated_dims, s.nonfinite) == (0, [], [], 0)
    assert s.jump_sigma < 10 and s.jump_rad_s == pytest.approx(0.25, rel=0.05)  # peak speed 0.5 * 0.5 rad/s


def test_frozen_rows_only_mid_episode() -> None:
    q, _ = arm()
    q[50:70] = q[50]
    assert frozen_rows(q) == 20
    q2, _ = arm()
    q2[:30] = q2[0]  # settling at the start is idle, not a frozen recorder
    assert frozen_rows(q2) == 0


def test_unused_dim_is_not_dead_and_a_constant_used_one_is() -> None:
    q, lim = arm()
    q[:, 1] = 0.25
    assert state_behaviour(q, FPS, lim, CFG).dead_dims == [1]


def test_saturation_counts_the_limits_not_the_episode_extremes() -> None:
    q, lim = arm()
    q[:190, 0] = 1.0  # clamped at the upper limit, then leaves it
    q[190:, 0] = np.linspace(0.95, 0.5, 10)
    s = state_behaviour(q, FPS, lim, CFG)
    assert s.saturated_dims == [0] and s.saturated_fraction == 0.95
    rest = DimLimits(lim.lower, lim.upper, lim.units, np.array([True, False, False]))  # a finger resting open
    assert state_behaviour(q, FPS, rest, CFG).saturated_dims == []


def test_jump_measured_in_rad_s_sigmas_and_range() -> None:
    q, lim = arm()
    q[100, 1] += 0.5
    s = state_behaviour(q, FPS, lim, CFG)
    assert s.jump_rad_s == pytest.approx(5.0, rel=0.05) and s.jump_range_fraction == pytest.approx(0.25, abs=0.01)
    assert s.jump_sigma > CFG.jump_sigma_low and abs(s.jump_frame - 100) <= 1


def test_nan_counted_and_the_rest_still_measured() -> None:
    q, lim = arm()
    q[10:12, 0] = np.nan
    s = state_behaviour(q, FPS, lim, CFG)
    assert s.nonfinite == 2 and s.dead_dims == [] and np.isfinite(s.jump_sigma)
