"""The oxe hand declaration: the canonical gripper opening 0 (closed) .. 1 (open) from each subset's native gripper."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from adapters.base import Stream
from adapters.oxe.hands import gripper_opening, hand_signals, matrix_pose
from adapters.oxe.subsets import SUBSETS
from adapters.registry import get_adapter
from adapters.synthetic.rlds import write_rlds
from ingest.canonical.canonicalize import canonicalize_spans
from schemas.canonical import GRIPPER, WRIST_POS, hand_dims
from schemas.canonicalize import CanonicalizeSpec
from tests.fixtures.offline import prepared


def _robot_obs_width(width_m: list[float]) -> dict[str, Stream]:
    """taco_play's robot_obs[6] as the oxe adapter slices it (CALVIN: 'gripper opening width (1): in meter')."""
    t = np.arange(len(width_m)) / 15.0
    return {
        "observation/robot_obs:gripper_width": Stream(t, np.asarray(width_m)[:, None], ("gripper_opening_width",), "m"),
    }


def test_taco_width_in_metres_is_scaled_by_the_franka_stroke() -> None:
    opening = gripper_opening(_robot_obs_width([0.08, 0.08, 0.04, 0.0]))
    assert opening is not None
    np.testing.assert_allclose(opening.values, [1.0, 1.0, 0.5, 0.0])


def test_an_axis_angle_orientation_is_a_rotation_vector() -> None:
    """bc_z's `present/axis_angle` (TFDS: 'rotation ... in axis-angle representation'): axis times angle, not Euler
    angles; read as Euler the same numbers turn the wrist elsewhere."""
    t = np.arange(2) / 10.0
    rotvec = np.array([[0.0, 0.0, np.pi / 2], [0.3, -0.2, 0.9]])
    states = {
        "observation/present/xyz:eef_xyz": Stream(t, np.zeros((2, 3)), unit="m", frame="robot_base"),
        "observation/present/axis_angle:eef_axis_angle": Stream(t, rotvec, unit="rad", frame="robot_base"),
    }
    track = hand_signals(states).hands[1]
    assert track.rotation is not None and track.rotation.unit == "quat_xyzw"
    got = Rotation.from_quat(track.rotation.values)
    assert np.allclose((got * Rotation.from_rotvec(rotvec).inv()).magnitude(), 0, atol=1e-9)
    assert not np.allclose((got * Rotation.from_euler("xyz", rotvec).inv()).magnitude(), 0, atol=1e-3)


def test_dlr_zxy_angles_are_scipys_extrinsic_zxy() -> None:
    """DLR's state angles are scipy `Rotation.as_euler("zxy")` (DLR-RM/rlds_dataset_builder): the angles about fixed
    z, x, y in that order; read as roll/pitch/yaw (R = Rz·Ry·Rx) the same numbers turn the wrist elsewhere."""
    t = np.arange(2) / 10.0
    truth = Rotation.from_euler("xyz", [[0.3, -0.2, 1.1], [-2.0, 0.4, 0.1]])
    states = {
        "observation/state:eef_xyz": Stream(t, np.zeros((2, 3)), unit="m", frame="robot_base"),
        "observation/state:eef_euler_zxy": Stream(t, truth.as_euler("zxy"), unit="rad", frame="robot_base"),
    }
    track = hand_signals(states).hands[1]
    assert track.rotation is not None and track.rotation.unit == "quat_xyzw"
    got = Rotation.from_quat(track.rotation.values)
    assert np.allclose((got * truth.inv()).magnitude(), 0, atol=1e-9)
    assert not np.allclose((got * Rotation.from_euler("xyz", truth.as_euler("zxy")).inv()).magnitude(), 0, atol=1e-3)


@pytest.mark.parametrize("order", ["column", "row"])
def test_a_flattened_pose_matrix_is_read_in_the_order_its_values_show(order: str) -> None:
    """deoxys records libfranka's O_T_EE column-major (VIOLA, BUDS, MUTEX, SIRIUS); a row-major copy reads the same
    pose; a matrix that is no rigid transform in either order gives no wrist."""
    t = np.arange(3) / 20.0
    rot = Rotation.from_rotvec([[0.1, 0.2, 0.3], [0.0, -0.4, 0.2], [1.0, 0.0, 0.0]])
    mats = np.tile(np.eye(4), (3, 1, 1))
    mats[:, :3, :3], mats[:, :3, 3] = rot.as_matrix(), [[0.4, 0.1, 0.3], [0.5, 0.0, 0.2], [0.45, -0.1, 0.25]]
    flat = (mats.transpose(0, 2, 1) if order == "column" else mats).reshape(3, 16)
    read = matrix_pose(Stream(t, flat, unit="se3_4x4"))
    assert read is not None
    xyz, quat = read
    np.testing.assert_allclose(xyz.values, mats[:, :3, 3], atol=1e-12)
    assert np.allclose((Rotation.from_quat(quat.values) * rot.inv()).magnitude(), 0, atol=1e-9)
    bent = flat.copy()
    bent[:, [3, 7, 11, 12, 13, 14]] = 0.3  # a translation in both places: neither order is homogeneous
    assert matrix_pose(Stream(t, bent, unit="se3_4x4")) is None
    states = {"observation/ee_states:eef_matrix": Stream(t, bent, unit="se3_4x4", frame="robot_base")}
    sig = hand_signals(states)
    assert not sig.hands[1].has_wrist and any("no rigid transform" in n for n in sig.notes)


