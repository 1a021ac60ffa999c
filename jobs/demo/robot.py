"""A small canonical robot dataset from generated episodes (`run_demo`): the LeRobot source of the demo corpus
(`jobs.demo.corpus`) and a fixture of the writer and canonicalization tests.

The episodes are a one-armed gripper robot moving a cube on a table, rendered with OpenCV from a fixed head camera and
a wrist camera: enough structure to exercise every canonical feature, the codec and the stats.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from adapters.lerobot_format.meta import DatasetMeta
from ingest.frames import matrix_to_rot6d
from ingest.lerobot.writer import LeRobotWriter
from schemas.canonical import (
    ACTION,
    ACTION_NATIVE,
    CANONICAL_DIM,
    CANONICAL_FPS,
    GRIPPER,
    HAND_KEYPOINTS,
    STATE,
    STATE_NATIVE,
    WRIST_POS,
    WRIST_ROT6D,
    hand_dims,
    image_key,
)
from schemas.robots.registry import default_registry

TASKS = ("push the red cube to the left", "push the red cube to the right", "lift the red cube")
HEAD = (120, 160)
WRIST = (96, 96)
RIGHT = 1


@dataclass(frozen=True)
class DemoEpisode:
    task: str
    wrist_xyz: np.ndarray  # (n, 3) metres in the robot base frame
    wrist_rot: Rotation  # n rotations: gripper pointing down, turned by `yaw` about the vertical
    yaw: np.ndarray  # (n,) radians
    gripper: np.ndarray  # (n,) opening 0..1


def plan_episode(task_id: int, n: int, rng: np.random.Generator) -> DemoEpisode:
    """A smooth reach-grasp-move trajectory, different per task and seed."""
    t = np.linspace(0.0, 1.0, n)
    start = np.array([0.45, 0.0, 0.25]) + rng.normal(0, 0.02, 3)
    cube = np.array([0.55, 0.0, 0.05]) + rng.normal(0, 0.02, 3)
    goal = cube + [(0, 0.15, 0), (0, -0.15, 0), (0, 0, 0.15)][task_id]
    reach = np.clip(t / 0.4, 0, 1)[:, None]
    carry = np.clip((t - 0.5) / 0.5, 0, 1)[:, None]
    xyz = start + (cube - start) * (3 * reach**2 - 2 * reach**3) + (goal - cube) * (3 * carry**2 - 2 * carry**3)
    yaw = 0.3 * np.sin(2 * np.pi * t) + rng.normal(0, 0.05)
    rot = Rotation.from_euler("xz", np.stack([np.full(n, np.pi), yaw], axis=1))  # gripper pointing down
    gripper = np.where((t > 0.4) & (t < 0.95), 0.1, 1.0)
    return DemoEpisode(TASKS[task_id], xyz, rot, yaw, gripper)


def _project(xyz: np.ndarray, shape: tuple[int, int]) -> tuple[int, int]:
    """A fixed top-down-ish camera: x forward maps to rows, y left maps to columns."""
    h, w = shape
    return int(w * (0.5 - xyz[1] * 2.0)), int(h * (0.45 + (xyz[0] - 0.4) * 2.5) - xyz[2] * 150)


def render_head(ep: DemoEpisode, i: int) -> np.ndarray:
    h, w = HEAD
    img = np.full((h, w, 3), (200, 190, 170), np.uint8)
    cv2.rectangle(img, (10, h // 3), (w - 10, h - 5), (140, 110, 80), -1)  # table
    grasped = ep.gripper[i] < 0.5
    cube = ep.wrist_xyz[i] - [0, 0, 0.02] if grasped else ep.wrist_xyz[int(np.argmax(ep.gripper < 0.5))]
    cx, cy = _project(cube, HEAD)
    cv2.rectangle(img, (cx - 6, cy - 6), (cx + 6, cy + 6), (200, 30, 30), -1)
    gx, gy = _project(ep.wrist_xyz[i], HEAD)
    spread = int(3 + 6 * ep.gripper[i])
    cv2.line(img, (gx - spread, gy), (gx + spread, gy), (40, 40, 40), 3)
    cv2.line(img, (gx, gy), (gx, max(gy - 30, 0)), (90, 90, 90), 4)
    return img


def render_wrist(ep: DemoEpisode, i: int) -> np.ndarray:
    h, w = WRIST
    img = np.full((h, w, 3), (140, 110, 80), np.uint8)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), np.degrees(ep.yaw[i]), 1.0 + 2 * (0.25 - ep.wrist_xyz[i, 2]))
    for k in range(0, w, 12):
        cv2.line(img, (k, 0), (k, h), (120, 95, 70), 1)
    img = cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REFLECT)
    spread = int(10 + 25 * ep.gripper[i])
    cv2.rectangle(img, (w // 2 - spread - 6, h - 30), (w // 2 - spread, h), (50, 50, 50), -1)
    cv2.rectangle(img, (w // 2 + spread, h - 30), (w // 2 + spread + 6, h), (50, 50, 50), -1)
    return img


def episode_frames(ep: DemoEpisode) -> Iterator[dict[str, np.ndarray]]:
    """Canonical frames: state at t, action = delta to t+1 (last frame repeats the last delta as zero motion)."""
    n = len(ep.gripper)
    mats = ep.wrist_rot.as_matrix()
    rot6d = matrix_to_rot6d(mats)
    for i in range(n):
        j = min(i + 1, n - 1)
        state = np.zeros(CANONICAL_DIM, np.float32)
        state[hand_dims(RIGHT, WRIST_POS)] = ep.wrist_xyz[i]
        state[hand_dims(RIGHT, WRIST_ROT6D)] = rot6d[i]
        state[hand_dims(RIGHT, GRIPPER)] = ep.gripper[i]
        action = np.zeros(CANONICAL_DIM, np.float32)
        action[hand_dims(RIGHT, WRIST_POS)] = ep.wrist_xyz[j] - ep.wrist_xyz[i]
        action[hand_dims(RIGHT, WRIST_ROT6D)] = matrix_to_rot6d(mats[i].T @ mats[j])
        action[hand_dims(RIGHT, GRIPPER)] = ep.gripper[j]
        native_state = np.concatenate([ep.wrist_xyz[i], ep.wrist_rot[i].as_quat(), [ep.gripper[i]]])
        yield {
            image_key("head"): render_head(ep, i),
            image_key("wrist_right"): render_wrist(ep, i),
            STATE: state,
            ACTION: action,
            HAND_KEYPOINTS: np.zeros((2, 21, 3), np.float32),
            STATE_NATIVE: native_state.astype(np.float32),
            ACTION_NATIVE: action[hand_dims(RIGHT, slice(0, 10))].copy(),
        }


def run_demo(out: Path, episodes: int = 6, seed: int = 0) -> DatasetMeta:
    """Generated episodes written straight to a canonical dataset under `out/datasets/demo/franka_cube`."""
    root = Path(out) / "datasets" / "demo" / "franka_cube"
    if root.exists():
        shutil.rmtree(root)
    embodiment = default_registry().get("franka")
    features = embodiment.features(
        {"head": HEAD, "wrist_right": WRIST},
        ["x", "y", "z", "qx", "qy", "qz", "qw", "gripper"],
        ["dx", "dy", "dz", "drot6d_0", "drot6d_1", "drot6d_2", "drot6d_3", "drot6d_4", "drot6d_5", "gripper"],
    )
    rng = np.random.default_rng(seed)
    plans = [plan_episode(k % len(TASKS), int(rng.integers(40, 80)), rng) for k in range(episodes)]
    with LeRobotWriter.create(root, fps=CANONICAL_FPS, features=features, robot_type=embodiment.name) as writer:
        for plan in plans:
            with writer.episode(task=plan.task, expected_frames=len(plan.gripper)) as ep:
                for frame in episode_frames(plan):
                    ep.add_frame(frame)
    return DatasetMeta.load(root)
