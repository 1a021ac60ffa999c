"""Properties of `ingest.canonical.hands` (MANO-21 keypoints, joint maps, wrist frames, fingertips); the pickle
converter's tests are in test_mano_convert.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from adapters.egodex import MANO21_JOINTS, mano21_keypoints
from adapters.synthetic.egodex import FINGERS as EGODEX_FINGERS
from adapters.synthetic.egodex import JOINTS as EGODEX_JOINTS
from adapters.synthetic.egodex import PHALANGES as EGODEX_PHALANGES
from ingest.canonical.hands import (
    FINGERTIPS,
    MANO_TO_OPENPOSE,
    TIP_VERTICES,
    ManoHand,
    fingertips_in_wrist,
    hand_motion,
    keypoints_from_joints,
    wrist_frames_from_keypoints,
)
from ingest.canonical.mano_convert import MANOModelError
from schemas.canonical import FINGERTIPS as TIP_NAMES
from schemas.canonical import MANO21_NAMES
from tests.fixtures.mano import (
    MIRROR,
    hand_layout,
    mano_arrays,
    template_keypoints,
    write_hostile_pickle,
    write_mano_npz,
)

settings.register_profile("hands", max_examples=40, deadline=None)
settings.load_profile("hands")

AA_MIRROR = np.tile([1.0, -1.0, -1.0], 15)  # axis-angle of a mirrored (x -> -x) rotation
CHAINS = [[0, *range(1 + 4 * f, 5 + 4 * f)] for f in range(5)]  # wrist -> base .. tip, per finger


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mano")
    write_mano_npz(folder)
    return folder


# smplx casts the model arrays to float32 before computing in float64, so exact identities hold to ~1e-8 m.
ATOL = 1e-7


def _load(model_dir: Path, side: str = "right", **kw: object) -> ManoHand:
    return ManoHand.load(model_dir, side, dtype="float64", **kw)  # type: ignore[arg-type]


def _poses(n: int, seed: int = 0, scale: float = 0.4) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(n, 3)),
        scale * rng.normal(size=(n, 45)),
        rng.normal(size=(n, 10)),
        rng.normal(size=(n, 3)),
    )


def _rotations() -> st.SearchStrategy[np.ndarray]:
    quat = st.lists(st.floats(-1, 1), min_size=4, max_size=4).filter(lambda q: np.linalg.norm(q) > 0.1)
    return quat.map(lambda q: Rotation.from_quat(q).as_matrix())


_translations = st.lists(st.floats(-5, 5), min_size=3, max_size=3).map(np.array)


# -- MANO through smplx --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("tips", ["manopth", "smplx"])
@pytest.mark.parametrize("mesh", [False, True])
def test_zero_pose_is_the_regressor_on_the_template_plus_tip_vertices(
    model_dir: Path, side: str, tips: str, mesh: bool
) -> None:
    a = mano_arrays(side)
    hand = _load(model_dir, side, flat_hand_mean=True, tips=tips, mesh=mesh)
    got = hand.keypoints(np.zeros((1, 3)), np.zeros((1, 45)))[0]
    native = np.concatenate([a["J_regressor"] @ a["v_template"], a["v_template"][list(TIP_VERTICES[tips][side])]])
    np.testing.assert_allclose(got, native[list(MANO_TO_OPENPOSE)], atol=ATOL, rtol=0)


def test_keypoints_are_in_openpose_order(model_dir: Path) -> None:
    got = _load(model_dir, flat_hand_mean=True).keypoints(np.zeros((1, 3)), np.zeros((1, 45)))[0]
    layout = hand_layout("right")
    for i, name in enumerate(MANO21_NAMES):  # each keypoint sits where the synthetic hand has that named joint
        np.testing.assert_allclose(got[i], layout[name], atol=1e-8, err_msg=name)
    assert MANO21_NAMES[0] == "wrist"
    assert [MANO21_NAMES[i] for i in FINGERTIPS] == [f"{f}_tip" for f in TIP_NAMES]
    for chain in CHAINS:  # along each finger the distance from the wrist grows, the tip is farthest
        assert np.all(np.diff(np.linalg.norm(got[chain] - got[0], axis=1)) > 0)


def test_translation_shifts_every_keypoint_by_the_same_vector(model_dir: Path) -> None:
    hand = _load(model_dir)
    go, hp, betas, transl = _poses(8)
    moved = hand.keypoints(go, hp, betas, transl)
    np.testing.assert_allclose(moved - hand.keypoints(go, hp, betas), np.repeat(transl[:, None], 21, 1), atol=1e-12)


def test_global_rotation_is_rigid_about_the_wrist(model_dir: Path) -> None:
    hand = _load(model_dir)
    _, hp, betas, _ = _poses(16, seed=1)
    rotvec = np.random.default_rng(2).normal(size=(16, 3))
    still = hand.keypoints(np.zeros((16, 3)), hp, betas)
    turned = hand.keypoints(rotvec, hp, betas)
    np.testing.assert_allclose(turned[:, 0], still[:, 0], atol=1e-12)  # MANO rotates about its root joint
    expected = np.einsum("bij,bkj->bki", Rotation.from_rotvec(rotvec).as_matrix(), still - still[:, :1]) + still[:, :1]
    np.testing.assert_allclose(turned, expected, atol=1e-8)  # smplx's Rodrigues adds 1e-8 to the angle
    dist = lambda k: np.linalg.norm(k[:, :, None] - k[:, None], axis=-1)  # noqa: E731
    np.testing.assert_allclose(dist(turned), dist(still), atol=1e-8)


@pytest.mark.parametrize("side", ["right", "left"])
def test_reduced_model_gives_the_full_mesh_keypoints(model_dir: Path, side: str) -> None:
    go, hp, betas, transl = _poses(32, seed=3, scale=0.8)
    full = _load(model_dir, side, mesh=True)
    verts, keys = full.forward(go, hp, betas, transl)
    assert verts.shape == (32, 778, 3)
    np.testing.assert_allclose(_load(model_dir, side).keypoints(go, hp, betas, transl), keys, atol=ATOL)
    f32 = ManoHand.load(model_dir, side).keypoints(go, hp, betas, transl)  # default float32: mm-level is plenty
    np.testing.assert_allclose(f32, keys, atol=1e-5)


def test_pca_coefficients_and_mean_pose(model_dir: Path) -> None:
    a = mano_arrays("right")
    go, _, betas, _ = _poses(6, seed=4)
    coeffs = np.random.default_rng(5).normal(size=(6, 6))
    pca = _load(model_dir, num_pca_comps=6).keypoints(go, coeffs, betas)
    axis_angle = _load(model_dir).keypoints(go, coeffs @ a["hands_components"][:6], betas)
    np.testing.assert_allclose(pca, axis_angle, atol=ATOL)
    full45 = _load(model_dir, num_pca_comps=45).keypoints(go, np.pad(coeffs, ((0, 0), (0, 39))), betas)
    np.testing.assert_allclose(full45, axis_angle, atol=ATOL)  # 45 components are still PCA coefficients
    # flat_hand_mean False adds the model's mean pose: zero pose = the mean pose on a flat-mean hand.
    mean = np.tile(a["hands_mean"], (6, 1))
    zero = _load(model_dir).keypoints(go, np.zeros((6, 45)), betas)
    np.testing.assert_allclose(zero, _load(model_dir, flat_hand_mean=True).keypoints(go, mean, betas), atol=ATOL)


def test_left_hand_is_the_mirror_of_the_right(model_dir: Path) -> None:
    go, hp, betas, transl = _poses(12, seed=6, scale=0.8)
    right = _load(model_dir, "right", flat_hand_mean=True).keypoints(go, hp, betas, transl)
    left = _load(model_dir, "left", flat_hand_mean=True).keypoints(
        go * AA_MIRROR[:3], hp * AA_MIRROR, betas, transl * MIRROR
    )
    np.testing.assert_allclose(left, right * MIRROR, atol=ATOL)


def test_official_left_shapedirs_flaw_is_repaired(tmp_path: Path) -> None:
    write_mano_npz(tmp_path, left_shapedirs_bug=True)
    go, hp, betas, _ = _poses(4, seed=7)
    right = _load(tmp_path, "right").keypoints(go, hp, betas)
    fixed = _load(tmp_path, "left").keypoints(go * AA_MIRROR[:3], hp * AA_MIRROR, betas)
    np.testing.assert_allclose(fixed, right * MIRROR, atol=ATOL)
    raw = _load(tmp_path, "left", fix_left_shapedirs=False).keypoints(go * AA_MIRROR[:3], hp * AA_MIRROR, betas)
    assert np.abs(raw - right * MIRROR).max() > 1e-3


def test_batches_empty_single_nan_and_shape_errors(model_dir: Path) -> None:
    hand = _load(model_dir)
    assert hand.keypoints(np.zeros((0, 3)), np.zeros((0, 45))).shape == (0, 21, 3)
    go, hp, betas, _ = _poses(5, seed=8)
    batch = hand.keypoints(go, hp, betas)
    np.testing.assert_allclose(hand.keypoints(go[2:3], hp[2:3], betas[2:3]), batch[2:3], atol=1e-12)
    shared = hand.keypoints(go, hp, betas[0])  # one shape vector for the batch
    np.testing.assert_allclose(shared, hand.keypoints(go, hp, np.tile(betas[0], (5, 1))), atol=1e-12)
    short = hand.keypoints(go, hp, betas[:, :3])  # fewer betas: the rest are zero
    np.testing.assert_allclose(short, hand.keypoints(go, hp, np.pad(betas[:, :3], ((0, 0), (0, 7)))), atol=1e-12)
    hp_nan = hp.copy()
    hp_nan[1, 4] = np.nan
    out = hand.keypoints(go, hp_nan, betas)
    assert np.isnan(out[1]).any() and np.isfinite(np.delete(out, 1, axis=0)).all()
    for bad in [(np.zeros((5, 4)), hp), (go, np.zeros((5, 44))), (go, np.zeros((4, 45))), (np.zeros(3), hp)]:
        with pytest.raises(ValueError, match="shape"):
            hand.keypoints(*bad)
    with pytest.raises(ValueError, match="betas"):
        hand.keypoints(go, hp, np.zeros((5, 11)))
    with pytest.raises(ValueError, match="num_pca_comps"):
        _load(model_dir, num_pca_comps=46)


def test_load_never_unpickles_and_checks_the_file(tmp_path: Path) -> None:
    only_pkl = tmp_path / "pkl"
    only_pkl.mkdir()
    write_hostile_pickle(only_pkl / "MANO_RIGHT.pkl", tmp_path / "pwned")
    with pytest.raises(MANOModelError, match="mano_convert"):
        ManoHand.load(only_pkl, "right")
    with pytest.raises(MANOModelError, match="refusing"):
        ManoHand.load(only_pkl / "MANO_RIGHT.pkl", "right")
    assert not (tmp_path / "pwned").exists()
    objects = tmp_path / "objects"
    objects.mkdir()
    np.savez(objects / "MANO_RIGHT.npz", **{**mano_arrays(), "f": np.array([None, 1], dtype=object)})
    with pytest.raises(MANOModelError, match="plain-array"):
        ManoHand.load(objects, "right")
    partial = tmp_path / "partial"
    partial.mkdir()
    np.savez(partial / "MANO_RIGHT.npz", **{k: v for k, v in mano_arrays().items() if k != "weights"})
    with pytest.raises(MANOModelError, match="weights"):
        ManoHand.load(partial, "right")
    with pytest.raises(FileNotFoundError):
        ManoHand.load(tmp_path / "nowhere", "right")
    write_mano_npz(tmp_path / "smplx_layout" / "mano", sides=("right",))  # smplx.create's <dir>/mano/ layout
    assert ManoHand.load(tmp_path / "smplx_layout", "right").path.parent.name == "mano"


# -- other skeletons -----------------------------------------------------------------------------------------------


def _egodex_transforms(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """All 68 EgoDex joints as (n,4,4) poses; hand joints placed by their EgoDex names (finger, then phalanx in
    `PHALANGES` order) on the synthetic hand, which moves rigidly; other joints anywhere."""
    rng = np.random.default_rng(seed)
    ours = dict(zip(EGODEX_FINGERS, TIP_NAMES, strict=True))  # Thumb -> thumb, ..., LittleFinger -> pinky
    motion = Rotation.from_rotvec(rng.normal(scale=0.5, size=(n, 3))).as_matrix()
    offsets = rng.normal(scale=0.2, size=(n, 3))
    out = {}
    for joint in EGODEX_JOINTS:
        pose = np.tile(np.eye(4), (n, 1, 1))
        pose[:, :3, :3] = Rotation.random(n, random_state=rng.integers(1 << 31)).as_matrix()  # joint orientation
        side = next((s for s in ("left", "right") if joint.startswith(s)), None)
        point = rng.normal(size=3)
        if side is not None:
            layout, rest = hand_layout(side), joint[len(side) :]
            if rest == "Hand":
                point = layout["wrist"]
            for finger, name in ours.items():
                if rest.startswith(finger) and rest[len(finger) :] in EGODEX_PHALANGES:
                    k = EGODEX_PHALANGES.index(rest[len(finger) :])
                    point = layout[f"{name}_tip" if k == 3 else f"{name}{k + 1}"]
                elif rest == f"{finger}Metacarpal":
                    point = 0.5 * layout[f"{name}1"]
            point = point + (0.3 if side == "right" else -0.3)
        pose[:, :3, 3] = np.einsum("tij,j->ti", motion, point) + offsets
        out[joint] = pose.astype(np.float32)
    return out


def test_egodex_joint_map_gives_anatomically_ordered_keypoints() -> None:
    transforms = _egodex_transforms(30)
    both = mano21_keypoints(transforms)
    for hand, joints in enumerate(MANO21_JOINTS):
        kp = keypoints_from_joints(transforms, joints)
        assert kp.shape == (30, 21, 3)
        np.testing.assert_allclose(kp, both[:, hand], atol=0)
        for chain in CHAINS:
            assert (np.linalg.norm(np.diff(kp[:, chain], axis=1), axis=-1) > 1e-3).all()  # bones have length
            from_wrist = np.linalg.norm(kp[:, chain] - kp[:, :1], axis=-1)
            assert (np.diff(from_wrist, axis=1) > 0).all()  # each joint farther out than the last; tip farthest
        # The recovered hand is the synthetic one, up to the rigid motion: same wrist-frame fingertips every frame.
        tips = fingertips_in_wrist(kp, wrist_frames_from_keypoints(kp, ("left", "right")[hand]))
        np.testing.assert_allclose(tips, np.repeat(tips[:1], 30, axis=0), atol=1e-5)


def test_keypoints_from_joints_errors_and_positions() -> None:
    positions = {f"j{i}": np.full((4, 3), float(i)) for i in range(21)}
    kp = keypoints_from_joints(positions, [f"j{i}" for i in reversed(range(21))])
    assert kp.shape == (4, 21, 3) and kp[0, 0, 0] == 20 and kp[0, 20, 0] == 0
    with pytest.raises(KeyError, match=r"\['j7', 'x'\]"):
        keypoints_from_joints({k: v for k, v in positions.items() if k != "j7"}, [*(f"j{i}" for i in range(20)), "x"])
    with pytest.raises(ValueError, match="21"):
        keypoints_from_joints(positions, ["j0"])
    with pytest.raises(ValueError, match="lengths"):
        keypoints_from_joints({**positions, "j3": np.zeros((5, 3))}, [f"j{i}" for i in range(21)])


# -- wrist frames and fingertips -----------------------------------------------------------------------------------


def _hands(n: int, seed: int = 0) -> np.ndarray:
    """n right hands: the template with each keypoint jittered by up to ~1 cm (finger poses vary)."""
    return template_keypoints("right") + np.random.default_rng(seed).normal(scale=0.005, size=(n, 21, 3))


def _rigid(k: np.ndarray, r: np.ndarray, t: np.ndarray) -> np.ndarray:
    return k @ r.T + t


def test_wrist_frame_of_the_template_hand() -> None:
    pose = wrist_frames_from_keypoints(template_keypoints("right")[None], "right")[0]
    z = hand_layout("right")["middle1"] / np.linalg.norm(hand_layout("right")["middle1"])
    np.testing.assert_allclose(pose[:3, 2], z, atol=1e-12)  # approach: wrist -> middle1
    np.testing.assert_allclose(pose[:3, 1], [0, 0, -1], atol=1e-12)  # palmar: the palm faces -z
    assert pose[1, 0] < -0.99  # x towards the little finger (-y) on a right hand
    np.testing.assert_allclose(pose[:3, 3], 0, atol=0)
    np.testing.assert_allclose(pose[3], [0, 0, 0, 1], atol=0)


@given(r=_rotations(), t=_translations, seed=st.integers(0, 1000))
def test_wrist_frames_are_proper_rotations_and_move_with_the_hand(r: np.ndarray, t: np.ndarray, seed: int) -> None:
    k = _hands(5, seed)
    for side, keys in (("right", k), ("left", k * MIRROR)):
        pose = wrist_frames_from_keypoints(keys, side)
        rot = pose[:, :3, :3]
        np.testing.assert_allclose(rot.transpose(0, 2, 1) @ rot, np.tile(np.eye(3), (5, 1, 1)), atol=1e-12)
        np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-12)
        world = np.eye(4)
        world[:3, :3], world[:3, 3] = r, t
        np.testing.assert_allclose(wrist_frames_from_keypoints(_rigid(keys, r, t), side), world @ pose, atol=1e-9)


@given(r=_rotations(), t=_translations, seed=st.integers(0, 1000))
def test_fingertips_in_wrist_are_invariant_to_rigid_motion(r: np.ndarray, t: np.ndarray, seed: int) -> None:
    k = _hands(5, seed)
    pose = wrist_frames_from_keypoints(k, "right")
    tips = fingertips_in_wrist(k, pose)
    world = np.eye(4)
    world[:3, :3], world[:3, 3] = r, t
    np.testing.assert_allclose(fingertips_in_wrist(_rigid(k, r, t), world @ pose), tips, atol=1e-9)
    # distances from the wrist survive the change of frame
    np.testing.assert_allclose(
        np.linalg.norm(tips.reshape(5, 5, 3), axis=-1), np.linalg.norm(k[:, FINGERTIPS] - k[:, :1], axis=-1), atol=1e-12
    )


@given(normal=st.lists(st.floats(-1, 1), min_size=3, max_size=3).filter(lambda v: np.linalg.norm(v) > 0.1))
def test_left_and_right_frames_are_mirror_images(normal: list[float]) -> None:
    n = np.asarray(normal) / np.linalg.norm(normal)
    reflect = np.eye(3) - 2 * np.outer(n, n)  # any mirror turns a right hand into a left one
    k = _hands(4, seed=11)
    right = wrist_frames_from_keypoints(k, "right")
    left = wrist_frames_from_keypoints(k @ reflect.T, "left")
    np.testing.assert_allclose(left[:, :3, :3], reflect @ right[:, :3, :3] @ np.diag([-1.0, 1, 1]), atol=1e-9)
    tips_r, tips_l = fingertips_in_wrist(k, right), fingertips_in_wrist(k @ reflect.T, left)
    np.testing.assert_allclose(tips_l, tips_r * np.tile([-1.0, 1, 1], 5), atol=1e-9)


def test_wrist_frames_degenerate_nan_and_empty() -> None:
    k = _hands(4)
    k[1, :] = np.nan
    k[2, 9] = k[2, 0]  # middle1 on the wrist
    k[3, 5] = k[3, 17]  # index1 on pinky1: no palm
    pose = wrist_frames_from_keypoints(k, "right")
    assert np.isfinite(pose[0]).all() and np.isnan(pose[1:]).all()
    assert np.isnan(fingertips_in_wrist(k, pose)[1:]).all()
    assert wrist_frames_from_keypoints(np.zeros((0, 21, 3)), "left").shape == (0, 4, 4)
    assert fingertips_in_wrist(np.zeros((0, 21, 3)), np.zeros((0, 4, 4))).shape == (0, 15)
    with pytest.raises(ValueError, match="side"):
        wrist_frames_from_keypoints(k, "both")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shape"):
        wrist_frames_from_keypoints(k[:, :20], "right")
    with pytest.raises(ValueError):
        fingertips_in_wrist(k, pose[:3])


# -- motion --------------------------------------------------------------------------------------------------------


def test_hand_motion() -> None:
    k = np.repeat(template_keypoints()[None], 6, axis=0)
    np.testing.assert_allclose(hand_motion(k), 0)
    step = np.array([0.003, -0.004, 0.0])  # 5 mm per frame
    moving = k + np.arange(6)[:, None, None] * step
    np.testing.assert_allclose(hand_motion(moving), 0.005)
    np.testing.assert_allclose(hand_motion(moving, fps=10), 0.05)  # m/s
    np.testing.assert_allclose(hand_motion(np.stack([moving, k], axis=1)), 0.0025)  # (T,2,21,3): both hands
    assert hand_motion(k[:1]).tolist() == [0.0] and hand_motion(k[:0]).shape == (0,)
    holes = moving.copy()
    holes[3, :10] = np.nan
    holes[5] = np.nan
    out = hand_motion(holes)
    np.testing.assert_allclose(out[:5], 0.005)  # NaN keypoints are skipped
    assert np.isnan(out[5])
    with pytest.raises(ValueError):
        hand_motion(np.zeros((3, 21, 2)))