def test_a_command_is_not_taken_for_the_measured_gripper() -> None:
    t = np.arange(3) / 3.0
    states = {  # fractal: the commanded closedness first, the measured state second
        "observation/gripper_closedness_commanded": Stream(t, np.ones((3, 1)), unit="0..1"),
        "observation/gripper_closed": Stream(t, np.array([[0.0], [0.5], [1.0]]), unit="0..1"),
    }
    opening = gripper_opening(states)
    assert opening is not None
    np.testing.assert_allclose(opening.values, [1.0, 0.5, 0.0])


GRIPPER_NAMES = {"gripper_open", "gripper_closed", "gripper_position", "gripper_width", "gripper_opening_width"}
GRIPPED = sorted(
    name
    for name, cfg in SUBSETS.items()
    for spec in cfg.states
    if GRIPPER_NAMES & ({spec.key.rsplit("/", 1)[-1]} | {n for p in spec.parts for n in p.names or ()})
)


@pytest.mark.parametrize("subset", GRIPPED)
def test_a_full_native_stroke_spans_the_canonical_opening(tmp_path: Path, subset: str) -> None:
    """The fixture's gripper closes and reopens over its whole native range (0..1, or 0..0.08 m for taco_play): the
    canonical opening must cover most of [0, 1] whatever the native unit."""
    steps = max(16, int(2 * SUBSETS[subset].control_hz))  # at least 2 s: a 20 Hz set's 16 steps are too short
    write_rlds(tmp_path, subset, episodes=1, steps=steps, vary_steps=False)
    a = get_adapter("oxe")
    [ref] = list(a.discover(tmp_path))
    raw = a.read(ref)
    assert raw.hands.hands[1].gripper is not None, subset
    eps = prepared(raw, CanonicalizeSpec(min_episode_s=0.3))
    g = np.concatenate([ep.state[:, hand_dims(1, GRIPPER)].ravel() for ep in eps])
    assert g.max() - g.min() > 0.5, (subset, g.min(), g.max())
    assert g.min() >= 0.0 and g.max() <= 1.0


def test_uiuc_d3field_wrist_is_its_4x4_state_read_row_major(tmp_path: Path) -> None:
    """uiuc_d3field's (4, 4) state (TFDS 'Robot end-effector state'), in its TFDS layout: the wrist is the matrix's
    translation column and rotation block, on every frame; the rotation is orthonormal with det +1 (a physical
    invariant checked on the values), and the same values read column-major are no rigid transform (their bottom row
    is the translation). At 1 Hz, a job raises max_gap_s above the 1 s step to canonicalize it."""
    write_rlds(tmp_path, "uiuc_d3field", episodes={"train": 1}, steps=20, seed=2)
    a = get_adapter("oxe", {"splits": ["train"]})
    [raw] = [a.read(r) for r in a.discover(tmp_path) if r.error is None]
    flat = raw.states["observation/state:eef_matrix"].values.astype(np.float64)
    mats = flat.reshape(-1, 4, 4)  # row-major: the matrix as TFDS holds a (4, 4) Tensor
    rot = mats[:, :3, :3]
    np.testing.assert_allclose(rot @ rot.transpose(0, 2, 1), np.broadcast_to(np.eye(3), rot.shape), atol=1e-5)
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-5)
    assert not np.allclose(mats.transpose(0, 2, 1)[:, 3, :3], 0.0, atol=1e-3)  # column-major: no [0, 0, 0, 1] row
    track = raw.hands.hands[1]
    np.testing.assert_allclose(track.position.values, mats[:, :3, 3], atol=1e-6)
    back = Rotation.from_quat(track.rotation.values.astype(np.float64)).as_matrix()
    np.testing.assert_allclose(back, rot, atol=1e-5)
    assert raw.actions["action"].relative is not None  # 'Robot displacement from last frame': a delta
    [ep] = canonicalize_spans(raw, CanonicalizeSpec(max_gap_s=1.5), source="oxe").episodes
    assert ep.mask[hand_dims(1, WRIST_POS)].all() and all(v.tier.value == "high" for v in ep.verdicts), ep.notes
