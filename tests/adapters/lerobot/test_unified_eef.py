"""RoboCOIN's unified end effector (`eef_sim_pose_state`) as the canonical hands (`adapters/lerobot/poses.yaml`
`robocoin_unified`, read by the pose layouts every LeRobot dataset goes through).

The dataset is the real RoboCOIN layout (tests/fixtures/lerobot_layouts/robocoin_v21, QianHuixun/New-Test@ff298f68
`meta/info.json`) with the test's own poses: each wrist drifts a few centimetres at roll 0.4, pitch 0.6, yaw 1.2
(left) and -0.3, 0.2, -0.8 (right), the left gripper opening and the right one closing. Checked by what the pose
means, not by the reader's formula: the canonical rotation is Rz(yaw)·Ry(pitch)·Rx(roll) written out by hand (the
maker's scipy "xyz", mujoco_fk.py:58-60), and not the intrinsic reading Rx·Ry·Rz; rotations are proper; the wrist is
the recorded site (no offset); the left wrist is left of the right one; the opening rises as the gripper opens.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from adapters.base import HandSignals, RawEpisode, Stream
from adapters.lerobot.adapter import LeRobotSource
from adapters.lerobot.poses import LAYOUTS, posed, with_poses
from ingest.frames import is_rotation, rot6d_to_matrix
from schemas.canonical import GRIPPER, WRIST_POS, WRIST_ROT6D, hand_dims
from schemas.canonicalize import CanonicalizeSpec
from schemas.lerobot import InfoJson
from schemas.tiers import reasons_of
from tests.fixtures.layouts import load_case, materialize, overwrite_columns
from tests.fixtures.offline import prepare
from tests.realdata import realdata

LAYOUT = Path(__file__).resolve().parents[2] / "fixtures" / "lerobot_layouts" / "robocoin_v21"
EMBODIMENT = "robocoin_unified"
REAL = "robocoin_g1edu_u3"  # tests/adapters/lerobot/test_annotations.py reads its annotations too
EULER = {0: (0.4, 0.6, 1.2), 1: (-0.3, 0.2, -0.8)}  # roll, pitch, yaw (rad)


def _rx(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _poses(n: int) -> tuple[np.ndarray, np.ndarray]:
    s = np.linspace(0.0, 1.0, n)[:, None]
    left = np.hstack([0.35 + 0.05 * s, 0.20 + 0 * s, 0.15 + 0.02 * s, np.tile(EULER[0], (n, 1)) + 0.1 * s])
    right = np.hstack([0.35 + 0 * s, -0.20 + 0.02 * s, 0.15 + 0 * s, np.tile(EULER[1], (n, 1)) - 0.1 * s])
    grip = np.hstack([np.linspace(0.0, 1.2, n)[:, None], np.linspace(1.0, 0.0, n)[:, None]])  # 1.2: past open
    return np.hstack([left, right]).astype(np.float32), grip.astype(np.float32)


def _raw(tmp: Path, *, zero_left: bool = False, gripper: bool = True) -> RawEpisode:
    case = load_case(LAYOUT)
    if gripper:  # RoboCOIN's gripper robots' column (a real R1-Lite info.json; README.md:118: 0 closed .. 1 open)
        names = ["left_gripper_open_scale", "right_gripper_open_scale"]
        case.info["features"]["gripper_open_scale_state"] = {"dtype": "float32", "shape": [2], "names": names}
    written = materialize(case, tmp / "rc", episodes=1, seconds=2.0)
    pose, grip = _poses(written.lengths[0])
    if zero_left:
        pose[:, :6] = 0.0
    overwrite_columns(
        written.root, 0, {"eef_sim_pose_state": pose} | ({"gripper_open_scale_state": grip} if gripper else {})
    )
    adapter = LeRobotSource()
    return adapter.read(next(iter(adapter.discover(written.root))))


def test_the_unified_eef_is_the_canonical_wrist(tmp_path: Path) -> None:
    raw = _raw(tmp_path)
    assert raw.embodiment == EMBODIMENT and not reasons_of(raw.verdicts)  # no longer "unknown robot: natives only"
    assert raw.metadata["embodiment_from"].startswith("the pose layout")
    assert raw.metadata["hands_from"].startswith("robocoin_unified: RoboCOIN unified end effector")
    [ep] = prepare(raw, CanonicalizeSpec()).episodes
    assert ep.action_kind == "canonical"
    pose = raw.signals["eef_sim_pose_state"].values.astype(np.float64)
    rows = np.rint(np.arange(ep.num_frames) * raw.native_fps / 10).astype(int)  # the 10 Hz grid on 30 fps rows
    s = rows / (len(pose) - 1)
    for hand, sign in ((0, 1.0), (1, -1.0)):
        np.testing.assert_allclose(
            ep.state[:, hand_dims(hand, WRIST_POS)], pose[rows, 6 * hand : 6 * hand + 3], atol=1e-4
        )
        R = rot6d_to_matrix(ep.state[:, hand_dims(hand, WRIST_ROT6D)].astype(np.float64))
        assert is_rotation(R).all()
        for k in range(len(rows)):
            roll, pitch, yaw = np.asarray(EULER[hand]) + sign * 0.1 * s[k]
            extrinsic = _rz(yaw) @ _ry(pitch) @ _rx(roll)  # about the fixed x, then y, then z
            np.testing.assert_allclose(R[k], extrinsic, atol=1e-4)
            assert np.abs(R[k] - _rx(roll) @ _ry(pitch) @ _rz(yaw)).max() > 0.1  # the intrinsic reading differs
    left, right = ep.state[:, hand_dims(0, WRIST_POS)], ep.state[:, hand_dims(1, WRIST_POS)]
    assert (left[:, 1] > right[:, 1]).all()  # y is left in RoboCOIN's frame


def test_the_gripper_opening_follows_the_open_scale(tmp_path: Path) -> None:
    [ep] = prepare(_raw(tmp_path), CanonicalizeSpec()).episodes
    left, right = ep.state[:, hand_dims(0, GRIPPER)][:, 0], ep.state[:, hand_dims(1, GRIPPER)][:, 0]
    assert np.all(np.diff(left) >= -1e-6) and left[-1] > left[0]  # opening: rises
    assert np.all(np.diff(right) <= 1e-6) and right[-1] < right[0]  # closing: falls
    assert left.max() <= 1.0 and left.min() >= 0.0  # 1.2 in the file is fully open, not more
    assert ep.mask[hand_dims(0, GRIPPER)].all()


def test_a_side_that_is_all_zero_is_no_hand(tmp_path: Path) -> None:
    raw = _raw(tmp_path, zero_left=True, gripper=False)
    assert sorted(raw.hands.hands) == [1]
    assert any(n.startswith("left: eef_sim_pose_state[") and "all zero" in n for n in raw.hands.notes)
    [ep] = prepare(raw, CanonicalizeSpec()).episodes
    assert not ep.mask[hand_dims(0, WRIST_POS)].any() and ep.mask[hand_dims(1, WRIST_POS)].all()
    assert not ep.mask[hand_dims(1, GRIPPER)].any()  # no open scale recorded: no gripper dim, and the notes say so
    said = "no gripper_open_scale_state[right_gripper_open_scale] in this episode: gripper opening not filled"
    assert said in raw.hands.notes, raw.hands.notes


def test_another_layout_of_the_column_is_said_and_left_native(tmp_path: Path) -> None:
    raw = _raw(tmp_path)
    pose = raw.signals["eef_sim_pose_state"]
    renamed = Stream(pose.timestamps, pose.values, tuple(f"q{i}" for i in range(12)))
    from adapters.base import HandSignals

    bare = type(raw)(
        **{**raw.__dict__, "signals": {**raw.signals, "eef_sim_pose_state": renamed}, "hands": HandSignals()}
    )
    info = InfoJson.model_validate_json((LAYOUT / "info.json").read_text())
    names = {"names": [f"q{i}" for i in range(12)]}
    feats = {**info.features, "eef_sim_pose_state": info.features["eef_sim_pose_state"].model_copy(update=names)}
    out = with_poses(bare, info.model_copy(update={"features": feats}), None, None)
    assert out.hands.empty
    [q] = [q for q in out.metadata["episode_quirks"] if q["code"] == "pose_layout_names"]
    assert (
        q["message"].startswith("robocoin_unified: left.position: eef_sim_pose_state names no")
        and "natives only" in q["message"]
    )


def test_a_known_robot_keeps_its_embodiment(tmp_path: Path) -> None:
    raw = _raw(tmp_path)
    known = posed(
        replace(raw, embodiment="piper_dual", hands=HandSignals()),
        "robocoin_unified",
        LAYOUTS["robocoin_unified"],
        None,
    )
    assert known.embodiment == "piper_dual" and not known.hands.empty


@pytest.mark.parametrize("column", ["eef_sim_pose_action"])
def test_the_commanded_pose_stays_a_native(tmp_path: Path, column: str) -> None:
    raw = _raw(tmp_path)
    [ep] = prepare(raw, CanonicalizeSpec()).episodes
    assert any(n.startswith(column) for n in ep.natives.state_names)


def test_real_robocoin_unified_eef() -> None:
    """A real RoboCOIN dataset (awaited: QianHuixun/New-Test@ff298f6, a Unitree G1edu-u3 with three-finger hands,
    origin between the feet): both wrists become canonical, finite, above the floor and within a humanoid's reach of
    the origin, the left one left of the right one in most frames, and the action is canonical. It records no
    gripper opening (its Dex3-1 joints `<side>_hand_joint_<k>_rad` stay natives): the notes say so per hand."""
    adapter = LeRobotSource()
    refs = sorted(adapter.discover(realdata(REAL)), key=lambda r: r.raw_id)
    raws = [adapter.read(r) for r in refs if r.error is None]  # the sample holds the first two episodes' parquets
    assert len(raws) >= 2
    for raw in raws:
        assert sorted(raw.hands.hands) == [0, 1] and raw.embodiment == EMBODIMENT
        assert sum("gripper opening not filled" in n for n in raw.hands.notes) == 2, raw.hands.notes
        [ep, *_] = prepare(raw, CanonicalizeSpec()).episodes
        assert not ep.mask[hand_dims(0, GRIPPER)].any() and not ep.mask[hand_dims(1, GRIPPER)].any()
        assert ep.action_kind == "canonical"
        left, right = ep.state[:, hand_dims(0, WRIST_POS)], ep.state[:, hand_dims(1, WRIST_POS)]
        for wrist in (left, right):
            assert np.isfinite(wrist).all() and (wrist[:, 2] > -0.2).all()
            assert (np.linalg.norm(wrist, axis=1) < 2.0).all()
        assert np.mean(left[:, 1] > right[:, 1]) > 0.9
