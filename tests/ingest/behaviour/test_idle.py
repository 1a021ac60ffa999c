"""Idle start and end: measured in seconds and trimmed to `idle_keep_s` of settling."""

from __future__ import annotations

import numpy as np

from ingest.behaviour.idle import idle_behaviour
from ingest.behaviour.state import DimLimits
from schemas.behaviour import BehaviourConfig

LIM = DimLimits(np.array([-1.0]), np.array([1.0]), ("rad",))


def test_idle_ends_measured_and_trimmed() -> None:
    move = np.linspace(0.0, 0.8, 50)
    q = np.concatenate([np.zeros(30), move, np.full(40, 0.8)])[:, None]
    idle = idle_behaviour(q, 10.0, LIM, BehaviourConfig(idle_keep_s=0.5))
    # tolerance 1% of the 2 rad range = 0.02 rad; the ramp steps 0.8 / 49 = 0.0163 rad: frame 32 (two steps in) is the
    # first past it, frame 77 (two steps before the end pose) the last
    assert (idle.idle_start_frames, idle.idle_end_frames) == (32, 119 - 77)
    assert (idle.trim_start, idle.trim_stop) == (32 - 5, 77 + 1 + 5)  # 0.5 s kept on each side
    assert idle.idle_fraction == (32 + 42) / 120
    default = idle_behaviour(q, 10.0, LIM, BehaviourConfig())  # 2 s kept by default
    assert (default.trim_start, default.trim_stop) == (32 - 20, 77 + 1 + 20)


def test_no_motion_is_all_idle_and_trim_off_keeps_everything() -> None:
    still = idle_behaviour(np.zeros((20, 1)), 10.0, LIM, BehaviourConfig())
    assert still.idle_fraction == 1.0
    q = np.concatenate([np.zeros(30), np.linspace(0, 0.8, 50)])[:, None]
    kept = idle_behaviour(q, 10.0, LIM, BehaviourConfig(idle_trim=False))
    assert (kept.trim_start, kept.trim_stop, kept.idle_start_s) == (0, 80, 3.2)
