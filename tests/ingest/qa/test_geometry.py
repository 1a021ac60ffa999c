"""Geometry QA: each invariant on constructed data whose answer is known physically, and `measure` end to end."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from adapters.poses import se3
from ingest.frames import matrix_to_rot6d, pose_deltas, rot6d_to_matrix
from ingest.qa.geometry import action_errors, approach_stats, hand_size, left_of_right, measure
from ingest.qa.projection import CameraView
from schemas.camera_model import PinholeCamera
from schemas.canonical import CANONICAL_DIM, GRIPPER, WRIST_POS, WRIST_ROT6D, hand_dims
from schemas.canonicalize import CanonicalizeSpec, ValidityConfig
from schemas.qa import APPROACH_BINS, QAConfig
from schemas.robots.registry import default_registry
from tests.fixtures.mano import template_keypoints

REG = default_registry()
FRANKA, HUMAN = REG.get("franka").mask(), REG.get("human").mask()
LIMITS = ValidityConfig().limits_for("franka")
CFG = QAConfig()
LENS = PinholeCamera(width=320, height=240, fx=200.0, fy=200.0, cx=160.0, cy=120.0)
# A camera at the reference origin looking along +x (the wearer's heading), OpenCV axes: x_cam = -y, y_cam = -z.
LOOK_FORWARD = np.array([[0.0, 0, 1], [-1, 0, 0], [0, -1, 0]])

# Rotations whose z axis (the approach axis) points down, sideways (+x) and up.
TOP_DOWN = np.diag([1.0, -1.0, -1.0])
SIDE = np.array([[0.0, 0, 1], [0, 1, 0], [-1, 0, 0]])
UP = np.eye(3)


def arm(n: int, rotation: np.ndarray = TOP_DOWN, speed: float = 0.1, gripper: float | np.ndarray = 0.5) -> np.ndarray:
    """A Franka right wrist moving along x at `speed` m/s (10 Hz) with a fixed rotation and gripper."""
    s = np.zeros((n, CANONICAL_DIM), dtype=np.float32)
    s[:, hand_dims(1, WRIST_POS)] = np.stack([0.4 + speed * np.arange(n) / 10, np.zeros(n), np.full(n, 0.3)], 1)
    s[:, hand_dims(1, WRIST_ROT6D)] = matrix_to_rot6d(rotation)
    s[:, hand_dims(1, GRIPPER)] = np.broadcast_to(gripper, (n,))[:, None]
    return s


def delta_action(state: np.ndarray, hands: tuple[int, ...] = (1,)) -> np.ndarray:
    """The canonical delta action of `state` (as canonicalize recomputes it) for the wrist dims of `hands`."""
    from ingest.frames import pos_rot6d_to_pose

    a = np.zeros_like(state)
    for h in hands:
        x9 = np.concatenate([state[:, hand_dims(h, WRIST_POS)], state[:, hand_dims(h, WRIST_ROT6D)]], axis=1)
        d9 = pose_deltas(pos_rot6d_to_pose(x9))
        a[:, hand_dims(h, WRIST_POS)], a[:, hand_dims(h, WRIST_ROT6D)] = d9[:, :3], d9[:, 3:]
    return a


# -- approach axis ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rotation", "expected", "bin_"),
    [(TOP_DOWN, (1.0, 0.0, 0.0), 0), (SIDE, (0.0, 1.0, 0.0), 9), (UP, (0.0, 0.0, 1.0), APPROACH_BINS - 1)],
)
def test_approach_axis_of_a_top_down_side_and_upward_gripper(rotation, expected, bin_) -> None:
    axes = rot6d_to_matrix(np.tile(matrix_to_rot6d(rotation), (5, 1)), bad_as_nan=True)[..., 2]
    np.testing.assert_allclose(axes, np.tile(rotation[:, 2], (5, 1)), atol=1e-12)
    down, side, up, hist = approach_stats(axes, 45.0)
    assert (down, side, up) == pytest.approx(expected)
    assert hist[bin_] == 5 and sum(hist) == 5


def test_approach_axis_is_nan_for_degenerate_rotations() -> None:
    axes = rot6d_to_matrix(np.array([[0.0] * 6, [np.nan] * 6, [1, 0, 0, 1, 0, 0]]), bad_as_nan=True)[..., 2]
    assert np.isnan(axes).all()
    assert approach_stats(axes, 45.0) is None


# -- kinematics, hands, gripper, action, left/right ---------------------------------------------------------------


def test_constant_speed_gives_flat_percentiles_and_zero_acceleration() -> None:
    rec = measure(
        arm(50, speed=0.5),
        delta_action(arm(50, speed=0.5)),
        np.zeros((50, 2, 21, 3)),
        FRANKA,
        limits=LIMITS,
        config=CFG,
    )
    assert rec.speed_p50 == pytest.approx(0.5, rel=1e-4) and rec.speed_p99 == pytest.approx(0.5, rel=1e-4)
    assert rec.acc_p99 == pytest.approx(0.0, abs=1e-3)  # float32 positions
    assert (rec.speed_limit, rec.acc_limit) == (1.7, 13.0)  # the Franka validity limits


def test_hand_length_of_a_human_hand_and_of_one_in_centimetres() -> None:
    hand = template_keypoints("right")  # middle chain 0.090 + 0.045 + 0.028 + 0.022 m
    kp = np.zeros((4, 2, 21, 3))
    kp[:, 1] = hand + np.array([0.3, 0.0, 0.0])
    tracked = np.array([[False, True]] * 4)
    length, cv = hand_size(kp, tracked)
    assert length == pytest.approx(0.185, abs=1e-4) and cv == pytest.approx(0.0, abs=1e-12)
    length_cm, _ = hand_size(kp * 100, tracked)  # centimetres taken as metres: a 18.5 m hand
    assert length_cm == pytest.approx(18.5, abs=1e-2)


def test_hand_length_ignores_finger_flexion() -> None:
    hand = template_keypoints("right")
    bent = hand.copy()
    bent[10:13] = hand[9] + (hand[10:13] - hand[9]) @ np.array([[0, 0, 1.0], [0, 1, 0], [-1, 0, 0]])  # middle 90 deg
    kp = np.stack([np.stack([np.zeros((21, 3)), hand]), np.stack([np.zeros((21, 3)), bent])])
    assert hand_size(kp, np.array([[False, True], [False, True]]))[0] == pytest.approx(0.185, abs=1e-4)


def test_a_skeleton_whose_bones_change_length_has_a_large_bone_cv() -> None:
    rng = np.random.default_rng(0)
    kp = np.zeros((20, 2, 21, 3))
    kp[:, 0] = rng.normal(scale=0.05, size=(20, 21, 3))
    assert hand_size(kp, np.array([[True, False]] * 20))[1] > 0.2


def test_action_that_reproduces_the_next_state_has_no_error() -> None:
    rot = np.stack([matrix_to_rot6d(np.eye(3)) for _ in range(30)])
    state = arm(30)
    state[:, hand_dims(1, WRIST_ROT6D)] = rot
    pos, ang = action_errors(state, delta_action(state), [1])
    assert pos.max() < 1e-6 and ang.max() < 1e-3


def test_action_that_does_not_reproduce_the_next_state_is_measured() -> None:
    state = arm(30, speed=0.2)  # 2 cm per step
    lagged = np.roll(delta_action(state), 1, axis=0)  # the previous step's delta: one step late
    lagged[:, hand_dims(1, WRIST_ROT6D)] = matrix_to_rot6d(np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]]))  # +90 x
    pos, ang = action_errors(state, lagged, [1])
    assert pos[1:].min() == pytest.approx(0.0, abs=1e-6)  # same speed: the position delta still fits
    assert ang.min() == pytest.approx(90.0)
    pos, _ = action_errors(state, 2 * delta_action(state), [1])  # deltas twice too long
    assert np.median(pos) == pytest.approx(0.02, rel=1e-4)


def test_left_wrist_on_the_left_and_swapped_hands() -> None:
    s = np.zeros((10, CANONICAL_DIM))
    s[:, hand_dims(0, WRIST_POS)] = [0.4, 0.2, 0.0]
    s[:, hand_dims(1, WRIST_POS)] = [0.4, -0.2, 0.0]
    assert left_of_right(s) == 1.0
    s[:4, hand_dims(0, WRIST_POS)], s[:4, hand_dims(1, WRIST_POS)] = [0.4, -0.2, 0.0], [0.4, 0.2, 0.0]
    assert left_of_right(s) == pytest.approx(0.6)


# -- measure -------------------------------------------------------------------------------------------------------


def test_measure_a_robot_episode() -> None:
    grip = np.linspace(0.0, 0.08, 40)  # a width in metres taken as a 0..1 opening
    state = arm(40, gripper=grip)
    rec = measure(state, delta_action(state), np.zeros((40, 2, 21, 3)), FRANKA, limits=LIMITS, config=CFG)
    assert rec.frames == 40 and rec.approach_down == 1.0 and rec.approach_hist[0] == 40
    assert (rec.gripper_min, rec.gripper_max) == pytest.approx((0.0, 0.08))
    assert rec.action_pos_err < 1e-6 and rec.action_rot_err < 1e-3
    # no camera, no keypoints, one hand: those invariants do not apply and are not stored
    assert set(rec.model_dump(exclude_none=True)).isdisjoint(
        {"hands_in_front", "hands_in_image", "hand_length", "left_of_right"}
    )


def test_measure_a_human_episode_with_a_camera() -> None:
    n = 12
    hand = template_keypoints("right")  # fingers pointing forward (+x), palm down
    kp = np.zeros((n, 2, 21, 3))
    kp[:, 0] = hand * np.array([1, -1, 1]) + np.array([0.3, 0.1, -0.1])  # the mirrored left hand, on the left
    kp[:, 1] = hand + np.array([0.3, -0.1, -0.1])
    s = np.zeros((n, CANONICAL_DIM))
    for h in (0, 1):
        s[:, hand_dims(h, WRIST_POS)] = kp[:, h, 0]
        s[:, hand_dims(h, WRIST_ROT6D)] = matrix_to_rot6d(TOP_DOWN)
    camera = CameraView(LENS, np.tile(se3(LOOK_FORWARD, np.zeros(3)), (n, 1, 1)))
    rec = measure(
        s,
        delta_action(s, (0, 1)),
        kp,
        HUMAN,
        limits=ValidityConfig().limits_for("human"),
        config=CFG,
        camera=camera,
    )
    assert (rec.hands_in_front, rec.hands_in_image, rec.left_of_right) == (1.0, 1.0, 1.0)
    assert (rec.hands_ahead, rec.hands_below_eyes) == (1.0, 1.0)  # 30 cm ahead of the wearer, 10 cm below the eyes
    assert rec.hand_length == pytest.approx(0.185, abs=1e-4) and rec.approach_down == 1.0
    turned = np.diag([-1.0, -1.0, 1.0])  # a heading turned around (x, y negated): what a wrong camera axis gives
    s_turned = s.copy()
    for h in (0, 1):
        s_turned[:, hand_dims(h, WRIST_POS)] = s[:, hand_dims(h, WRIST_POS)] @ turned
    rec = measure(
        s_turned,
        delta_action(s_turned, (0, 1)),
        kp @ turned,
        HUMAN,
        limits=ValidityConfig().limits_for("human"),
        config=CFG,
        camera=camera,
    )
    assert (rec.hands_ahead, rec.left_of_right, rec.hands_below_eyes) == (0.0, 0.0, 1.0)
    behind = CameraView(LENS, np.tile(se3(-LOOK_FORWARD @ np.diag([1, -1, 1.0]), np.zeros(3)), (n, 1, 1)))
    rec = measure(
        s,
        delta_action(s, (0, 1)),
        kp,
        HUMAN,
        limits=ValidityConfig().limits_for("human"),
        config=CFG,
        camera=behind,
    )
    assert rec.hands_in_front == 0.0  # the same hands seen by a camera looking backwards
    assert rec.hands_past_video is None  # not measured: the view was not given it


def test_measure_ignores_nan_frames() -> None:
    state = arm(20)
    state[5] = np.nan
    rec = measure(state, delta_action(arm(20)), np.zeros((20, 2, 21, 3)), FRANKA, limits=LIMITS, config=CFG)
    assert rec.approach_down == 1.0 and np.isfinite(rec.speed_p99) and np.isfinite(rec.action_pos_err)


def test_measure_leaves_a_hands_untracked_frames_out() -> None:
    """Frames 10..14 of the hand untracked and written as 0 (`hand_valid` False): no 4 m/s jump to the origin and
    back in its speeds, no zero rotation among its approach axes; read as values they would be both."""
    state, action = arm(40, speed=0.5), delta_action(arm(40, speed=0.5))
    state[10:15, hand_dims(1, slice(0, 25))] = action[10:15, hand_dims(1, slice(0, 25))] = 0.0
    valid = np.ones((40, 2), dtype=bool)
    valid[10:15, 1] = False
    kp = np.zeros((40, 2, 21, 3))
    rec = measure(state, action, kp, FRANKA, limits=LIMITS, config=CFG, hand_valid=valid)
    assert rec.speed_p99 == pytest.approx(0.5, rel=1e-4) and rec.approach_hist[0] == 35
    raw = measure(state, action, kp, FRANKA, limits=LIMITS, config=CFG)
    assert raw.speed_p99 > 3.0


# -- config ----------------------------------------------------------------------------------------------------------


def test_qa_config_validates_each_field() -> None:
    with pytest.raises(ValidationError, match="hand_length_m"):
        QAConfig(hand_length_m=(0.24, 0.14))
    with pytest.raises(ValidationError, match="min_in_front_fraction"):
        QAConfig(min_in_front_fraction=1.5)
    with pytest.raises(ValidationError, match="top_down_max_deg"):
        QAConfig(top_down_max_deg=90)
    with pytest.raises(ValidationError, match=r"qa\.max_speed_ratio"):
        CanonicalizeSpec.model_validate({"qa": {"max_speed_ratio": 0}})
    with pytest.raises(ValidationError, match=r"qa\.min_in_frnt_fraction"):
        CanonicalizeSpec.model_validate({"qa": {"min_in_frnt_fraction": 0.5}})
    assert CanonicalizeSpec.model_validate({"qa": {"min_in_image_fraction": 0.8}}).qa.min_in_image_fraction == 0.8
