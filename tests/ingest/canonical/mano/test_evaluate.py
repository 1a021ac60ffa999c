"""Declared MANO hands (`HandTrack.mano`) evaluated by canonicalization: the hand follows the declared wrist (turned
with its rotation about the wrist joint, moved with its translation), the adapter's episode is left as it was, and a
model that cannot be loaded names the model folder, the episode and the field.

MANO hand poses in every form its makers ship (`ingest.canonical.mano.evaluate`, `schemas.mano`): round trips between
the forms, `flat_hand_mean` on and off, OakInk2's root quaternion, and through a (synthetic, test-written) MANO model
the same hand whatever form it came in, a left hand on MANO_RIGHT landing where the left model puts it. The
inverse conversions (any form from the full articulation) are this file's own: nothing shipped converts back.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from adapters.base import AdapterError, EpisodeRef, HandSignals, HandTrack, ManoParams, RawEpisode, Stream
from ingest.canonical.mano.evaluate import (
    articulation,
    mano_hands,
    mano_keypoints,
    quat_wxyz_to_rotmat,
    rotmat_to_axis_angle,
)
from ingest.canonical.mano.model import ManoHand
from schemas.canonical import BONES, MANO21_NAMES, bone_lengths
from schemas.mano import MANO_FORMS, NUM_HAND_JOINTS, ManoConvention
from schemas.tiers import QualityTier
from tests.fixtures.mano import mano_arrays, write_mano_npz

WRIST = MANO21_NAMES.index("wrist")
T = 6


def _wrists(turn: Rotation, shift: np.ndarray) -> np.ndarray:
    poses = np.tile(np.eye(4), (T, 1, 1))
    poses[:, :3, :3] = turn.as_matrix()
    poses[:, :3, 3] = np.array([0.1, -0.2, 0.9]) + shift
    return poses


def _raw(model_dir: Path, wrists: np.ndarray, other: HandTrack | None = None) -> RawEpisode:
    ts = np.arange(T) / 30.0
    pose = np.random.default_rng(3).normal(0.0, 0.5, (T, 15))
    mano = ManoParams(
        Stream(ts, wrists, unit="se3_4x4", frame="w"), Stream(ts, pose), np.linspace(-1, 1, 10), str(model_dir)
    )
    hands = {1: HandTrack(mano=mano)} | ({0: other} if other is not None else {})
    ref = EpisodeRef(adapter="hot3d", source="hot3d", subset="aria", raw_id="P0001_x", paths=("P0001_x",))
    return RawEpisode(ref, None, "human", QualityTier.high, 30.0, hands=HandSignals(hands=hands, frame="w"))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mano")
    write_mano_npz(folder)
    return folder


def test_the_hand_turns_about_its_wrist_and_moves_with_the_translation(model_dir: Path) -> None:
    still = mano_hands(_raw(model_dir, _wrists(Rotation.identity(), np.zeros(3)))).hands[1].keypoints
    turn = Rotation.from_rotvec([0.3, -1.1, 0.6])
    turned = mano_hands(_raw(model_dir, _wrists(turn, np.zeros(3)))).hands[1].keypoints
    moved = mano_hands(_raw(model_dir, _wrists(Rotation.identity(), np.array([0.05, 0.4, -0.3])))).hands[1].keypoints
    assert still is not None and turned is not None and moved is not None
    a, b = still.values, turned.values
    assert a.shape == (T, 21, 3) and still.names == MANO21_NAMES and still.unit == "m" and still.frame == "w"
    np.testing.assert_allclose(b[:, WRIST], a[:, WRIST], atol=1e-6)  # MANO turns about the wrist joint
    np.testing.assert_allclose(
        b - b[:, WRIST : WRIST + 1], (a - a[:, WRIST : WRIST + 1]) @ turn.as_matrix().T, atol=1e-5
    )
    np.testing.assert_allclose(moved.values - a, np.broadcast_to([0.05, 0.4, -0.3], a.shape), atol=1e-5)


def test_the_episode_is_left_unchanged_and_other_hands_pass_through(model_dir: Path) -> None:
    other = HandTrack(keypoints=Stream(np.arange(T) / 30.0, np.zeros((T, 21, 3)), unit="m", frame="w"))
    raw = _raw(model_dir, _wrists(Rotation.identity(), np.zeros(3)), other)
    sig = mano_hands(raw)
    assert sig is not raw.hands and raw.hands.hands[1].keypoints is None  # the adapter's declaration stays as read
    assert sig.hands[0] is other and sig.hands[1].keypoints is not None and sig.frame == "w"
    plain = replace(_raw(model_dir, _wrists(Rotation.identity(), np.zeros(3))), hands=HandSignals(hands={0: other}))
    assert mano_hands(plain) is plain.hands  # nothing declared as MANO: nothing to evaluate


def test_a_missing_model_names_folder_episode_and_field(tmp_path: Path) -> None:
    with pytest.raises(AdapterError) as err:
        mano_hands(_raw(tmp_path / "none", _wrists(Rotation.identity(), np.zeros(3))))
    e = err.value
    assert e.field == "mano_model_dir" and e.episode == "P0001_x" and e.file == str(tmp_path / "none")
    assert e.adapter == "hot3d" and "MANO right model" in e.reason and "MANO_RIGHT.npz" in e.reason


def test_given_keypoints_stay_the_truth_and_the_mano_ones_are_measured_against_them(model_dir: Path) -> None:
    raw = _raw(model_dir, _wrists(Rotation.from_rotvec([0.2, 0.1, -0.4]), np.zeros(3)))
    evaluated = mano_hands(raw).hands[1].keypoints
    assert evaluated is not None
    shifted = evaluated.values + np.array([0.0, 0.0, 0.003])  # the source's joints, 3 mm off the model's
    given = replace(raw.hands.hands[1], keypoints=Stream(evaluated.timestamps, shifted, unit="m", frame="w"))
    sig = mano_hands(replace(raw, hands=HandSignals(hands={1: given}, frame="w")))
    assert sig.hands[1] is given  # kept as given
    (note,) = sig.notes
    assert "MANO right hand checked against the source's keypoints" in note and f"on {T} frames" in note
    assert "joints within 3.00 mm" in note and "bone lengths within 0.00 mm" in note


def test_a_hand_fitted_in_a_moving_frame_is_carried_out_of_it(model_dir: Path) -> None:
    """`frame_pose` (HOI4D: parameters fitted in each frame's camera): the keypoints are those of the hand in the
    fitting frame, moved rigidly by that frame's pose, so the hand's shape is kept and its wrist lands where the pose
    takes the camera-frame wrist; the stream is named in the signals' frame."""
    wrists = _wrists(Rotation.from_rotvec([0.2, 0.4, -0.1]), np.zeros(3))
    in_camera = mano_hands(_raw(model_dir, wrists)).hands[1].keypoints
    turns = Rotation.from_rotvec(np.linspace([0.0, 0.0, 0.0], [0.3, -0.8, 0.5], T)).as_matrix()
    poses = np.tile(np.eye(4), (T, 1, 1))
    poses[:, :3, :3], poses[:, :3, 3] = turns, np.linspace([0.0, 0.0, 0.0], [0.4, 0.1, -0.2], T)
    raw = _raw(model_dir, wrists)
    mano = replace(raw.hands.hands[1].mano, frame_pose=poses)  # type: ignore[type-var]
    raw = replace(raw, hands=HandSignals(hands={1: HandTrack(mano=mano)}, frame="world"))
    carried = mano_hands(raw).hands[1].keypoints
    assert in_camera is not None and carried is not None and carried.frame == "world"
    want = np.einsum("tij,tpj->tpi", turns, in_camera.values) + poses[:, None, :3, 3]
    np.testing.assert_allclose(carried.values, want, atol=1e-9)
    bones = np.linalg.norm(carried.values - carried.values[:, WRIST : WRIST + 1], axis=-1)
    np.testing.assert_allclose(
        bones, np.linalg.norm(in_camera.values - in_camera.values[:, WRIST : WRIST + 1], axis=-1)
    )


def axis_angle_to_rotmat(aa: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle -> (..., 3, 3) rotation matrices."""
    aa = np.asarray(aa, np.float64)
    return Rotation.from_rotvec(aa.reshape(-1, 3)).as_matrix().reshape(*aa.shape[:-1], 3, 3)


def rotmat_to_quat_wxyz(rot: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 4) unit quaternions (w, x, y, z) with w >= 0."""
    rot = np.asarray(rot, np.float64)
    q = Rotation.from_matrix(rot.reshape(-1, 3, 3)).as_quat(canonical=True, scalar_first=True)
    return q.reshape(*rot.shape[:-2], 4)


def from_articulation(
    full: np.ndarray, conv: ManoConvention, components: np.ndarray, hands_mean: np.ndarray
) -> np.ndarray:
    """The inverse of `articulation`: (T, 45) whole articulation -> the pose in `conv`'s form. PCA is the least-squares
    fit on the first k components (exact when k = 45, or when the pose lies in their span)."""
    full = np.asarray(full, np.float64)
    aa = full if conv.flat_hand_mean else full - np.asarray(hands_mean, np.float64)
    if conv.form == "pca":
        basis = np.asarray(components, np.float64)[: conv.num_pca_comps]
        return np.linalg.lstsq(basis.T, aa.T, rcond=None)[0].T
    if conv.form == "axis_angle":
        return aa
    rot = axis_angle_to_rotmat(aa.reshape(len(aa), NUM_HAND_JOINTS, 3))
    return rot if conv.form == "rotmat" else rotmat_to_quat_wxyz(rot)


FRAMES = 7
AA_MIRROR = np.tile([1.0, -1.0, -1.0], 15)  # axis-angle of a rotation mirrored across x


def _articulations(seed: int = 0) -> np.ndarray:
    """(FRAMES, 45) joint rotations with angles below pi (where axis-angle is unique)."""
    rot = Rotation.random(FRAMES * 15, random_state=seed).as_rotvec()
    return (rot / np.linalg.norm(rot, axis=1, keepdims=True) * np.linspace(0.05, 2.9, FRAMES * 15)[:, None]).reshape(
        FRAMES, 45
    )


def _random_wrists(seed: int = 1) -> np.ndarray:
    poses = np.tile(np.eye(4), (FRAMES, 1, 1))
    poses[:, :3, :3] = Rotation.random(FRAMES, random_state=seed).as_matrix()
    poses[:, :3, 3] = np.random.default_rng(seed).normal(0, 0.3, (FRAMES, 3))
    return poses


def test_rotation_matrices_axis_angle_and_quaternions_round_trip() -> None:
    aa = _articulations().reshape(FRAMES, 15, 3)
    rot = axis_angle_to_rotmat(aa)
    assert rot.shape == (FRAMES, 15, 3, 3)
    np.testing.assert_allclose(
        np.einsum("...ji,...jk->...ik", rot, rot), np.broadcast_to(np.eye(3), rot.shape), atol=1e-12
    )
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-12)  # proper rotations
    np.testing.assert_allclose(rotmat_to_axis_angle(rot), aa, atol=1e-10)
    q = rotmat_to_quat_wxyz(rot)
    assert q.shape == (FRAMES, 15, 4) and (q[..., 0] >= 0).all()
    np.testing.assert_allclose(np.linalg.norm(q, axis=-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(quat_wxyz_to_rotmat(q), rot, atol=1e-12)
    np.testing.assert_allclose(quat_wxyz_to_rotmat(-q), rot, atol=1e-12)  # q and -q are one rotation
    # w first: the quaternion of a turn about z by 90 degrees is (cos 45, 0, 0, sin 45)
    np.testing.assert_allclose(
        rotmat_to_quat_wxyz(axis_angle_to_rotmat(np.array([0, 0, np.pi / 2]))), [0.5**0.5, 0, 0, 0.5**0.5]
    )


@pytest.mark.parametrize("flat", [True, False])
@pytest.mark.parametrize("form", MANO_FORMS)
def test_every_form_round_trips_through_the_articulation(form: str, flat: bool) -> None:
    arrays = mano_arrays("right")
    basis = (arrays["hands_components"], arrays["hands_mean"])
    conv = ManoConvention(form, 45, flat_hand_mean=flat)  # type: ignore[arg-type]
    full = _articulations(2) + (0.0 if flat else arrays["hands_mean"])
    pose = from_articulation(full, conv, *basis)
    assert pose.shape == (FRAMES, *conv.row_shape())
    np.testing.assert_allclose(articulation(pose, conv, *basis), full, atol=1e-9)
    np.testing.assert_allclose(from_articulation(articulation(pose, conv, *basis), conv, *basis), pose, atol=1e-9)


def test_flat_hand_mean_decides_whether_the_mean_pose_is_added() -> None:
    arrays = mano_arrays("right")
    basis = (arrays["hands_components"], arrays["hands_mean"])
    pose = _articulations(3)
    offset = articulation(pose, ManoConvention("axis_angle"), *basis)
    whole = articulation(pose, ManoConvention("axis_angle", flat_hand_mean=True), *basis)
    np.testing.assert_allclose(offset - whole, np.broadcast_to(arrays["hands_mean"], pose.shape), atol=1e-12)
    # 15 PCA coefficients are a fit on the first 15 components: exact for a pose in their span, not beyond
    coeffs = np.random.default_rng(4).normal(size=(FRAMES, 15))
    conv15 = ManoConvention("pca", 15)
    np.testing.assert_allclose(
        from_articulation(articulation(coeffs, conv15, *basis), conv15, *basis), coeffs, atol=1e-9
    )
    with pytest.raises(ValueError, match="expected"):
        articulation(np.zeros((FRAMES, 45)), conv15, *basis)


def _keypoints(model_dir: Path, side: str, pose: np.ndarray, conv: ManoConvention, wrists: np.ndarray) -> np.ndarray:
    layer = ManoHand.load(model_dir, side, flat_hand_mean=True, dtype="float64")  # type: ignore[arg-type]
    ts = np.arange(FRAMES) / 30.0
    mano = ManoParams(Stream(ts, wrists, unit="se3_4x4"), Stream(ts, pose), np.linspace(-1, 1, 10), "", conv)
    return mano_keypoints(layer, mano)


def test_the_same_hand_in_every_form_gives_the_same_keypoints(model_dir: Path) -> None:
    arrays = mano_arrays("right")
    basis = (arrays["hands_components"], arrays["hands_mean"])
    full, wrists = 0.4 * _articulations(6), _random_wrists()
    got = []
    for form in MANO_FORMS:
        for flat in (True, False):
            conv = ManoConvention(form, 45, flat_hand_mean=flat)  # type: ignore[arg-type]
            got.append(_keypoints(model_dir, "right", from_articulation(full, conv, *basis), conv, wrists))
    for kp in got[1:]:
        np.testing.assert_allclose(kp, got[0], atol=1e-7)
    rest = _keypoints(
        model_dir, "right", np.zeros((FRAMES, 45)), ManoConvention("axis_angle", flat_hand_mean=True), wrists
    )
    joint_bones = [i for i, (_, b) in enumerate(BONES) if b % 4]  # the tip vertices move with pose blend shapes
    np.testing.assert_allclose(bone_lengths(got[0])[:, joint_bones], bone_lengths(rest)[:, joint_bones], atol=1e-7)


def test_the_wrist_is_the_joint_or_the_transl_parameter(model_dir: Path) -> None:
    pose, wrists = np.zeros((FRAMES, 45)), _random_wrists()
    joint = _keypoints(model_dir, "right", pose, ManoConvention("axis_angle", wrist_at="joint"), wrists)
    np.testing.assert_allclose(joint[:, 0], wrists[:, :3, 3], atol=1e-9)
    transl = _keypoints(model_dir, "right", pose, ManoConvention("axis_angle"), wrists)
    rest_wrist = transl[:, 0] - wrists[:, :3, 3]  # J0(betas): the same for every frame, not the origin
    np.testing.assert_allclose(rest_wrist, np.broadcast_to(rest_wrist[0], rest_wrist.shape), atol=1e-9)
    np.testing.assert_allclose(transl - rest_wrist[:, None], joint, atol=1e-9)


def test_a_left_hand_on_mano_right_lands_where_the_left_model_puts_it(model_dir: Path) -> None:
    """VITRA's convention: the left hand posed on MANO_RIGHT, mirrored across x, then turned and placed. The test
    model's left hand is the exact mirror of its right, so the mirrored pose on MANO_LEFT is the same hand."""
    full, wrists = 0.4 * _articulations(7), _random_wrists(8)
    on_right = ManoConvention("axis_angle", flat_hand_mean=True, left_on_right=True, wrist_at="joint")
    vitra = _keypoints(model_dir, "right", full, on_right, wrists)
    own = ManoConvention("axis_angle", flat_hand_mean=True, wrist_at="joint")
    left = _keypoints(model_dir, "left", full * AA_MIRROR, own, wrists)
    np.testing.assert_allclose(vitra, left, atol=1e-7)
    right = _keypoints(model_dir, "right", full, own, wrists)
    assert np.abs(right - vitra).max() > 0.02  # not mirrored, it is a right hand: centimetres away
    # the thumb tip on the other side of the wrist frame's x axis: a left hand, not a turned right one
    local = np.einsum("tji,tpj->tpi", wrists[:, :3, :3], vitra - wrists[:, None, :3, 3])
    local_r = np.einsum("tji,tpj->tpi", wrists[:, :3, :3], right - wrists[:, None, :3, 3])
    np.testing.assert_allclose(local[:, 4], local_r[:, 4] * [-1.0, 1.0, 1.0], atol=1e-7)
