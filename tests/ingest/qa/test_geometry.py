"""Geometry QA: each invariant on constructed data whose answer is known physically, and `measure` end to end.

The hand projection check (`ingest/qa/geometry.py`): keypoints in front of the camera and inside its picture,
through whichever lens model the camera has (pinhole, Kannala-Brandt, FISHEYE624), and episodes flagged (tier low) when
their hands fall outside the picture or their hand samples run past the video.

Measured here, the figures of geometry.py's docstring: false positives on the real VITRA Ego4D episode and the
real HOT3D Aria and Quest 3 sequences (whose projected hands also land in the maker's own 2D hand boxes), and on the
HOT3D fixture through its FISHEYE624 lens: none flagged; recall on planted defects: hands shifted 1 m sideways,
VITRA's 1440x1080 intrinsics unscaled on the 480x368 mp4, a video cut to 18 of its 25 frames, HOT3D's 1408 px sensor
calibration on its 352 px stream, a wide-angle hand seen through a fisheye read as a pinhole: each flagged. Not
flagged, said: a wrong distortion coefficient that keeps the hands in the picture (HOT3D's k0 of the wrong sign: out
of the maker's boxes by 45 px on the real sequence, inside the picture).
"""

from __future__ import annotations

import copy
import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from adapters.aria import read_aria_calibration
from adapters.egovideo.intrinsics import parse_intrinsics
from adapters.hot3d.files import read_quest_calibration
from adapters.pickles import unpickle_npy
from adapters.poses import se3
from adapters.registry import get_adapter
from adapters.storage.location import locate
from adapters.synthetic.hot3d import write_hot3d
from ingest.episode import CanonicalEpisode
from ingest.frames import matrix_to_rot6d, pose_deltas, pose_to_pos_rot6d, rot6d_to_matrix
from ingest.qa.dataset import episode_verdicts
from ingest.qa.geometry import (
    CameraView,
    action_errors,
    approach_stats,
    hand_size,
    left_of_right,
    measure,
    view_fractions,
)
from schemas.camera_model import CameraModel, Fisheye624Camera, PinholeCamera
from schemas.canonical import CANONICAL_DIM, GRIPPER, WRIST_POS, WRIST_ROT6D, hand_dims
from schemas.canonicalize import CanonicalizeSpec, ValidityConfig
from schemas.qa import APPROACH_BINS, QAConfig, QARecord
from schemas.robots.registry import default_registry
from tests.fixtures.mano import template_keypoints
from tests.fixtures.offline import prepared
from tests.fixtures.writers.egovideo import BUILDAI_INTRINSICS
from tests.needs import tool_missing
from tests.realdata import realdata
from tests.schemas.test_camera_model import MAKER_TEST

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


PIN = PinholeCamera(width=320, height=240, fx=200.0, fy=200.0, cx=160.0, cy=120.0)
# A camera at the reference origin looking along +x (the wearer's heading), OpenCV axes: x_cam = -y, y_cam = -z.
FLAGS = {"qa_hands_in_image", "qa_hands_past_video"}
VITRA_EPISODE = "vitra_ego4d_example/annotations/Ego4D_03cc49c3-a7d1-445b-9a2a-545c4fae6843_ep_example.npy"


# -- hands in view, any lens ----------------------------------------------------------------------------------------


def test_points_in_front_and_inside_the_image() -> None:
    pts = np.array([[[0.0, 0.0, 0.5], [0.05, 0.05, 0.5]]])  # near the optical axis, 0.5 m ahead
    assert view_fractions(pts, np.ones((1, 2), bool), PIN) == (1.0, 1.0)


def test_a_hand_behind_the_camera_is_neither_in_front_nor_in_the_image() -> None:
    pts = np.array([[[0.0, 0.0, -0.5], [0.05, 0.05, -0.5]]])
    assert view_fractions(pts, np.ones((1, 2), bool), PIN) == (0.0, 0.0)


def test_a_hand_in_front_but_far_off_axis_projects_outside_the_image() -> None:
    pts = np.array([[[1.0, 0.0, 0.5], [1.1, 0.0, 0.5]]])  # u = 200 * 2 + 160 = 560 > 320
    assert view_fractions(pts, np.ones((1, 2), bool), PIN) == (1.0, 0.0)


def test_untracked_points_do_not_count() -> None:
    pts = np.array([[[0.0, 0.0, 0.5]], [[0.0, 0.0, -0.5]]])
    assert view_fractions(pts, np.array([[True], [False]]), PIN) == (1.0, 1.0)
    assert view_fractions(pts, np.zeros((2, 1), bool), PIN) == (None, None)


