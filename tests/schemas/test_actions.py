"""Which action an episode has (`schemas.actions`, issue 55): canonical, its robot's native command, or none."""

from __future__ import annotations

import numpy as np

from schemas.actions import ActionKind, action_kind, native_command_moves, routed_tier
from schemas.tiers import QualityTier

NO_DIM = np.zeros(50, dtype=bool)


def test_a_mask_that_fills_a_dim_is_canonical_whatever_the_natives() -> None:
    mask = NO_DIM.copy()
    mask[0] = True
    assert action_kind(mask, None) is ActionKind.canonical


def test_a_native_command_that_moves_is_the_action_of_a_robot_without_a_description() -> None:
    cmd = np.stack([np.linspace(0, 1, 12), np.zeros(12)], axis=1)  # one joint moves, the gripper holds
    assert action_kind(NO_DIM, cmd) is ActionKind.native


def test_a_constant_or_absent_command_is_no_action() -> None:
    assert action_kind(NO_DIM, None) is ActionKind.none
    assert action_kind(NO_DIM, np.full((12, 7), 0.3)) is ActionKind.none  # padding, or a command never given
    assert action_kind(NO_DIM, np.full((12, 0), 0.0)) is ActionKind.none
    assert not native_command_moves(np.full((12, 2), np.nan))


def test_only_the_frames_its_stream_has_count() -> None:
    """A column whose stream is absent holds its nearest sample there (`native_valid` 0): no motion of its own."""
    cmd = np.array([[0.0], [0.0], [5.0]])
    assert not native_command_moves(cmd, valid=np.array([[1.0], [1.0], [0.0]]))
    assert native_command_moves(cmd, valid=np.ones((3, 1)))


def test_an_episode_with_a_command_is_never_routed_as_actionless() -> None:
    high, low, none = QualityTier.high, QualityTier.low, QualityTier.actionless
    assert routed_tier("high", ActionKind.native) is high and routed_tier(low, ActionKind.native) is low
    assert routed_tier(high, ActionKind.canonical) is high
    assert routed_tier(high, ActionKind.none) is none and routed_tier(none, ActionKind.none) is none
