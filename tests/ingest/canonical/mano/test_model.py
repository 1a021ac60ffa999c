"""The MANO model through smplx (`ingest.canonical.mano.model`) on a synthetic model folder: keypoint order, rigid
motion, PCA, mirrored left hand, the reduced model, errors; the pickle converter's tests are in test_convert.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from ingest.canonical.hands import (
    FINGERTIPS,
)
from ingest.canonical.mano.convert import MANOModelError
from ingest.canonical.mano.model import MANO_TO_OPENPOSE, TIP_VERTICES, ManoHand
from schemas.canonical import FINGERTIPS as TIP_NAMES
from schemas.canonical import MANO21_NAMES
from tests.fixtures.mano import (
    MIRROR,
    hand_layout,
    mano_arrays,
    write_hostile_pickle,
    write_mano_npz,
)

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


def test_mean_pose(model_dir: Path) -> None:
    a = mano_arrays("right")
    go, _, betas, _ = _poses(6, seed=4)
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


def test_load_never_unpickles_and_checks_the_file(tmp_path: Path) -> None:
    only_pkl = tmp_path / "pkl"
    only_pkl.mkdir()
    write_hostile_pickle(only_pkl / "MANO_RIGHT.pkl", tmp_path / "pwned")
    with pytest.raises(MANOModelError, match=r"mano\.convert"):
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