def test_a_hand_ahead_of_the_wearer_is_in_front_of_a_forward_looking_camera() -> None:
    camera = CameraView(PIN, se3(LOOK_FORWARD, np.zeros(3))[None])
    ahead = camera.points_in_camera(np.array([[[0.4, 0.0, -0.2]]]))  # 40 cm ahead, 20 cm below the eyes
    behind = camera.points_in_camera(np.array([[[-0.4, 0.0, -0.2]]]))
    np.testing.assert_allclose(ahead, [[[0.0, 0.2, 0.4]]], atol=1e-12)  # below = +y in OpenCV axes
    assert view_fractions(ahead, np.ones((1, 1), bool), PIN) == (1.0, 1.0)
    assert view_fractions(behind, np.ones((1, 1), bool), PIN) == (0.0, 0.0)


def test_camera_view_from_a_stored_trajectory_skips_degenerate_poses() -> None:
    traj = np.stack([pose_to_pos_rot6d(se3(LOOK_FORWARD, np.zeros(3))), np.zeros(9)])
    view = CameraView.from_trajectory(PIN, traj, 0.25)
    pts = view.points_in_camera(np.array([[[0.4, 0.0, -0.2]], [[0.4, 0.0, -0.2]]]))
    assert np.isfinite(pts[0]).all() and np.isnan(pts[1]).all()  # no pose, no point: `measure` skips that frame
    assert view.hands_past_video == 0.25


def _wide_hand(deg: float) -> np.ndarray:
    """(1, 21, 3) camera-frame points of a hand 0.4 m away, `deg` degrees to the right of the axis, 3 cm across."""
    a = np.radians(deg + np.linspace(-2.0, 2.0, 21))
    return 0.4 * np.stack([np.sin(a), np.zeros(21), np.cos(a)], axis=-1)[None]


@pytest.mark.parametrize(
    "fisheye",
    [
        parse_intrinsics(BUILDAI_INTRINSICS),  # Egocentric-10K's card: Kannala-Brandt, 456x256
        Fisheye624Camera.from_params(MAKER_TEST, 640, 480),  # projectaria_tools' own test parameters
    ],
    ids=["kannala_brandt", "fisheye624"],
)
def test_the_lens_model_decides_what_is_in_the_picture(fisheye: CameraModel) -> None:
    """A hand 60 degrees to the right is in a fisheye's picture; read through a pinhole of the same matrix (the
    coefficients dropped: a wrong fisheye model) it is not, and the episode is flagged."""
    pts, valid = _wide_hand(60.0), np.ones((1, 21), bool)
    assert view_fractions(pts, valid, fisheye) == (1.0, 1.0)
    pinhole = PinholeCamera.from_matrix(fisheye.K(), (fisheye.height, fisheye.width))
    assert view_fractions(pts, valid, pinhole) == (1.0, 0.0)
    rec = QARecord(hands_in_front=1.0, hands_in_image=0.0)
    assert {v.code for v in episode_verdicts(rec, QAConfig())} == {"qa_hands_in_image"}


# -- the real VITRA episode and its planted defects ------------------------------------------------------------------


def _judged(ep: CanonicalEpisode, keypoints: np.ndarray | None = None, lens: CameraModel | None = None):
    """(record, flag codes) of `ep` measured again with other keypoints or another lens."""
    assert ep.evidence is not None and ep.evidence.camera is not None
    cam = ep.evidence.camera
    view = CameraView.from_trajectory(lens or cam.lens, cam.trajectory, cam.hands_past_video)
    kp = ep.keypoints if keypoints is None else keypoints
    rec = measure(ep.state, ep.action, kp, ep.mask, limits=ep.evidence.limits, config=QAConfig(), camera=view)
    return rec, {v.code for v in episode_verdicts(rec, QAConfig())}


@pytest.fixture(scope="module")
def vitra_raw():
    adapter = get_adapter("vitra")
    (ref,) = adapter.discover(realdata("vitra_ego4d_example"))
    return adapter.read(ref)


@pytest.fixture(scope="module")
def vitra(vitra_raw) -> CanonicalEpisode:
    (ep,) = prepared(vitra_raw, CanonicalizeSpec())
    return ep


def test_the_real_vitra_episode_is_not_flagged(vitra: CanonicalEpisode) -> None:
    assert vitra.qa is not None and vitra.evidence is not None and vitra.evidence.camera is not None
    assert vitra.evidence.camera.lens.model == "pinhole" and vitra.evidence.camera.lens.width == 480
    assert (vitra.qa.hands_in_front, vitra.qa.hands_in_image, vitra.qa.hands_past_video) == (1.0, 1.0, 0.0)
    assert not {v.code for v in vitra.verdicts} & FLAGS and vitra.tier.value == "high"


