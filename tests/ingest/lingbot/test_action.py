"""Canonical 50-dim actions -> LingBot-VA's 30 dims: known poses, scipy round trips, zero padding per embodiment."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from adapters.poses import se3
from ingest.frames import matrix_to_rot6d, pose_deltas
from ingest.lingbot.action import continuous_quaternions, lingbot_mask, to_lingbot_actions
from schemas.canonical import GRIPPER, WRIST_POS, WRIST_ROT6D, hand_dims
from schemas.lingbot import EEF_DIM, JOINTS_PER_ARM, LINGBOT_ACTION_NAMES, eef_dims, gripper_dim
from schemas.robots.registry import default_registry

LEFT, RIGHT = 0, 1


def joint_dims(hand: int) -> slice:
    base = 2 * EEF_DIM + hand * JOINTS_PER_ARM
    return slice(base, base + JOINTS_PER_ARM)


def _canonical(poses: dict[int, np.ndarray], grip: dict[int, np.ndarray] | None = None) -> tuple[np.ndarray, ...]:
    """(T,50) state and action as canonicalize builds them from per-hand (T,4,4) wrist poses and gripper openings."""
    n = len(next(iter(poses.values())))
    state, action = np.zeros((n, 50)), np.zeros((n, 50))
    for hand, p in poses.items():
        state[:, hand_dims(hand, WRIST_POS)] = p[:, :3, 3]
        state[:, hand_dims(hand, WRIST_ROT6D)] = matrix_to_rot6d(p[:, :3, :3])
        d9 = pose_deltas(p)
        action[:, hand_dims(hand, WRIST_POS)], action[:, hand_dims(hand, WRIST_ROT6D)] = d9[:, :3], d9[:, 3:]
    for hand, g in (grip or {}).items():
        state[:, hand_dims(hand, GRIPPER)] = g[:, None]
        action[:, hand_dims(hand, GRIPPER)] = np.r_[g[1:], g[-1:]][:, None]
    return state, action


def _mask(name: str) -> np.ndarray:
    return default_registry().get(name).mask()


def test_known_pose_gives_known_eef() -> None:
    """Wrist at (0.1, 0.2, 0.3) turned 90 deg about z, then moved 1 cm along x and turned 10 deg about x."""
    r0 = Rotation.from_euler("z", 90, degrees=True)
    r1 = r0 * Rotation.from_euler("x", 10, degrees=True)
    poses = np.stack([se3(r0.as_matrix(), [0.1, 0.2, 0.3]), se3(r1.as_matrix(), [0.11, 0.2, 0.3])])
    state, action = _canonical({RIGHT: poses}, {RIGHT: np.array([1.0, 0.25])})
    out = to_lingbot_actions(state, action, _mask("franka"))
    # action at t commands the pose at t+1; the last frame holds still
    np.testing.assert_allclose(out[0, eef_dims(RIGHT)], [0.11, 0.2, 0.3, *r1.as_quat()], atol=1e-6)
    np.testing.assert_allclose(out[1, eef_dims(RIGHT)], [0.11, 0.2, 0.3, *r1.as_quat()], atol=1e-6)
    still = to_lingbot_actions(*_canonical({RIGHT: poses[:1]}), _mask("franka"))  # one frame: holds its pose
    s45 = np.sqrt(0.5)  # a quarter turn about z is (0, 0, sin 45, cos 45)
    np.testing.assert_allclose(still[0, eef_dims(RIGHT)], [0.1, 0.2, 0.3, 0, 0, s45, s45], atol=1e-6)
    assert out[0, gripper_dim(RIGHT)] == pytest.approx(0.25) and out[1, gripper_dim(RIGHT)] == pytest.approx(0.25)
    assert out.dtype == np.float32 and out.shape == (2, 30)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 12))
def test_eef_round_trips_through_scipy(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    rots = Rotation.random(n, random_state=seed)
    poses = {hand: se3(rots.as_matrix(), rng.normal(size=(n, 3))) for hand in (LEFT, RIGHT)}
    state, action = _canonical(poses)
    out = to_lingbot_actions(state, action, _mask("agibot_gripper")).astype(np.float64)
    target = np.r_[np.arange(1, n), n - 1]  # the pose each action commands
    for hand in (LEFT, RIGHT):
        eef = out[:, eef_dims(hand)]
        np.testing.assert_allclose(eef[:, :3], poses[hand][target, :3, 3], atol=1e-5)
        np.testing.assert_allclose(np.linalg.norm(eef[:, 3:], axis=1), 1.0, atol=1e-6)
        back = Rotation.from_quat(eef[:, 3:]).as_matrix()  # scipy's default order is the layout's (x, y, z, w)
        np.testing.assert_allclose(back, poses[hand][target, :3, :3], atol=1e-5)
        assert np.all(np.sum(eef[1:, 3:] * eef[:-1, 3:], axis=1) >= 0)  # no q -> -q jumps
        assert eef[0, 6] >= 0


def test_one_armed_robot_fills_the_right_arm_and_zero_pads_the_rest() -> None:
    rng = np.random.default_rng(0)
    poses = {RIGHT: se3(Rotation.random(5, random_state=1).as_matrix(), rng.normal(size=(5, 3)))}
    state, action = _canonical(poses, {RIGHT: rng.uniform(size=5)})
    state[:, :25] = rng.normal(size=(5, 25))  # garbage in the masked-off left hand must not leak out
    action[:, :25] = rng.normal(size=(5, 25))
    out = to_lingbot_actions(state, action, _mask("franka"))
    m = lingbot_mask(_mask("franka"))
    assert np.all(out[:, ~m] == 0)
    assert m[eef_dims(RIGHT)].all() and m[gripper_dim(RIGHT)] and not m[eef_dims(LEFT)].any()
    assert not m[gripper_dim(LEFT)] and not m[joint_dims(LEFT)].any() and not m[joint_dims(RIGHT)].any()
    assert np.all(out[:, eef_dims(RIGHT)] != 0)


@pytest.mark.parametrize(
    ("embodiment", "real"),
    [
        ("agibot_gripper", {"left.eef", "right.eef", "left.gripper", "right.gripper"}),
        ("franka", {"right.eef", "right.gripper"}),
        ("agibot_dexterous", {"left.eef", "right.eef"}),  # fingertips have no gripper dim: zero
        ("human", {"left.eef", "right.eef"}),
        ("human_video", set()),
    ],
)
def test_mask_per_embodiment(embodiment: str, real: set[str]) -> None:
    emb = default_registry().get(embodiment)
    mask = emb.mask() if embodiment != "human_video" else np.zeros(50, bool)
    names = [n for n, on in zip(LINGBOT_ACTION_NAMES, lingbot_mask(mask), strict=True) if on]
    assert {n.rsplit(".", 1)[0] if ".eef." in n else n for n in names} == real
    assert not any("joint" in n for n in names)


def test_quaternion_signs_are_continuous_and_keep_the_rotation() -> None:
    angles = np.linspace(0, 2 * np.pi, 40)  # a full turn: w changes sign half way
    q = Rotation.from_euler("z", angles[:, None]).as_quat()
    q[q[:, 3] < 0] *= -1  # what a w >= 0 convention gives: a jump at 180 deg
    c = continuous_quaternions(q)
    assert np.all(np.sum(c[1:] * c[:-1], axis=1) > 0)
    np.testing.assert_allclose(Rotation.from_quat(c).as_matrix(), Rotation.from_quat(q).as_matrix(), atol=1e-12)


def test_bad_input_is_refused() -> None:
    state, action = _canonical({RIGHT: np.stack([np.eye(4)] * 3)})
    state[1, hand_dims(RIGHT, WRIST_POS)] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        to_lingbot_actions(state, action, _mask("franka"))
    with pytest.raises(ValueError, match="50"):
        to_lingbot_actions(state[:, :30], action[:, :30], _mask("franka"))
    with pytest.raises(ValueError, match="mask"):
        lingbot_mask(np.ones(30))
