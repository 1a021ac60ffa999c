"""Declared MANO hands (`HandTrack.mano`) evaluated by canonicalization: the hand follows the declared wrist (turned
with its rotation about the wrist joint, moved with its translation), the adapter's episode is left as it was, and a
model that cannot be loaded names the model folder, the episode and the field."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from adapters.base import AdapterError, EpisodeRef, HandSignals, HandTrack, ManoParams, RawEpisode, Stream
from ingest.canonical.mano.evaluate import mano_hands
from schemas.canonical import MANO21_NAMES
from schemas.tiers import QualityTier
from tests.fixtures.mano import write_mano_npz

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