def test_hands_shifted_out_of_view_are_flagged(vitra: CanonicalEpisode) -> None:
    shifted = vitra.keypoints + np.array([0.0, 1.0, 0.0], np.float32)  # 1 m to the wearer's left
    rec, flags = _judged(vitra, keypoints=shifted)
    assert rec.hands_in_image == 0.0 and flags == {"qa_hands_in_image"}


def test_intrinsics_of_another_resolution_are_flagged(vitra: CanonicalEpisode) -> None:
    """VITRA's K is for a 1440x1080 undistorted video; left unscaled on the 480x368 mp4 its principal point (720,
    540) lies outside the picture and the hands with it."""
    K = unpickle_npy(realdata(VITRA_EPISODE).read_bytes())["intrinsics"]
    rec, flags = _judged(vitra, lens=PinholeCamera.from_matrix(K, (368, 480)))
    assert rec.hands_in_image == 0.0 and flags == {"qa_hands_in_image"}


def test_hand_frames_past_the_end_of_the_video_are_flagged(vitra_raw) -> None:
    """The mp4 cut to its first 18 frames while the annotation runs to frame 24: the episode stops with the video
    (6 grid frames), 6 of the 25 hand samples lie past it, and the judging step lowers it to low saying so."""
    name, cam = next(iter(vitra_raw.cameras.items()))
    short = copy.copy(cam)
    short.timestamps = cam.timestamps[:18]
    (ep,) = prepared(dataclasses.replace(vitra_raw, cameras={name: short}), CanonicalizeSpec())
    assert ep.num_frames == 6 and ep.qa is not None and ep.qa.hands_past_video == pytest.approx(6 / 25)
    (flag,) = [v for v in ep.verdicts if v.code in FLAGS]
    assert flag.code == "qa_hands_past_video" and flag.tier.value == "low" and "24% of the hand samples" in flag.reason
    assert ep.tier.value == "low"


# -- HOT3D through its FISHEYE624 lens -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hot3d(tmp_path_factory: pytest.TempPathFactory) -> CanonicalEpisode:
    try:
        import projectaria_tools  # noqa: F401
    except ImportError:
        tool_missing("projectaria-tools", "make venv installs it (pip install --no-deps projectaria-tools==2.3.0)")
    fx = write_hot3d(Path(tmp_path_factory.mktemp("hot3d_view")) / "h", video=True)
    adapter = get_adapter("hot3d")
    seq = next(s for s in fx.good if s.headset == "Aria")
    (ep,) = prepared(adapter.read(next(r for r in adapter.discover(fx.root) if r.raw_id == seq.raw_id)))
    return ep


def test_hot3d_hands_through_the_fisheye_are_not_flagged_and_a_wrong_calibration_is(hot3d: CanonicalEpisode) -> None:
    assert hot3d.evidence is not None and hot3d.evidence.camera is not None
    lens = hot3d.evidence.camera.lens
    assert isinstance(lens, Fisheye624Camera) and (lens.width, lens.height) == (352, 352)
    assert (hot3d.qa.hands_in_image, hot3d.qa.hands_past_video) == (1.0, 0.0)
    assert not {v.code for v in hot3d.verdicts} & FLAGS
    # planted: the 1408 px sensor's calibration on the 352 px stream (focal length and principal point 4x)
    sensor = lens.model_construct(
        **{**lens.model_dump(), **{k: 4 * getattr(lens, k) for k in ("fx", "fy", "cx", "cy")}}
    )
    rec, flags = _judged(hot3d, lens=sensor)
    assert rec.hands_in_image == 0.0 and flags == {"qa_hands_in_image"}
    # said, not caught: k0 of the wrong sign moves these hands (12-21 degrees off axis) by pixels, not out of view
    flipped = lens.model_copy(update={"k0": -lens.k0})
    rec, flags = _judged(hot3d, lens=flipped)
    assert rec.hands_in_image == 1.0 and not flags


# -- HOT3D's real sequences: their hands through the real calibrations, against the maker's hand boxes ---------------

HOT3D = "hot3d_data_sample"
# sequence -> (the camera the ground truth poses, its stream in box2d_hands.csv, its picture's width and height): Aria
# camera-rgb at 1408 px (MPS calibrates the recorded stream), Quest 3 camera-slam-left at camera_models.json's size
HOT3D_CAMERAS = {
    "P0003_c701bd11": ("camera-rgb", "214-1", 1408, 1408),
    "P0002_273c2819": ("camera-slam-left", "1201-1", 1280, 1024),
}


