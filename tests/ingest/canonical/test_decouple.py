"""Properties of `ingest.canonical.decouple`: head motion must not appear as hand motion; the reference frame is as
documented."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from adapters.egodex.adapter import ARKIT_UP
from adapters.poses import se3
from ingest.canonical.decouple import (
    FORWARD_AXIS,
    OPENCV_FORWARD,
    OPENGL_FORWARD,
    as_opencv,
    decouple,
    gravity_aligned_frame,
)
from ingest.frames import IDENTITY_ROT6D, compose, is_rotation, pose_deltas, se3_inverse

settings.register_profile("decouple", max_examples=40, deadline=None)
settings.load_profile("decouple")

seeds = st.integers(0, 2**32 - 1)
ZERO_MOTION = np.array([0, 0, 0, *IDENTITY_ROT6D])
Z_UP = np.array([0.0, 0.0, 1.0])  # robot bases, ROS REP-103 worlds


def camera_frame_poses(world_from_poses: np.ndarray, world_from_camera: np.ndarray) -> np.ndarray:
    """Per-frame camera-relative poses `inv(world_from_camera_t) @ world_from_poses_t`: what a model sees WITHOUT
    decoupling (head motion leaks into hand motion). (T,4,4) or (T,K,4,4) in, same shape out."""
    cams = se3_inverse(world_from_camera)
    return compose(cams.reshape(len(cams), *([1] * (world_from_poses.ndim - 3)), 4, 4), world_from_poses)


def head_trajectory(rng: np.random.Generator, n: int) -> np.ndarray:
    """A wearer walking and looking around: translation plus yaw/pitch/roll, in ARKit world (+y up)."""
    t = np.linspace(0, 1, n)[:, None]
    angles = rng.uniform(-1.0, 1.0, 3) * np.sin(2 * np.pi * t * rng.uniform(0.5, 2.0, 3)) + rng.uniform(
        -np.pi, np.pi, 3
    )
    pos = np.array([0.0, 1.6, 0.0]) + t * rng.uniform(-1, 1, 3) + 0.05 * np.sin(9 * t)
    return se3(Rotation.from_euler("yxz", angles).as_matrix(), pos)


def hand_trajectory(rng: np.random.Generator, n: int, k: int = 2) -> np.ndarray:
    rotvec = np.cumsum(0.1 * rng.standard_normal((n, k, 3)), axis=0)
    pos = np.array([0.0, 1.2, -0.4]) + np.cumsum(0.02 * rng.standard_normal((n, k, 3)), axis=0)
    return se3(Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_matrix().reshape(n, k, 3, 3), pos)


@given(seeds, st.sampled_from([None, ARKIT_UP]))
def test_static_hand_filmed_by_a_moving_camera_has_zero_canonical_motion(seed: int, up: np.ndarray | None) -> None:
    rng = np.random.default_rng(seed)
    cams = head_trajectory(rng, 30)
    hand = np.broadcast_to(hand_trajectory(rng, 1)[0], (30, 2, 4, 4))  # both hands held still in the world
    ref_hands, ref_cams, _ = decouple(hand, cams, up)
    np.testing.assert_allclose(pose_deltas(ref_hands), np.broadcast_to(ZERO_MOTION, (30, 2, 9)), atol=1e-9)
    # without decoupling the head motion leaks into the hand: the same still hand appears to move
    leaked = pose_deltas(camera_frame_poses(hand, cams))
    assert np.abs(leaked[:-1, :, :3]).max() > 1e-3
    assert np.abs(leaked[:-1, :, 3:] - IDENTITY_ROT6D).max() > 1e-3
    # the camera trajectory is kept, and it is the part that moves
    assert np.abs(pose_deltas(ref_cams)[:-1] - ZERO_MOTION).max() > 1e-3


@given(seeds, st.sampled_from([None, ARKIT_UP]))
def test_moving_hand_moves_identically_up_to_the_fixed_reference(seed: int, up: np.ndarray | None) -> None:
    rng = np.random.default_rng(seed)
    cams, hands = head_trajectory(rng, 25), hand_trajectory(rng, 25)
    ref_hands, ref_cams, world_from_ref = decouple(hands, cams, up)
    G = se3_inverse(world_from_ref)
    np.testing.assert_allclose(ref_hands, compose(G, hands), atol=1e-10)
    np.testing.assert_allclose(ref_cams, compose(G, cams), atol=1e-10)
    d_world, d_ref = pose_deltas(hands), pose_deltas(ref_hands)
    np.testing.assert_allclose(d_ref[..., 3:], d_world[..., 3:], atol=1e-10)  # same wrist rotations
    np.testing.assert_allclose(d_ref[..., :3], d_world[..., :3] @ G[:3, :3].T, atol=1e-10)  # same path, rotated once


@given(seeds)
def test_later_head_motion_does_not_change_the_decoupled_hands(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cams_a, hands = head_trajectory(rng, 20), hand_trajectory(rng, 20)
    cams_b = head_trajectory(rng, 20)
    cams_b[0] = cams_a[0]  # same first camera pose, different head motion afterwards
    np.testing.assert_allclose(decouple(hands, cams_a, ARKIT_UP)[0], decouple(hands, cams_b, ARKIT_UP)[0], atol=1e-12)


@given(seeds, st.lists(st.floats(-1, 1), min_size=3, max_size=3).filter(lambda v: np.linalg.norm(v) > 0.1))
def test_gravity_aligned_frame_has_z_up_and_origin_at_camera0(seed: int, up: list[float]) -> None:
    cam0 = se3(Rotation.random(random_state=seed).as_matrix(), np.random.default_rng(seed).uniform(-3, 3, 3))
    ref = gravity_aligned_frame(cam0, np.array(up))
    up_unit = np.array(up) / np.linalg.norm(up)
    assert is_rotation(ref[:3, :3], atol=1e-9)
    np.testing.assert_allclose(ref[:3, 2], up_unit, atol=1e-9)
    np.testing.assert_allclose(ref[:3, 3], cam0[:3, 3], atol=1e-12)
    assert abs(ref[:3, 0] @ up_unit) < 1e-9  # heading is horizontal
    forward = cam0[:3, :3] @ OPENGL_FORWARD
    if np.linalg.norm(forward - (forward @ up_unit) * up_unit) > 1e-3:
        assert ref[:3, 0] @ forward > 0  # and points where the camera looks


def test_known_arkit_camera_pitched_down_and_yawed() -> None:
    # ARKit: camera looks along -z; yaw 90 deg about +y (looking towards world -x), then pitch 30 deg down
    R = Rotation.from_euler("YX", [np.pi / 2, -np.pi / 6]).as_matrix()
    cam0 = se3(R, [0.2, 1.5, -0.3])
    ref = gravity_aligned_frame(cam0, ARKIT_UP)
    np.testing.assert_allclose(ref[:3, :3], np.array([[-1.0, 0, 0], [0, 0, 1], [0, 1, 0]]).T, atol=1e-12)
    np.testing.assert_allclose(ref[:3, 3], [0.2, 1.5, -0.3])
    # a point 1 m ahead of the wearer at eye height is at +x in the reference frame
    ahead = np.array([0.2 - 1.0, 1.5, -0.3, 1.0])
    np.testing.assert_allclose((se3_inverse(ref) @ ahead)[:3], [1.0, 0.0, 0.0], atol=1e-12)


def test_without_up_the_reference_is_the_first_camera_frame() -> None:
    rng = np.random.default_rng(7)
    cams, hands = head_trajectory(rng, 10), hand_trajectory(rng, 10)
    ref_hands, ref_cams, world_from_ref = decouple(hands, cams)
    np.testing.assert_allclose(world_from_ref, cams[0])
    np.testing.assert_allclose(ref_cams[0], np.eye(4), atol=1e-12)
    np.testing.assert_allclose(ref_hands[0], camera_frame_poses(hands, cams)[0], atol=1e-12)


def test_camera_looking_straight_down_still_gives_a_valid_frame() -> None:
    cam0 = se3(Rotation.from_euler("X", -np.pi / 2).as_matrix(), [0, 1.4, 0])  # ARKit camera -z points down
    ref = gravity_aligned_frame(cam0, ARKIT_UP)
    assert is_rotation(ref[:3, :3], atol=1e-9)
    np.testing.assert_allclose(ref[:3, 2], ARKIT_UP, atol=1e-12)


def test_opencv_forward_axis_gives_the_same_frame_for_the_same_physical_camera() -> None:
    R_gl = Rotation.random(random_state=11).as_matrix()
    cam_gl = se3(R_gl, [1.0, 2.0, 3.0])
    cam_cv = se3(R_gl @ np.diag([1.0, -1.0, -1.0]), [1.0, 2.0, 3.0])  # OpenCV axes: y down, z forward
    np.testing.assert_allclose(
        gravity_aligned_frame(cam_gl, Z_UP, OPENGL_FORWARD), gravity_aligned_frame(cam_cv, Z_UP, OPENCV_FORWARD)
    )


def _opencv_camera_looking_at(target: np.ndarray, eye: np.ndarray) -> np.ndarray:
    """world_from_camera (ARKit world, +y up) of an OpenCV camera (x right, y down, +z forward) at `eye`."""
    z = (target - eye) / np.linalg.norm(target - eye)
    x = np.cross(z, ARKIT_UP)  # right of the viewing direction, horizontal
    x /= np.linalg.norm(x)
    return se3(np.stack([x, np.cross(z, x), z], axis=-1), eye)


@pytest.mark.parametrize("convention", ["opencv", "opengl"])
def test_the_declared_convention_puts_a_hand_in_front_of_the_wearer(convention: str) -> None:
    eye, hand = np.array([0.3, 1.6, 0.2]), np.array([-0.2, 1.2, -0.3])  # hand ahead and below, at ARKit -z
    cam = _opencv_camera_looking_at(hand, eye)
    if convention == "opengl":  # the same physical camera, its poses written with OpenGL axes
        cam = cam @ np.diag([1.0, -1.0, -1.0, 1.0])
    ref = gravity_aligned_frame(cam, ARKIT_UP, FORWARD_AXIS[convention])
    x, _, z = (se3_inverse(ref) @ np.r_[hand, 1.0])[:3]
    assert x > 0.4 and z < -0.3  # ahead and below the eyes
    other = "opengl" if convention == "opencv" else "opencv"
    assert (se3_inverse(gravity_aligned_frame(cam, ARKIT_UP, FORWARD_AXIS[other])) @ np.r_[hand, 1.0])[0] < -0.4


def test_as_opencv_relabels_the_axes_of_the_same_camera() -> None:
    gl = se3(Rotation.random(random_state=3).as_matrix(), [1.0, 2.0, 3.0])
    cv = as_opencv(gl, "opengl")
    np.testing.assert_allclose(cv[:3, 3], gl[:3, 3])
    ahead = gl @ np.array([0.1, 0.2, -1.0, 1.0])  # 1 m ahead of the OpenGL camera (it looks along -z), up and right
    in_cv = se3_inverse(cv) @ ahead
    np.testing.assert_allclose(in_cv[:3], [0.1, -0.2, 1.0], atol=1e-12)  # OpenCV: in front (+z), above (-y)
    np.testing.assert_allclose(as_opencv(cv, "opencv"), cv)
    assert is_rotation(cv[:3, :3], atol=1e-12)
    with pytest.raises(ValueError, match="unknown camera convention"):
        as_opencv(gl, "directx")


def test_reference_anchors_on_the_first_finite_camera_pose() -> None:
    rng = np.random.default_rng(5)
    cams, hands = head_trajectory(rng, 8), hand_trajectory(rng, 8)
    cams[:2] = np.nan  # tracking starts late
    ref_hands, ref_cams, world_from_ref = decouple(hands, cams)
    np.testing.assert_allclose(world_from_ref, cams[2])
    assert np.isnan(ref_cams[:2]).all() and np.isfinite(ref_hands).all()


def test_camera_frame_round_trip_and_single_hand_shapes() -> None:
    rng = np.random.default_rng(9)
    cams, hands = head_trajectory(rng, 6), hand_trajectory(rng, 6)
    np.testing.assert_allclose(cams[:, None] @ camera_frame_poses(hands, cams), hands, atol=1e-12)
    one = hands[:, 0]
    out = decouple(one, cams, Z_UP)
    assert out[0].shape == (6, 4, 4) and out[1].shape == (6, 4, 4) and out[2].shape == (4, 4)


@pytest.mark.parametrize(
    ("hands", "cams", "match"),
    [
        (np.zeros((5, 4, 4)), np.zeros((4, 4, 4)), "resample"),
        (np.zeros((5, 4)), np.zeros((5, 4, 4)), "world_from_poses"),
        (np.zeros((5, 4, 4)), np.zeros((5, 3, 4)), "world_from_camera"),
        (np.zeros((3, 4, 4)), np.full((3, 4, 4), np.nan), "no finite camera pose"),
        (np.zeros((0, 4, 4)), np.zeros((0, 4, 4)), "no finite camera pose"),
    ],
)
def test_bad_input_raises(hands: np.ndarray, cams: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        decouple(hands, cams)


@pytest.mark.parametrize("up", [np.zeros(3), np.array([np.nan, 1.0, 0.0]), np.ones(2)])
def test_bad_up_axis_raises(up: np.ndarray) -> None:
    with pytest.raises(ValueError, match="up_world"):
        gravity_aligned_frame(np.eye(4), up)
