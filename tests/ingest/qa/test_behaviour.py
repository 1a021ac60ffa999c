"""One episode's behaviour record (`measure_episode`), on a real GR00T PickNPlace episode: the camera fields are the
worst over the cameras, NaN/Inf in the action count with the state's, tracking is measured only when action and
state pair dim by dim, and a camera longer than the state is cut to it (the planted defect classes themselves:
test_planted.py).

Action-to-state tracking: a follower lagging its leader tracks; an unrelated action does not.
"""

from __future__ import annotations

import numpy as np
import pytest

from ingest.canonical.limits import DimLimits
from ingest.qa.behaviour import measure_episode, tracking_behaviour, worst_camera
from ingest.qa.cameras import camera_behaviour
from schemas.behaviour import BehaviourConfig
from tests.ingest.qa import gr00t_sample as g

CFG = BehaviourConfig()


def test_camera_fields_are_the_worst_over_the_cameras() -> None:
    ep = g.episode(0)
    dark = ep.frames.copy()
    dark[: len(dark) // 3] = 0  # a third of one camera's frames black
    both = measure_episode(ep.state, ep.fps, g.limits(), CFG, cameras={"ego": ep.frames, "dark": dark})
    clean = measure_episode(ep.state, ep.fps, g.limits(), CFG, cameras={"ego": ep.frames})
    alone = measure_episode(ep.state, ep.fps, g.limits(), CFG, cameras={"dark": dark})
    assert both.cam_dark_fraction == alone.cam_dark_fraction >= 0.33 > clean.cam_dark_fraction
    assert both.state_frozen_s == clean.state_frozen_s and both.fingerprint == clean.fingerprint
    assert worst_camera([]) == {}
    moving = np.ones(len(ep.frames), bool)
    cams = [camera_behaviour(f, ep.fps, CFG, moving) for f in (ep.frames, dark)]
    assert worst_camera(cams)["cam_dark_fraction"] == max(c.dark_fraction for c in cams)


def test_nonfinite_action_values_count_with_the_states() -> None:
    ep = g.episode(1)
    state, action = ep.state.copy(), ep.action.copy()
    state[5, 0] = np.nan
    action[7, 1], action[9, 2] = np.inf, np.nan
    rec = measure_episode(state, ep.fps, g.limits(), CFG, action=action)
    assert rec.nonfinite == 3
    assert measure_episode(state, ep.fps, g.limits(), CFG).nonfinite == 1


def test_tracking_only_when_action_pairs_with_state() -> None:
    ep = g.episode(2)
    paired = measure_episode(ep.state, ep.fps, g.limits(), CFG, action=ep.action)
    assert paired.tracking_corr is not None and paired.tracking_lag_s is not None
    unpaired = measure_episode(ep.state, ep.fps, g.limits(), CFG, action=ep.action[:, :-1])
    assert unpaired.tracking_corr is None and unpaired.tracking_lag_s is None
    assert measure_episode(ep.state, ep.fps, g.limits(), CFG).tracking_corr is None


def test_a_camera_longer_than_the_state_is_cut_to_it() -> None:
    ep = g.episode(3)
    longer = np.concatenate([ep.frames, np.zeros_like(ep.frames[:40])])  # 40 black frames past the last state
    rec = measure_episode(ep.state, ep.fps, g.limits(), CFG, cameras={"ego": longer})
    same = measure_episode(ep.state, ep.fps, g.limits(), CFG, cameras={"ego": ep.frames})
    assert rec.cam_dark_fraction == same.cam_dark_fraction


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
