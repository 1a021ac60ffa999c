"""The generated demo robot, checked by its physics: the gripper points down and closes while it carries the cube,
each action is the motion to the next state (position difference, relative rotation), the last is zero motion, the
native state is the same pose as a quaternion, and `run_demo` writes a canonical dataset of those episodes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from ingest.frames import rot6d_to_matrix
from jobs.demo.robot import HEAD, RIGHT, TASKS, WRIST, episode_frames, plan_episode, run_demo
from schemas.canonical import ACTION, ACTION_NATIVE, GRIPPER, STATE, STATE_NATIVE, WRIST_POS, WRIST_ROT6D, hand_dims

POS, ROT, GRIP = hand_dims(RIGHT, WRIST_POS), hand_dims(RIGHT, WRIST_ROT6D), hand_dims(RIGHT, GRIPPER)


@pytest.mark.parametrize("task_id", range(len(TASKS)))
def test_a_planned_episode_reaches_grasps_and_carries(task_id: int) -> None:
    ep = plan_episode(task_id, 60, np.random.default_rng(task_id))
    down = ep.wrist_rot.apply([0.0, 0.0, 1.0])  # the gripper's approach axis
    np.testing.assert_allclose(down, np.tile([0.0, 0.0, -1.0], (60, 1)), atol=1e-12)
    closed = ep.gripper < 0.5
    assert not closed[0] and not closed[-1] and closed[30]  # open, closed on the cube, released
    moved = ep.wrist_xyz[-1] - ep.wrist_xyz[np.argmax(closed)]
    axis = [(1, 0.15), (1, -0.15), (2, 0.15)][task_id]  # left: +y, right: -y, lift: +z (carried 15 cm)
    assert abs(moved[axis[0]] - axis[1]) < 0.05
    steps = np.linalg.norm(np.diff(ep.wrist_xyz, axis=0), axis=1)
    assert steps.max() < 0.05  # smooth: no jump of 5 cm in one frame


def test_each_action_is_the_motion_to_the_next_state() -> None:
    ep = plan_episode(0, 25, np.random.default_rng(3))
    frames = list(episode_frames(ep))
    state = np.stack([f[STATE] for f in frames]).astype(np.float64)
    action = np.stack([f[ACTION] for f in frames]).astype(np.float64)
    np.testing.assert_allclose(state[:-1, POS] + action[:-1, POS], state[1:, POS], atol=1e-6)
    r = rot6d_to_matrix(state[:, ROT])
    np.testing.assert_allclose(r[:-1] @ rot6d_to_matrix(action[:-1, ROT]), r[1:], atol=1e-5)
    np.testing.assert_allclose(action[:-1, GRIP], state[1:, GRIP])  # the gripper target is the next opening
    assert not action[-1, POS].any()
    np.testing.assert_allclose(rot6d_to_matrix(action[-1, ROT]), np.eye(3), atol=1e-6)
    quat = np.stack([f[STATE_NATIVE][3:7] for f in frames])
    np.testing.assert_allclose(Rotation.from_quat(quat).as_matrix(), r, atol=1e-5)
    np.testing.assert_array_equal(frames[3][ACTION_NATIVE], frames[3][ACTION][hand_dims(RIGHT, slice(0, 10))])
    assert frames[0]["observation.images.head"].shape == (*HEAD, 3)
    assert frames[0]["observation.images.wrist_right"].shape == (*WRIST, 3)


def test_run_demo_writes_a_canonical_dataset(tmp_path: Path) -> None:
    meta = run_demo(tmp_path, episodes=3, seed=1)
    assert meta.root == tmp_path / "datasets" / "demo" / "franka_cube"
    assert meta.info.total_episodes == 3 and meta.info.robot_type == "franka"
    assert not [q for q in meta.quirks if q.severity == "error"]
    rng = np.random.default_rng(1)  # the episodes run_demo plans from its seed: every frame of them is written
    plans = [plan_episode(k % len(TASKS), int(rng.integers(40, 80)), rng) for k in range(3)]
    assert meta.info.total_frames == sum(len(p.gripper) for p in plans)
