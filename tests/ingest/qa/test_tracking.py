"""Action-to-state tracking: a follower lagging its leader tracks; an unrelated action does not."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.canonical.limits import DimLimits
from ingest.qa.tracking import tracking_behaviour
from schemas.behaviour import BehaviourConfig

CFG = BehaviourConfig()
LIM = DimLimits(np.array([-1.0, -1.0]), np.array([1.0, 1.0]), ("rad", "rad"))


def leader(n: int = 300, fps: float = 30.0) -> np.ndarray:
    t = np.arange(n) / fps
    return np.stack([0.6 * np.sin(1.3 * t), 0.4 * np.sin(0.7 * t + 1.0)], axis=1)


def test_lagging_follower_tracks_at_its_lag() -> None:
    action = leader()
    state = np.vstack([np.repeat(action[:1], 6, axis=0), action[:-6]])  # 6 frames = 0.2 s behind
    tb = tracking_behaviour(action, state, 30.0, LIM, CFG)
    assert tb.worst_corr == pytest.approx(1.0, abs=1e-6) and tb.median_lag_s == pytest.approx(0.2)


def test_unrelated_action_does_not_track() -> None:
    state = leader()
    action = state[::-1].copy()
    tb = tracking_behaviour(action, state, 30.0, LIM, CFG)
    assert tb.worst_corr < CFG.tracking_corr_low
