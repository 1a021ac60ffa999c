"""Recorded end-effector poses of LeRobot datasets become canonical hands (adapters/lerobot/poses.py, poses.yaml),
through the ingest's own steps. Datasets are written here with the makers' feature names (InternData-A1's converter
FEATURES, RoboCOIN's AgiBot G1 `observation.state` names; poses.yaml's header cites them) and generated motions
that hold physically: proper rotations, two arms mounted left and right of the robot's base, grippers that open,
actions that are the next recorded state at 10 Hz (as InternData-A1's converter writes them). Checked by invariants,
not by the formula re-run: the wrist sits the embodiment's offset behind the recorded TCP along the recorded
approach axis and is the end-link pose the dataset also records, left of right, the opening rises as the gripper
opens, the state plus the action is the recorded action pose; reading a wxyz quaternion as xyzw breaks them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from scipy.spatial.transform import Rotation

from adapters.base import AdapterError, RawEpisode
from adapters.lerobot.adapter import LeRobotOptions, LeRobotSource
from ingest.frames import apply_delta, pos_rot6d_to_pose, rot6d_to_matrix
from ingest.lerobot.writer import LeRobotWriter
from schemas.canonical import GRIPPER, WRIST_POS, WRIST_ROT6D, hand_dims
from schemas.lerobot_features import FeatureSpec
from schemas.tiers import reasons_of
from tests.fixtures.offline import prepare

N = 40  # rows at 10 Hz: frame k is row k
POSE_NAMES = ["position.x", "position.y", "position.z", "quaternion.w", "quaternion.x", "quaternion.y", "quaternion.z"]
SIDES = {"left": 0, "right": 1}


def _arm(side: str, seed: float) -> tuple[np.ndarray, Rotation]:
    """The end link's path in the robot frame (x forward, y left, z up): an arm mounted at y = +-0.3 reaching
    forward and down, turning about a pointing-down pose."""
    t = np.linspace(0.0, 1.0, N)
    y0 = 0.3 if side == "left" else -0.3
    pos = np.stack([0.35 + 0.15 * t, y0 + 0.05 * np.sin(2 * t + seed), 1.05 - 0.2 * t], axis=1)
    rot = Rotation.from_euler("xyz", np.stack([np.pi - 0.4 * t, 0.3 * np.sin(3 * t + seed), 0.6 * t - 0.2], axis=1))
    return pos, rot


def _tcp(pos: np.ndarray, rot: Rotation, tcp: np.ndarray) -> tuple[np.ndarray, Rotation]:
    """The TCP `tcp` (a point in the end link's frame) along the path: the converter's `ee @ tcp2ee_pose`."""
    return pos + rot.apply(tcp), rot


def _wxyz(pos: np.ndarray, rot: Rotation) -> np.ndarray:
    q = rot.as_quat()  # x, y, z, w
    return np.concatenate([pos, q[:, [3, 0, 1, 2]]], axis=1)


def _next(values: np.ndarray) -> np.ndarray:
    """The next row, the last repeated: how InternData-A1 writes each action."""
    return np.concatenate([values[1:], values[-1:]], axis=0)


def _write(root: Path, robot_type: str, columns: dict[str, tuple[np.ndarray, list[str]]]) -> Path:
    features = {k: FeatureSpec(dtype="float32", shape=(v.shape[1],), names=n) for k, (v, n) in columns.items()}
    with LeRobotWriter.create(root, fps=10, features=features, robot_type=robot_type) as w:
        with w.episode(task="put the pen into the holder") as ep:
            for i in range(N):
                ep.add_frame({k: v[i].astype(np.float32) for k, (v, _) in columns.items()})
    return root


def _interndata(root: Path, robot_type: str, tcp: np.ndarray, width_m: float) -> tuple[Path, dict]:
    """An InternData-A1 dataset as lmdb2lerobot_<robot>_a1.py writes it (FEATURES names, w-first quaternions)."""
    cols, truth = {}, {}
    for side, seed in (("left", 0.0), ("right", 1.3)):
        ee, rot = _arm(side, seed)
        tp, _ = _tcp(ee, rot, tcp)
        width = width_m * np.linspace(0.0, 1.0, N)[:, None] ** (1.5 if side == "left" else 1.0)
        state = {
            f"{side}_ee_to_robot_pose": (_wxyz(ee, rot), POSE_NAMES),
            f"{side}_tcp_to_robot_pose": (_wxyz(tp, rot), POSE_NAMES),
            f"{side}_gripper.position": (width, [f"{side}_gripper_0"]),
            f"{side}_joint.position": (np.zeros((N, 7)), [f"{side}_joint_{i}" for i in range(7)]),
        }
        for k, (v, names) in state.items():
            cols[f"states.{k}"] = (v, names)
            cols[f"actions.{k}"] = (_next(v), names)
        truth[side] = {"ee": ee, "rot": rot, "tcp": tp, "width": width[:, 0]}
    return _write(root, robot_type, cols), truth


def _read(root: Path, **options) -> RawEpisode:
    adapter = LeRobotSource(options)
    (ref,) = list(adapter.discover(root))
    return adapter.read(ref)


def _canonical(raw: RawEpisode):
    done = prepare(raw)
    (ep,) = done.episodes
    assert len(ep.timestamps) == N and np.allclose(ep.timestamps, np.arange(N) / 10)
    return ep


def _wrists(ep, hand: int) -> tuple[np.ndarray, np.ndarray]:
    pos = ep.state[:, hand_dims(hand, WRIST_POS)].astype(np.float64)
    r = rot6d_to_matrix(ep.state[:, hand_dims(hand, WRIST_ROT6D)].astype(np.float64))
    assert np.allclose(np.linalg.det(r), 1.0, atol=1e-5)
    assert np.allclose(r @ np.swapaxes(r, 1, 2), np.eye(3), atol=1e-5)  # proper rotations
    return pos, r


@pytest.mark.parametrize(
    ("robot_type", "embodiment", "tcp_m", "width_m"),
    [("Genie-1", "interndata_genie1", 0.22, 0.1), ("AgileX Split Aloha", "split_aloha_piper", 0.135, 0.10)],
)
def test_interndata_tcp_poses_become_both_wrists(
    tmp_path: Path, robot_type: str, embodiment: str, tcp_m: float, width_m: float
) -> None:
    root, truth = _interndata(tmp_path / "a1", robot_type, np.array([0.0, 0.0, tcp_m]), width_m)
    raw = _read(root)
    assert raw.embodiment == embodiment, raw.metadata["embodiment_from"]
    assert raw.metadata["hands_from"].startswith("interndata_a1_")
    ep = _canonical(raw)
    assert not [r for r in ep.tier_reasons if "natives only" in r]
    for side, hand in SIDES.items():
        pos, r = _wrists(ep, hand)
        t = truth[side]
        z = t["rot"].as_matrix()[:, :, 2]
        assert np.allclose(r[:, :, 2], z, atol=1e-5)  # the approach axis is the recorded one, read w first
        assert np.allclose(np.linalg.norm(t["tcp"] - pos, axis=1), tcp_m, atol=1e-5)
        assert np.allclose(pos, t["tcp"] - tcp_m * z, atol=1e-5)  # the offset behind the TCP, along its z
        assert np.allclose(pos, t["ee"], atol=1e-5)  # = the end link the dataset also records
        grip = ep.state[:, hand_dims(hand, GRIPPER)][:, 0]
        assert np.all(np.diff(grip) >= -1e-6) and grip[0] < 0.05 and grip[-1] > 0.95  # opens as the width rises
        assert np.allclose(grip, t["width"] / width_m, atol=1e-5)
    left, right = ep.state[:, hand_dims(0, WRIST_POS)], ep.state[:, hand_dims(1, WRIST_POS)]
    assert np.all(left[:, 1] > right[:, 1] + 0.4)  # the left arm left of the right one


def test_the_action_is_the_recorded_action_pose(tmp_path: Path) -> None:
    """state + action = the recorded `actions.*_tcp_to_robot_pose`, moved to the wrist, at every 10 Hz frame."""
    root, truth = _interndata(tmp_path / "a1", "Genie-1", np.array([0.0, 0.0, 0.22]), 0.1)
    raw = _read(root)
    assert any("command_tracking median 0.0 mm, p95 0.0 mm" in n for n in raw.hands.notes), raw.hands.notes
    ep = _canonical(raw)
    a1 = raw.signals if "actions.left_tcp_to_robot_pose" in raw.signals else raw.actions
    for side, hand in SIDES.items():
        dims = hand_dims(hand, slice(0, 9))
        poses = pos_rot6d_to_pose(ep.state[:, dims].astype(np.float64))
        moved = apply_delta(poses, ep.action[:, dims].astype(np.float64))
        recorded = a1[f"actions.{side}_tcp_to_robot_pose"].values.astype(np.float64)
        rot = Rotation.from_quat(recorded[:, [4, 5, 6, 3]])
        wrist = recorded[:, :3] - 0.22 * rot.as_matrix()[:, :, 2]
        assert np.allclose(moved[:-1, :3, 3], wrist[:-1], atol=1e-4)
        assert np.allclose(moved[:-1, :3, :3], rot.as_matrix()[:-1], atol=1e-4)
        grip_action = ep.action[:, hand_dims(hand, GRIPPER)][:-1, 0]
        assert np.allclose(grip_action, truth[side]["width"][1:] / 0.1, atol=1e-5)


def test_lift2_approach_is_the_end_links_x(tmp_path: Path) -> None:
    """ARX Lift-2's TCP lies 0.16157 m along its end link's x: the wrist's z is that x, the wrist that far behind."""
    root, truth = _interndata(tmp_path / "lift2", "ARX Lift-2", np.array([0.16157, 0.0, 0.0]), 0.088)
    raw = _read(root)
    assert raw.embodiment == "arx_lift2"
    ep = _canonical(raw)
    for side, hand in SIDES.items():
        pos, r = _wrists(ep, hand)
        x = truth[side]["rot"].as_matrix()[:, :, 0]
        assert np.allclose(r[:, :, 2], x, atol=1e-5)
        assert np.allclose(pos, truth[side]["ee"], atol=1e-5)
        assert np.allclose(pos, truth[side]["tcp"] - 0.16157 * x, atol=1e-5)


def test_a_quaternion_read_in_the_wrong_order_breaks_the_invariants(tmp_path: Path) -> None:
    """The same columns declared x, y, z, w (by position) put the wrist's approach axis off the recorded one."""
    root, truth = _interndata(tmp_path / "a1", "Genie-1", np.array([0.0, 0.0, 0.22]), 0.1)
    hand = {
        side: {
            "position": {"key": f"states.{side}_tcp_to_robot_pose", "index": [0, 3]},
            "rotation": {"key": f"states.{side}_tcp_to_robot_pose", "index": [3, 7]},
            "rotation_unit": "quat_xyzw",
        }
        for side in SIDES
    }
    raw = _read(root, poses={"point": "tcp", "robot_types": {"Genie-1": "interndata_genie1"}, **hand})
    ep = _canonical(raw)
    pos, r = _wrists(ep, 0)
    z = truth["left"]["rot"].as_matrix()[:, :, 2]
    assert not np.allclose(r[:, :, 2], z, atol=1e-2)
    assert not np.allclose(pos, truth["left"]["ee"], atol=1e-2)
    # the same declaration with the maker's order holds them
    hand = {s: {**h, "rotation_unit": "quat_wxyz"} for s, h in hand.items()}
    ep = _canonical(_read(root, poses={"point": "tcp", "robot_types": {"Genie-1": "interndata_genie1"}, **hand}))
    assert np.allclose(_wrists(ep, 0)[0], truth["left"]["ee"], atol=1e-5)


@pytest.mark.parametrize("modality", [False, True])
def test_robocoin_agibot_g1_end_poses(tmp_path: Path, modality: bool) -> None:
    """RoboCOIN's AgiBot G1: end poses named in observation.state (x, y, z, w by name); the end is the flange. A
    GR00T modality.json that cuts observation.state into slices leaves the names where they were."""
    state_names = [f"{s}_arm_joint_{i}_rad" for s in SIDES for i in range(1, 8)]
    state_names += [
        f"{s}_end_{k}" for s in SIDES for k in ("pos_x_m", "pos_y_m", "pos_z_m", *(f"quat_{c}" for c in "xyzw"))
    ]
    state_names += ["left_gripper_open", "right_gripper_open"]
    state, truth = np.zeros((N, len(state_names))), {}
    for side, seed in (("left", 0.2), ("right", 0.9)):
        pos, rot = _arm(side, seed)
        i = state_names.index(f"{side}_end_pos_x_m")
        state[:, i : i + 7] = np.concatenate([pos, rot.as_quat()], axis=1)
        truth[side] = (pos, rot)
    root = _write(
        tmp_path / "g1", "AgiBot-g1", {"observation.state": (state, state_names), "action": (_next(state), state_names)}
    )
    if modality:
        cuts = {"arms": {"start": 0, "end": 14}, "ends": {"start": 14, "end": 28}}  # the rest: .unassigned
        (root / "meta" / "modality.json").write_text(json.dumps({"state": cuts, "action": cuts}))
    raw = _read(root)
    assert ("state.ends" in raw.states) is modality
    assert raw.embodiment == "agibot_gripper" and raw.metadata["hands_from"].startswith("robocoin_agibot_g1")
    assert sum("command_tracking median 0.0 mm, p95 0.0 mm" in n for n in raw.hands.notes) == 2
    ep = _canonical(raw)
    for side, hand in SIDES.items():
        pos, r = _wrists(ep, hand)
        assert np.allclose(pos, truth[side][0], atol=1e-5)  # a flange: no offset
        assert np.allclose(r, truth[side][1].as_matrix(), atol=1e-5)


def test_interndata_franka_end_pose_is_the_flange(tmp_path: Path) -> None:
    """InternData-A1's one-armed Franka: `states.ee_to_robot_pose` is panda_hand / panda_link8, the wrist itself; its
    zero-based joints (`joint_0` ..) stay natives, never read as panda_joint1 .. by FK."""
    ee, rot = _arm("right", 0.4)
    pose = _wxyz(ee, rot)
    joints = [f"joint_{i}" for i in range(7)]
    cols = {
        "states.joint.position": (np.full((N, 7), 0.3), joints),
        "states.ee_to_robot_pose": (pose, POSE_NAMES),
        "actions.ee_to_robot_pose": (_next(pose), POSE_NAMES),
    }
    raw = _read(_write(tmp_path / "franka", "Franka", cols))
    assert raw.embodiment == "franka" and set(raw.hands.hands) == {1}
    assert any("command_tracking median 0.0 mm, p95 0.0 mm" in n for n in raw.hands.notes)
    ep = _canonical(raw)
    pos, r = _wrists(ep, 1)
    assert np.allclose(pos, ee, atol=1e-5) and np.allclose(r, rot.as_matrix(), atol=1e-5)
    assert not ep.state[:, hand_dims(0, WRIST_POS)].any()  # one arm: no left hand


def _franka(root: Path, grip: np.ndarray) -> RawEpisode:
    """InternData-A1's Franka as lmdb2lerobot_frankarobotiq_a1.py writes it: robot_type `Franka`, the flange pose
    w-first, `states.gripper.position` [gripper_0], each `actions.*` the next state."""
    ee, rot = _arm("right", 0.4)
    pose = _wxyz(ee, rot)
    cols = {
        "states.ee_to_robot_pose": (pose, POSE_NAMES),
        "actions.ee_to_robot_pose": (_next(pose), POSE_NAMES),
        "states.gripper.position": (grip[:, None], ["gripper_0"]),
        "actions.gripper.position": (_next(grip[:, None]), ["gripper_0"]),
    }
    return _read(_write(root, "Franka", cols))


def test_interndata_franka_robotiq_gripper_is_its_recorded_level(tmp_path: Path) -> None:
    """The Robotiq converter's gripper is 1.0 open / 0.0 closed (franka_robotiq85.py:66): the canonical opening is the
    recorded state at every frame, and the canonical action's the recorded `actions.gripper.position` (the maker's
    next state) of the same row. Reading 1 as closed breaks both."""
    grip = np.r_[np.ones(12), np.zeros(20), np.ones(8)]  # open, grasp, release
    raw = _franka(tmp_path / "franka", grip)
    ep = _canonical(raw)
    assert ep.mask[hand_dims(1, GRIPPER)].all() and not ep.mask[hand_dims(0, GRIPPER)].any()
    recorded = np.asarray(raw.states["states.gripper.position"].values).reshape(-1)
    commanded = np.asarray(raw.actions["actions.gripper.position"].values).reshape(-1)
    assert np.array_equal(ep.state[:, hand_dims(1, GRIPPER)][:, 0], recorded)
    assert np.array_equal(ep.action[:, hand_dims(1, GRIPPER)][:, 0], commanded)


def test_a_width_under_the_robotiq_robot_type_is_not_read_as_its_levels(tmp_path: Path) -> None:
    """A Franka Hand width (0 .. 0.08 m, fr3.py:48) written under robot_type `Franka`: not the Robotiq's levels, so the
    gripper is left out and the notes say why (read as levels it would be nearly closed throughout)."""
    raw = _franka(tmp_path / "franka", np.linspace(0.0, 0.08, N))
    assert any("not the levels [0.0, 1.0]" in n and "gripper not read" in n for n in raw.hands.notes), raw.hands.notes
    ep = _canonical(raw)
    assert not ep.mask[hand_dims(1, GRIPPER)].any() and ep.mask[hand_dims(1, WRIST_POS)].all()


def test_a_robot_without_an_embodiment_keeps_its_natives_and_says_why(tmp_path: Path) -> None:
    root, _ = _interndata(tmp_path / "acone", "ARX AC One", np.array([0.0, 0.0, 0.2]), 0.1)
    raw = _read(root)
    assert raw.hands.empty and raw.embodiment == "unknown"
    assert any(r.startswith("recorded poses (interndata_a1:") and "natives only" in r for r in reasons_of(raw.verdicts))


def test_a_declared_pose_layout(tmp_path: Path) -> None:
    """A rig of its own: one arm's pose in observation.state, its gripper 1 when closed, declared by the option."""
    names = ["ee_x", "ee_y", "ee_z", "ee_qw", "ee_qx", "ee_qy", "ee_qz", "grip"]
    pos, rot = _arm("right", 0.5)
    closed = 1.0 - np.linspace(0.0, 1.0, N)[:, None]  # 1 closed .. 0 open
    state = np.concatenate([pos, rot.as_quat()[:, [3, 0, 1, 2]], closed], axis=1)
    root = _write(tmp_path / "rig", "my_rig", {"observation.state": (state, names), "action": (_next(state), names)})
    poses = {
        "point": "flange",
        "embodiment": "franka",
        "right": {
            "position": {"key": "observation.state", "names": ["ee_x", "ee_y", "ee_z"]},
            "rotation": {"key": "observation.state", "names": ["ee_qw", "ee_qx", "ee_qy", "ee_qz"]},
            "rotation_unit": "quat_wxyz",
            "gripper": {"key": "observation.state", "names": ["grip"]},
            "gripper_closed": 1.0,
            "gripper_open": 0.0,
        },
    }
    ep = _canonical(_read(root, poses=poses))
    wrist, r = _wrists(ep, 1)
    assert np.allclose(wrist, pos, atol=1e-5) and np.allclose(r, rot.as_matrix(), atol=1e-5)
    grip = ep.state[:, hand_dims(1, GRIPPER)][:, 0]
    assert np.all(np.diff(grip) > 0) and np.isclose(grip[0], 0.0) and np.isclose(grip[-1], 1.0)


def test_the_poses_option_is_validated_field_by_field(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"poses\.PoseLayout\.right\.rotation_unit"):
        LeRobotOptions(poses={"point": "tcp", "right": {"position": "a", "rotation": "b", "rotation_unit": "quat_abc"}})
    with pytest.raises(ValidationError, match="a gripper needs gripper_open"):
        LeRobotOptions(
            poses={
                "point": "tcp",
                "right": {"position": "a", "rotation": "b", "rotation_unit": "quat_xyzw", "gripper": "g"},
            }
        )
    with pytest.raises(ValidationError, match="unknown pose layout 'nope'"):
        LeRobotOptions(poses="nope")
    with pytest.raises(ValidationError, match=r"unknown embodiment\(s\) \['robot_x'\]"):
        LeRobotOptions(poses={"point": "tcp", "embodiment": "robot_x"})
    root, _ = _interndata(tmp_path / "a1", "Genie-1", np.array([0.0, 0.0, 0.22]), 0.1)
    declared = {
        "point": "tcp",
        "left": {
            "position": "states.left_tcp_pose",
            "rotation": {"key": "states.left_tcp_to_robot_pose", "names": ["quaternion.q"]},
            "rotation_unit": "quat_wxyz",
        },
    }
    with pytest.raises(AdapterError) as err:
        _read(root, poses=declared)
    msg = str(err.value)
    assert "left.position: no column 'states.left_tcp_pose'" in msg and "names no ['quaternion.q']" in msg
    assert err.value.field == "poses" and "info.json" in str(err.value.file)
