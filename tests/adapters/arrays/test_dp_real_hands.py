"""Diffusion Policy's real-robot replay buffers (real-stanford/diffusion_policy `real_env.py`; `adapters/arrays/
layouts.yaml`'s header cites the code) come out canonical: the UR5's recorded TCP pose (`robot_eef_pose`, RTDE's
ActualTCPPose: x, y, z and a rotation vector in the base frame, the TCP 0.13 m past the flange) becomes the right
wrist 0.13 m back along the approach axis (`ur5_dp`), the action the next recorded pose at 10 Hz, the commanded
target (`action`) kept as the native. Physical invariants: proper rotations, the wrist the offset behind the TCP along
the recorded z, the action's target landing on the recorded next pose, no gripper claimed. Buffers are written here
as DP's ReplayBuffer writes them (a Zarr v2 folder `replay_buffer.zarr`, `data/` and `meta/episode_ends`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from adapters.arrays.adapter import ArraysAdapter
from adapters.arrays.hands import declare
from adapters.arrays.layouts import LAYOUTS
from adapters.base import AdapterError
from ingest.frames import apply_delta, pos_rot6d_to_pose, rot6d_to_matrix
from schemas.canonical import GRIPPER, WRIST_POS, WRIST_ROT6D, hand_dims
from schemas.robots.eef_offsets import EEF_OFFSETS
from schemas.tiers import QualityTier
from tests.fixtures.offline import prepare

N = 50  # rows at DP's 10 Hz (demo_real_robot.py frequency): 5 s
TCP_M = 0.13  # real_env.py tcp_offset


def _ur5_motion() -> tuple[np.ndarray, Rotation]:
    """A TCP pushing over a table in front of the base (metres), the tool pointing down and turning about it."""
    t = np.linspace(0.0, 1.0, N)
    pos = np.stack([0.45 + 0.1 * t, -0.2 + 0.3 * t, 0.05 + 0.02 * np.sin(4 * t)], axis=1)
    rot = Rotation.from_euler("xyz", np.stack([np.pi + 0.1 * np.sin(2 * t), 0.15 * t, 0.5 * t], axis=1))
    return pos, rot


def _write_dp_real(folder: Path, pose: np.ndarray, target: np.ndarray) -> Path:
    """One episode as real_env.py's end_episode saves it (timestamp, action, stage, then the robot's arrays)."""
    import zarr

    g = zarr.open_group(folder, mode="w", zarr_format=2)
    n = len(pose)
    g.create_array("data/timestamp", data=1.7e9 + np.arange(n) * 0.1)  # the accumulator's 10 Hz grid, wall time
    g.create_array("data/action", data=target)
    # (no array all zeros: zarr-python 3 writes no chunk of fill values, which the adapter refuses as never written)
    g.create_array("data/stage", data=np.arange(n, dtype=np.int64) * 2 // n)  # the space bar pressed half way
    g.create_array("data/robot_eef_pose", data=pose)
    g.create_array("data/robot_eef_pose_vel", data=np.gradient(pose, axis=0) * 10)
    joints = np.array([0.0, -1.57, -1.57, -1.57, 1.57, 0.0]) + 0.2 * np.linspace(0, 1, n)[:, None]
    g.create_array("data/robot_joint", data=joints)
    g.create_array("data/robot_joint_vel", data=np.gradient(joints, axis=0) * 10)
    g.create_array("meta/episode_ends", data=np.asarray([n], dtype=np.int64))
    return folder


def test_dp_real_robot_tcp_pose_is_the_right_hand_of_its_ur5(tmp_path: Path) -> None:
    pos, rot = _ur5_motion()
    pose = np.concatenate([pos, rot.as_rotvec()], axis=1)
    target = np.concatenate([pose[1:], pose[-1:]])  # the teleop's next waypoint: what the robot then reached
    target[:, :3] += 0.002  # commanded, not reached exactly
    _write_dp_real(tmp_path / "real_pusht" / "replay_buffer.zarr", pose, target)
    adapter = ArraysAdapter()
    (ref,) = list(adapter.discover(tmp_path))
    raw = adapter.read(ref)
    assert raw.annotation.layout == "diffusion_policy" and raw.annotation.rate_from == "file: timestamps"
    assert raw.embodiment == "ur5_dp" and raw.metadata["hands_from"].startswith("diffusion_policy_ur5:")
    (ep,) = prepare(raw).episodes
    assert ep.tier is not QualityTier.actionless and ep.embodiment == "ur5_dp"
    (offset, _) = EEF_OFFSETS["ur5_dp"]
    assert offset.translation == (0.0, 0.0, -TCP_M)
    assert len(ep.timestamps) == N  # 10 Hz rows are 10 Hz frames
    wrist = ep.state[:, hand_dims(1, WRIST_POS)].astype(np.float64)
    r = rot6d_to_matrix(ep.state[:, hand_dims(1, WRIST_ROT6D)])
    assert np.allclose(np.linalg.det(r), 1.0, atol=1e-5)
    assert np.allclose(r @ np.swapaxes(r, 1, 2), np.eye(3), atol=1e-5)
    z = rot.as_matrix()[:, :, 2]
    assert np.allclose(r, rot.as_matrix(), atol=1e-5)  # the flange has the TCP's axes (no rotation in the offset)
    assert np.allclose(wrist, pos - TCP_M * z, atol=1e-5)  # the flange 0.13 m behind the TCP along its z
    # the action's target is the next recorded pose (the flange moved back to the TCP)
    x9 = np.concatenate([wrist, ep.state[:, hand_dims(1, WRIST_ROT6D)]], axis=1)
    nxt = apply_delta(pos_rot6d_to_pose(x9)[:-1], ep.action[:-1, hand_dims(1, slice(0, 9))].astype(np.float64))
    tcp = nxt @ np.linalg.inv(offset.matrix())
    assert np.allclose(tcp[:, :3, 3], pos[1:], atol=1e-5)
    assert np.allclose(tcp[:, :3, :3], rot.as_matrix()[1:], atol=1e-5)
    assert not ep.mask[hand_dims(1, GRIPPER)].any()  # DP's real env drives no gripper: none claimed
    # the commanded target is compared with the motion: each 2 mm off the next pose on x, y and z (3.5 mm)
    (note,) = [n for n in ep.notes if "command_tracking" in n]
    assert note.startswith("right command_tracking median 3.5 mm, p95 3.5 mm (action, the recorded target")
    # the commanded target stays as the native action, as recorded
    assert ep.natives.action is not None and np.allclose(ep.natives.action[:, :3], target[:, :3], atol=1e-5)
    assert ep.natives.action_names[:3] == ["action.target_x", "action.target_y", "action.target_z"]
    assert "robot_eef_pose.rz" in ep.natives.state_names


def test_a_pusht_buffer_still_has_no_hands_and_says_what_it_lacks() -> None:
    layout = LAYOUTS["diffusion_policy"]
    d = declare("diffusion_policy", layout, {}, {"state", "action", "keypoint", "img"})
    assert d.embodiment == "unknown"
    (reason,) = d.reasons
    assert "diffusion_policy_ur5: robot_eef_pose" in reason and reason.endswith("natives only")


def test_a_pose_of_the_wrong_width_is_refused_naming_the_array(tmp_path: Path) -> None:
    pos, rot = _ur5_motion()
    pose = np.concatenate([pos, rot.as_quat()], axis=1)  # 7 columns: not x, y, z and a rotation vector
    _write_dp_real(tmp_path / "bad" / "replay_buffer.zarr", pose, pose[:, :6])
    adapter = ArraysAdapter()
    (ref,) = list(adapter.discover(tmp_path))
    with pytest.raises(AdapterError) as e:
        adapter.read(ref)
    said = str(e.value)
    assert "robot_eef_pose: 7 columns" in said and "replay_buffer.zarr" in said and "field 'hands'" in said
