"""Canonical 50-dim actions -> LingBot-VA's 30-dim dual-arm layout (`schemas.lingbot`).

Per hand (0 = left, 1 = right):
- EEF (7): the pose the action commands, i.e. the canonical wrist pose at t composed with the action's delta
  (`ingest.frames.apply_delta`; for canonical data that is the wrist pose at t+1, the last frame holding still), as
  position xyz and a unit quaternion (x, y, z, w). The quaternion's sign is kept continuous in time (the first frame
  has w >= 0; each next one takes the sign nearer to its predecessor), so a regression target never jumps from q to -q.
- joints (7): canonical data keeps no joint angles: zeros.
- gripper (1): the canonical gripper command (0 closed .. 1 open) where the embodiment has a gripper.
A part is filled only where the episode's 50-dim mask has all of its dims; everything else stays 0, and
`lingbot_mask` says which of the 30 dims are real.
"""

from __future__ import annotations

import numpy as np

from ingest.frames import apply_delta, matrix_to_quat_xyzw, pos_rot6d_to_pose
from schemas.canonical import CANONICAL_DIM, GRIPPER, HANDS, WRIST_POS, WRIST_ROT6D, hand_dims
from schemas.lingbot import LINGBOT_ACTION_DIM, eef_dims, gripper_dim


def _pose_dims(hand: int) -> np.ndarray:
    """The 9 canonical dims (wrist xyz + 6D rotation) of one hand, as indices."""
    return np.r_[hand_dims(hand, WRIST_POS), hand_dims(hand, WRIST_ROT6D)]


def _check_mask(mask: np.ndarray | list[int]) -> np.ndarray:
    m = np.asarray(mask, dtype=bool)
    if m.shape != (CANONICAL_DIM,):
        raise ValueError(f"canonical mask must have {CANONICAL_DIM} entries, got shape {m.shape}")
    return m


def has_eef(mask: np.ndarray, hand: int) -> bool:
    return bool(mask[_pose_dims(hand)].all())


def has_gripper(mask: np.ndarray, hand: int) -> bool:
    return bool(mask[hand_dims(hand, GRIPPER)].all())


def lingbot_mask(mask: np.ndarray | list[int]) -> np.ndarray:
    """Which of the 30 LingBot-VA dims carry real values for a canonical 50-dim mask (joints never do)."""
    m = _check_mask(mask)
    out = np.zeros(LINGBOT_ACTION_DIM, dtype=bool)
    for hand in range(len(HANDS)):
        out[eef_dims(hand)] = has_eef(m, hand)
        out[gripper_dim(hand)] = has_gripper(m, hand)
    return out


def continuous_quaternions(q: np.ndarray) -> np.ndarray:
    """(T, 4) unit quaternions -> the same rotations with signs chosen continuous in time, starting at w >= 0."""
    q = np.array(q, dtype=np.float64)
    if len(q) == 0:
        return q
    if q[0, 3] < 0:
        q[0] = -q[0]
    for t in range(1, len(q)):
        if np.dot(q[t], q[t - 1]) < 0:
            q[t] = -q[t]
    return q


def to_lingbot_actions(state: np.ndarray, action: np.ndarray, mask: np.ndarray | list[int]) -> np.ndarray:
    """(T, 50) canonical state and action + the 50-dim mask -> (T, 30) float32 LingBot-VA actions."""
    state = np.asarray(state, dtype=np.float64)
    action = np.asarray(action, dtype=np.float64)
    if state.ndim != 2 or state.shape[1] != CANONICAL_DIM or action.shape != state.shape:
        raise ValueError(f"state and action must both be (T, {CANONICAL_DIM}), got {state.shape} and {action.shape}")
    m = _check_mask(mask)
    out = np.zeros((len(state), LINGBOT_ACTION_DIM), dtype=np.float64)
    for hand in range(len(HANDS)):
        if has_eef(m, hand):
            dims = _pose_dims(hand)
            target = apply_delta(pos_rot6d_to_pose(state[:, dims]), action[:, dims])
            out[:, eef_dims(hand)] = np.concatenate(
                [target[:, :3, 3], continuous_quaternions(matrix_to_quat_xyzw(target[:, :3, :3]))], axis=1
            )
        if has_gripper(m, hand):
            out[:, gripper_dim(hand)] = action[:, hand_dims(hand, GRIPPER)][:, 0]
    if not np.isfinite(out).all():
        rows = np.flatnonzero(~np.isfinite(out).all(axis=1))
        raise ValueError(f"non-finite LingBot-VA action at frames {rows[:5].tolist()} (NaN in the canonical pose?)")
    return out.astype(np.float32)
