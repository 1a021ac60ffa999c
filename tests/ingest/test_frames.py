"""Properties of `ingest.frames` (SE(3), 6D rotation, EEF offsets, deltas) and the table
`schemas.robots.eef_offsets`."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from adapters.oxe.subsets import SUBSETS
from adapters.poses import se3
from ingest.frames import (
    IDENTITY_ROT6D,
    apply_delta,
    apply_eef_offset,
    compose,
    is_rotation,
    matrix_to_quat_xyzw,
    matrix_to_rot6d,
    pos_rot6d_to_pose,
    pose_deltas,
    pose_from_pos_euler,
    pose_from_pos_quat,
    pose_to_pos_rot6d,
    quat_to_matrix,
    rot6d_to_matrix,
    se3_inverse,
    transform_points,
)
from schemas.robots.eef_offsets import EEF_OFFSETS, RECORDED_POINT, eef_offset_for, recorded_point
from schemas.robots.registry import default_registry
from schemas.transform import RigidTransform

settings.register_profile("frames", max_examples=60, deadline=None)
settings.load_profile("frames")

ATOL = 1e-9


def random_poses(rng: np.random.Generator, *batch: int, scale: float = 2.0) -> np.ndarray:
    n = int(np.prod(batch)) if batch else 1
    R = Rotation.random(n, random_state=rng).as_matrix().reshape(*batch, 3, 3)
    return se3(R, rng.uniform(-scale, scale, size=(*batch, 3)))


seeds = st.integers(0, 2**32 - 1)
quats = st.lists(st.floats(-1, 1), min_size=4, max_size=4).filter(lambda q: np.linalg.norm(q) > 0.1)
vec3 = st.lists(st.floats(-5, 5), min_size=3, max_size=3)


# --- SE(3) algebra -----------------------------------------------------------------------------------------------


@given(seeds)
def test_inverse_round_trips(seed: int) -> None:
    T = random_poses(np.random.default_rng(seed), 8)
    inv = se3_inverse(T)
    np.testing.assert_allclose(compose(T, inv), np.broadcast_to(np.eye(4), T.shape), atol=ATOL)
    np.testing.assert_allclose(compose(inv, T), np.broadcast_to(np.eye(4), T.shape), atol=ATOL)
    np.testing.assert_allclose(se3_inverse(inv), T, atol=ATOL)
    np.testing.assert_allclose(inv, np.linalg.inv(T), atol=1e-8)  # closed form agrees with the general inverse


@given(seeds)
def test_inverse_of_composition_reverses_order(seed: int) -> None:
    rng = np.random.default_rng(seed)
    A, B, C = (random_poses(rng, 5) for _ in range(3))
    np.testing.assert_allclose(se3_inverse(compose(A, B)), compose(se3_inverse(B), se3_inverse(A)), atol=ATOL)
    np.testing.assert_allclose(compose(compose(A, B), C), compose(A, compose(B, C)), atol=ATOL)


def test_compose_broadcasts_batches() -> None:
    rng = np.random.default_rng(0)
    A, B = random_poses(rng, 4, 1), random_poses(rng, 1, 3)
    out = compose(A, B)
    assert out.shape == (4, 3, 4, 4)
    np.testing.assert_allclose(out[2, 1], A[2, 0] @ B[0, 1])


def test_se3_broadcasts_one_rotation_over_many_translations() -> None:
    T = se3(np.eye(3), np.arange(12.0).reshape(4, 3))
    assert T.shape == (4, 4, 4)
    np.testing.assert_array_equal(T[:, 3], np.broadcast_to([0, 0, 0, 1], (4, 4)))


@pytest.mark.parametrize(
    ("call", "args"),
    [
        (se3, (np.eye(4), np.zeros(3))),
        (se3, (np.eye(3), np.zeros(4))),
        (se3_inverse, (np.eye(3),)),
        (compose, (np.eye(4), np.eye(3))),
        (pose_from_pos_quat, (np.zeros(3), np.zeros(3))),
        (pose_from_pos_euler, (np.zeros(3), np.zeros(4))),
        (pose_deltas, (np.eye(4),)),
        (transform_points, (np.eye(4), np.zeros(2))),
    ],
)
def test_wrong_shapes_raise(call, args) -> None:
    with pytest.raises(ValueError, match=r"shape|time axis"):
        call(*args)


# --- rotations and encodings -------------------------------------------------------------------------------------


def test_known_pose_90_degrees_about_z_maps_x_to_y() -> None:
    s = np.sqrt(0.5)
    by_quat = pose_from_pos_quat([1.0, 2.0, 3.0], [0.0, 0.0, s, s])
    by_euler = pose_from_pos_euler([1.0, 2.0, 3.0], [0.0, 0.0, np.pi / 2])
    for T in (by_quat, by_euler):
        np.testing.assert_allclose(T[:3, :3] @ [1, 0, 0], [0, 1, 0], atol=1e-12)
        np.testing.assert_allclose(transform_points(T, [1.0, 0.0, 0.0]), [1.0, 3.0, 3.0], atol=1e-12)
        np.testing.assert_allclose(pose_to_pos_rot6d(T), [1, 2, 3, 0, 1, 0, -1, 0, 0], atol=1e-12)


@given(st.lists(st.floats(-3.0, 3.0), min_size=3, max_size=3), vec3, st.sampled_from(["xyz", "zyx", "ZYX", "XYZ"]))
def test_quat_and_euler_give_the_same_pose(euler: list[float], pos: list[float], seq: str) -> None:
    q = Rotation.from_euler(seq, euler).as_quat()  # scalar-last
    np.testing.assert_allclose(pose_from_pos_quat(pos, q), pose_from_pos_euler(pos, euler, seq), atol=1e-9)


@given(st.lists(st.floats(-3.0, 3.0), min_size=3, max_size=3))
def test_extrinsic_xyz_equals_intrinsic_ZYX_reversed(euler: list[float]) -> None:
    a, b, c = euler
    np.testing.assert_allclose(
        pose_from_pos_euler(np.zeros(3), [a, b, c], "xyz"),
        pose_from_pos_euler(np.zeros(3), [c, b, a], "ZYX"),
        atol=1e-9,
    )


@given(quats, st.floats(0.2, 5.0))
def test_quaternion_scale_and_sign_do_not_matter(q: list[float], k: float) -> None:
    R = quat_to_matrix(q)
    assert is_rotation(R, atol=1e-9)
    np.testing.assert_allclose(quat_to_matrix(np.multiply(q, -k)), R, atol=1e-9)
    q2 = matrix_to_quat_xyzw(R)
    assert q2[3] >= 0 and abs(np.linalg.norm(q2) - 1) < 1e-12
    np.testing.assert_allclose(quat_to_matrix(q2), R, atol=1e-9)


def test_invalid_quaternions_become_nan_rows_only() -> None:
    q = np.array([[0, 0, 0, 1], [0, 0, 0, 0], [np.nan, 0, 0, 1], [0, 0, 1, 0]], float)
    T = pose_from_pos_quat(np.zeros((4, 3)), q)
    assert np.isfinite(T[[0, 3]]).all() and np.isnan(T[1, :3, :3]).all() and np.isnan(T[2, :3, :3]).all()
    assert is_rotation(T[:, :3, :3]).tolist() == [True, False, False, True]
    assert np.isnan(matrix_to_quat_xyzw(T[:, :3, :3])[1:3]).all()


@given(seeds)
def test_rot6d_round_trip(seed: int) -> None:
    R = Rotation.random(16, random_state=seed).as_matrix()
    np.testing.assert_allclose(rot6d_to_matrix(matrix_to_rot6d(R)), R, atol=1e-12)
    T = random_poses(np.random.default_rng(seed), 16)
    np.testing.assert_allclose(pos_rot6d_to_pose(pose_to_pos_rot6d(T)), T, atol=1e-12)


@given(seeds, st.floats(0.1, 10.0), st.floats(0.1, 10.0), st.floats(-3.0, 3.0))
def test_gram_schmidt_ignores_column_scale_and_skew(seed: int, s1: float, s2: float, skew: float) -> None:
    R = Rotation.random(random_state=seed).as_matrix()
    c0, c1 = R[:, 0], R[:, 1]
    d6 = np.concatenate([s1 * c0, s2 * c1 + skew * c0])  # what a network or float32 drift produces
    np.testing.assert_allclose(rot6d_to_matrix(d6), R, atol=1e-9)


@given(st.lists(st.floats(-10, 10), min_size=6, max_size=6))
def test_any_non_degenerate_6d_decodes_to_a_rotation(d6: list[float]) -> None:
    a, b = np.array(d6[:3]), np.array(d6[3:])
    if np.linalg.norm(a) < 1e-3 or np.linalg.norm(np.cross(a, b)) < 1e-3 * max(np.linalg.norm(b), 1e-3):
        return
    assert is_rotation(rot6d_to_matrix(d6), atol=1e-9)


@pytest.mark.parametrize("d6", [[0, 0, 0, 0, 1, 0], [1, 0, 0, 2, 0, 0]])
def test_degenerate_6d_raises(d6: list[float]) -> None:
    with pytest.raises(ValueError, match="degenerate"):
        rot6d_to_matrix(d6)


def test_is_rotation_rejects_reflections_scales_and_nan() -> None:
    R = Rotation.random(3, random_state=1).as_matrix()
    bad = np.stack([R[0] @ np.diag([1, 1, -1]), 1.01 * R[1], np.full((3, 3), np.nan), R[2]])
    assert is_rotation(bad).tolist() == [False, False, False, True]


# --- deltas ------------------------------------------------------------------------------------------------------


def smooth_trajectory(rng: np.random.Generator, n: int, k: int | None = None) -> np.ndarray:
    batch = (n,) if k is None else (n, k)
    rotvec = np.cumsum(0.2 * rng.standard_normal((*batch, 3)), axis=0)
    pos = np.cumsum(0.05 * rng.standard_normal((*batch, 3)), axis=0)
    return se3(Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_matrix().reshape(*batch, 3, 3), pos)


@given(seeds, st.integers(2, 40))
def test_deltas_reconstruct_the_trajectory(seed: int, n: int) -> None:
    poses = smooth_trajectory(np.random.default_rng(seed), n)
    d = pose_deltas(poses)
    assert d.shape == (n, 9)
    np.testing.assert_allclose(apply_delta(poses[:-1], d[:-1]), poses[1:], atol=1e-10)  # one step, vectorized
    walked = [poses[0]]
    for t in range(n - 1):  # integrating deltas from the first pose alone recovers the whole trajectory
        walked.append(apply_delta(walked[-1], d[t]))
    np.testing.assert_allclose(np.stack(walked), poses, atol=1e-9)
    np.testing.assert_allclose(d[-1], [0, 0, 0, *IDENTITY_ROT6D], atol=1e-12)  # R^T R, to rounding


@given(seeds)
def test_deltas_under_a_change_of_world_frame(seed: int) -> None:
    """Rotation deltas are body-frame (invariant); translation deltas rotate with the frame and ignore its origin."""
    rng = np.random.default_rng(seed)
    poses, G = smooth_trajectory(rng, 12), random_poses(rng)
    d, dg = pose_deltas(poses), pose_deltas(compose(G, poses))
    np.testing.assert_allclose(dg[:, 3:], d[:, 3:], atol=1e-10)
    np.testing.assert_allclose(dg[:, :3], d[:, :3] @ G[:3, :3].T, atol=1e-10)


def test_deltas_keep_extra_axes_and_edge_lengths() -> None:
    poses = smooth_trajectory(np.random.default_rng(3), 5, k=2)
    d = pose_deltas(poses)
    assert d.shape == (5, 2, 9)
    np.testing.assert_allclose(d[:, 1], pose_deltas(poses[:, 1]))
    assert pose_deltas(np.zeros((0, 4, 4))).shape == (0, 9)
    np.testing.assert_allclose(pose_deltas(poses[:1, 0]), [[0, 0, 0, *IDENTITY_ROT6D]], atol=1e-12)


def test_known_delta_rotation_is_in_the_body_frame() -> None:
    a = pose_from_pos_euler([0, 0, 0], [0, 0, np.pi / 2])  # yawed 90 deg
    b = pose_from_pos_euler([1, 0, 0], [0, 0, np.pi / 2]) @ pose_from_pos_euler([0, 0, 0], [np.pi / 2, 0, 0])
    d = pose_deltas(np.stack([a, b]))[0]
    np.testing.assert_allclose(d[:3], [1, 0, 0], atol=1e-12)  # world-frame displacement
    np.testing.assert_allclose(rot6d_to_matrix(d[3:]), Rotation.from_euler("x", np.pi / 2).as_matrix(), atol=1e-12)


def test_nan_pose_poisons_only_its_neighbouring_deltas() -> None:
    poses = smooth_trajectory(np.random.default_rng(4), 6)
    poses[2, :3, 3] = np.nan
    bad = ~np.isfinite(pose_deltas(poses)).all(axis=1)
    assert bad.tolist() == [False, True, True, False, False, False]


# --- EEF offsets -------------------------------------------------------------------------------------------------


@given(seeds)
def test_offset_invariance_across_embodiments(seed: int) -> None:
    """One physical wrist motion recorded through two tools of different length gives one canonical trajectory."""
    rng = np.random.default_rng(seed)
    wrist = smooth_trajectory(rng, 20)
    offsets = [EEF_OFFSETS["franka"][0], EEF_OFFSETS["widowx"][0], random_poses(rng)]
    canon = []
    for off in offsets:
        m = off.matrix() if isinstance(off, RigidTransform) else off
        recorded = compose(wrist, se3_inverse(m))  # what each robot's TCP stream reports
        canon.append(apply_eef_offset(recorded, off))
    for c in canon:
        np.testing.assert_allclose(c, wrist, atol=1e-10)
        np.testing.assert_allclose(pose_deltas(c), pose_deltas(wrist), atol=1e-10)
    # and the raw TCP streams really differed: the offset is doing work
    tcp_f = compose(wrist, se3_inverse(offsets[0].matrix()))
    tcp_w = compose(wrist, se3_inverse(offsets[1].matrix()))
    assert np.abs(tcp_f[:, :3, 3] - tcp_w[:, :3, 3]).max() > 0.005


def test_franka_tcp_pointing_down_puts_the_wrist_above_it() -> None:
    tcp = se3(np.diag([1.0, -1.0, -1.0]), [0.5, 0.0, 0.2])  # gripper z (approach) points down
    wrist = apply_eef_offset(tcp, EEF_OFFSETS["franka"][0])
    np.testing.assert_allclose(wrist[:3, 3], [0.5, 0.0, 0.2 + 0.1034], atol=1e-12)
    np.testing.assert_allclose(wrist[:3, :3], tcp[:3, :3])


def test_widowx_offset_aligns_approach_with_z() -> None:
    down = np.array([[0.0, 0, 1], [0, 1, 0], [-1, 0, 0]])  # bridge's DEFAULT_ROTATION: ee_gripper_link x points down
    wrist = apply_eef_offset(se3(down, [0.3, 0.0, 0.1]), EEF_OFFSETS["widowx"][0])
    np.testing.assert_allclose(wrist[:3, 2], [0, 0, -1], atol=1e-12)  # wrist z = approach = down
    np.testing.assert_allclose(wrist[:3, 1], [0, 1, 0], atol=1e-12)  # finger axis kept
    np.testing.assert_allclose(wrist[:3, 3], [0.3, 0.0, 0.1 + 0.093575], atol=1e-12)


def test_offset_accepts_arrays_and_rejects_non_rigid() -> None:
    off = EEF_OFFSETS["ur5"][0]
    T = random_poses(np.random.default_rng(5), 3)
    np.testing.assert_allclose(apply_eef_offset(T, off), apply_eef_offset(T, off.matrix()))
    for bad in (np.diag([2.0, 1, 1, 1]), np.eye(3), np.vstack([np.eye(4)[:3], [1, 0, 0, 1]])):
        with pytest.raises(ValueError, match="rigid"):
            apply_eef_offset(T, bad)


def test_every_registered_embodiment_has_a_sourced_offset() -> None:
    registry = default_registry()
    names = registry.names()
    # robots that only record joint angles get their wrist by FK: the frame is in their joint_space spec instead
    fk_only = {n for n in names if registry.get(n).joint_space is not None and n not in EEF_OFFSETS}
    assert set(names) - fk_only <= set(EEF_OFFSETS)
    assert all("joint space" in registry.get(n).offset_source for n in fk_only)
    for name, (off, source) in EEF_OFFSETS.items():
        assert isinstance(off, RigidTransform) and len(source) > 20, name
        m = off.matrix()
        assert is_rotation(m[:3, :3], atol=1e-9)
        assert np.linalg.norm(m[:3, 3]) < 0.25, name  # a tool, not an arm
        if np.linalg.norm(m[:3, 3]) > 0:  # the wrist lies behind the TCP along the wrist's approach (z) axis
            assert (m[:3, :3].T @ m[:3, 3])[2] < 0 and np.allclose((m[:3, :3].T @ m[:3, 3])[:2], 0), name


def test_every_oxe_subset_says_which_point_it_records() -> None:
    """Every subset that gives a canonical wrist from a recorded pose; a natives row (`natives_reason`) gives no pose
    to correct, a joint row's wrist (`joint_fk` without a pose) is its description's wrist frame, nothing to move."""
    for subset in (s for s in SUBSETS.values() if not s.natives_reason and not s.fk_wrist):
        point, why = recorded_point(subset.name)
        assert subset.name in RECORDED_POINT and why, subset.name
        off, note = eef_offset_for(subset.embodiment, subset.name, "oxe")
        expected = EEF_OFFSETS[subset.embodiment][0] if point == "tcp" else RigidTransform.identity()
        assert off == expected and subset.name in note


def test_offset_lookup_by_source_and_unknowns() -> None:
    assert eef_offset_for("agibot_gripper", "task_327", "agibot")[0] == RigidTransform.identity()  # flange
    assert eef_offset_for("franka", "taco_play")[0] == EEF_OFFSETS["franka"][0]
    assert eef_offset_for("franka", "droid")[0] == RigidTransform.identity()  # DROID records the flange
    off, note = eef_offset_for("ur5", "somewhere_new")
    assert off == RigidTransform.identity() and "unknown" in note
    with pytest.raises(KeyError, match="no EEF offset"):
        eef_offset_for("spot", "bridge")


def test_six_d_rotations_read_as_nan_come_back_as_their_matrices() -> None:
    R = Rotation.random(16, random_state=0).as_matrix()
    np.testing.assert_allclose(rot6d_to_matrix(matrix_to_rot6d(R), bad_as_nan=True), R, atol=1e-12)
    scaled = matrix_to_rot6d(R) * np.r_[[3.0] * 3, [0.5] * 3]  # unnormalised columns read the same
    np.testing.assert_allclose(rot6d_to_matrix(scaled, bad_as_nan=True), R, atol=1e-12)


def test_a_bad_6d_row_read_as_nan_is_a_nan_matrix_and_the_others_stand() -> None:
    rows = np.array([[1.0, 0, 0, 0, 1, 0], [0.0] * 6, [np.nan] * 6, [1, 0, 0, 2, 0, 0]])  # last: parallel columns
    out = rot6d_to_matrix(rows, bad_as_nan=True)
    np.testing.assert_allclose(out[0], np.eye(3), atol=1e-12)
    assert not np.isfinite(out[1:]).all(axis=(1, 2)).any()  # no usable matrix for a bad row