@pytest.fixture(scope="module")
def hot3d_real() -> dict:
    """Sequence -> (the raw episode the adapter reads: UmeTrack hands, no video; its camera's lens from the sequence's
    calibration file; the maker's 2D hand boxes of that camera's stream by (hand, time stamp))."""
    adapter = get_adapter("hot3d")
    out = {}
    for ref in adapter.discover(realdata(HOT3D)):
        _, stream, w, h = HOT3D_CAMERAS[ref.raw_id]
        seq = realdata(f"{HOT3D}/{ref.raw_id}")
        quest = (seq / "camera_models.json").is_file()
        calib = (
            read_quest_calibration(locate(seq / "camera_models.json"))
            if quest
            else read_aria_calibration(locate(seq / "mps/slam/online_calibration.jsonl"))
        )
        boxes = {}
        with (seq / "box2d_hands.csv").open() as f:
            for row in csv.DictReader(f):
                if row["stream_id"] == stream and row["x_min[pixel]"]:
                    keys = ("x_min[pixel]", "x_max[pixel]", "y_min[pixel]", "y_max[pixel]")
                    boxes[(int(row["hand_index"]), int(row["timestamp[ns]"]))] = [float(row[k]) for k in keys]
        out[ref.raw_id] = (adapter.read(ref), calib.lens(w, h), boxes)
    return out


def _box_check(raw, label: str, boxes: dict, lens: CameraModel) -> tuple[int, float, float, float]:
    """(frames compared, in the image, smallest IoU, largest overhang in px) of a sequence's hands projected through
    `lens` at the camera's pose: each frame's keypoints' bounding box against the maker's box at the same stamp."""
    cam, t0 = raw.camera_poses[label], raw.metadata["start_timestamp_ns"]
    ious, overhang, inside = [], [], []
    for hand, side in enumerate(("left", "right")):
        kp = raw.states[f"mano21_keypoints/{side}"]
        k_cam = np.searchsorted(cam.timestamps, kp.timestamps)
        assert np.array_equal(cam.timestamps[k_cam], kp.timestamps)  # hands and headset share the GT stamps
        pts = CameraView(lens, cam.values[k_cam]).points_in_camera(kp.values)
        inside.append(view_fractions(pts, np.ones(pts.shape[:2], bool), lens)[1])
        uv = lens.project(pts)
        for k, ns in enumerate(np.round(kp.timestamps * 1e9).astype(np.int64) + t0):
            if (b := boxes.get((hand, int(ns)))) is None:
                continue
            p = [uv[k, :, 0].min(), uv[k, :, 0].max(), uv[k, :, 1].min(), uv[k, :, 1].max()]
            inter = max(0, min(p[1], b[1]) - max(p[0], b[0])) * max(0, min(p[3], b[3]) - max(p[2], b[2]))
            ious.append(inter / ((p[1] - p[0]) * (p[3] - p[2]) + (b[1] - b[0]) * (b[3] - b[2]) - inter))
            overhang.append(max(b[0] - p[0], p[1] - b[1], b[2] - p[2], p[3] - b[3]))
    return len(ious), min(inside), min(ious), max(overhang)


@pytest.mark.parametrize(("raw_id", "frames"), [("P0003_c701bd11", 68), ("P0002_273c2819", 30)])
def test_real_hot3d_hands_through_their_fisheye_land_in_the_makers_boxes(hot3d_real, raw_id: str, frames: int) -> None:
    """Each real sequence's FISHEYE624 calibration (Aria camera-rgb, 15 values, 1408 px; Quest 3 camera-slam-left, 16
    values, 1280x1024) puts every hand's keypoints inside the picture (not flagged) and inside the maker's own hand box
    of that frame (IoU 0.6 at least: the maker's box is the hand mesh's, a little wider than its joints). Read as a
    pinhole of the same matrix they overhang the boxes by 21 px (Quest 3) to 56 px (Aria)."""
    raw, lens, boxes = hot3d_real[raw_id]
    label = HOT3D_CAMERAS[raw_id][0]
    n, in_image, iou, overhang = _box_check(raw, label, boxes, lens)
    assert (n, in_image) == (frames, 1.0) and iou > 0.6 and overhang < 1.0
    assert _box_check(raw, label, boxes, PinholeCamera.from_matrix(lens.K(), (lens.height, lens.width)))[3] > 20


def test_a_wrong_fisheye_coefficient_on_real_hot3d_leaves_the_boxes_not_the_picture(hot3d_real) -> None:
    """Planted on the real Aria sequence: k0 of the wrong sign puts its hands 45 px outside the maker's boxes (IoU
    0.05) yet inside the picture, so the in-picture check does not flag it (said in geometry.py)."""
    raw, lens, boxes = hot3d_real["P0003_c701bd11"]
    _, in_image, iou, overhang = _box_check(raw, "camera-rgb", boxes, lens.model_copy(update={"k0": -lens.k0}))
    assert in_image == 1.0 and iou < 0.1 and overhang > 40
