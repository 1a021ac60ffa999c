"""The canonical layout's limits: units and rest dims where `schemas.canonical` puts them, unmasked dims unused."""

from __future__ import annotations

import numpy as np

from ingest.canonical.limits import canonical_limits
from ingest.qa.state import state_behaviour
from schemas.behaviour import BehaviourConfig
from schemas.canonical import GRIPPER, WRIST_POS, hand_dims


def test_one_armed_gripper_robot() -> None:
    mask = np.zeros(50, bool)
    for part in (WRIST_POS, GRIPPER):
        mask[hand_dims(1, part)] = True  # the right hand only
    lim = canonical_limits(mask)
    assert lim.units[hand_dims(1, WRIST_POS)][0] == "m" and lim.resting[hand_dims(1, GRIPPER)].all()
    assert (lim.span[~mask] == 0).all()
    # a wrist moving 0.3 m in 3 s with a gripper shut for the whole episode (a push): no dead or saturated dim
    n = 30
    state = np.zeros((n, 50))
    state[:, hand_dims(1, WRIST_POS)] = np.linspace([0.4, 0.0, 0.2], [0.5, 0.3, 0.1], n)
    s = state_behaviour(state, 10.0, lim, BehaviourConfig())
    assert s.dead_dims == [] and s.saturated_dims == [] and abs(s.jump_m_s - 0.3 / 29 * 10) < 1e-9  # y, per step
