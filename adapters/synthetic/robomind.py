"""A small RoboMIND release written as the maker's recorder writes it (h5py), per robot, with switches for bad input.

Layout and datasets follow x-humanoid-robomind.github.io `static/all_robot_h5_info.md` / `_v1.2.md` (groups, shapes,
column meaning), images as the maker's reader decodes them (`static/quick_start.ipynb`): one JPEG per element of a
variable-length uint8 dataset, encoded by `cv2.imencode` from a BGR array for Franka / UR (a normal JPEG) and from an
RGB array for AgileX / Tien Kung (so cv2 decodes RGB); raw HxWx3 buffers instead (the maker's fallback) and the
instruction CSV are `tests/fixtures/writers/robomind.py`'s. Root attrs `compress`, `sim`. Joints move about a pose
that holds the gripper in front of the robot, pointing down (`HOME`), and the gripper opens and closes. Bad input
(`EpisodeSpec.bad`): `truncated`, the file cut to half its size (the tests' other faults are `tests/fixtures/corrupt.py`
`break_robomind`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cv2
import h5py
import numpy as np

from adapters.robomind.layouts import ROBOTS
from adapters.synthetic.arrays import truncate
from adapters.synthetic.video import encode_image

_TIENKUNG_LEFT = [-0.3, 0.15, -1.2, -1.3, 1.2, 0.0, 0.0]
# robot folder -> the arm pose (rad) the motion is centred on, per arm, and the gripper column's (closed, open)
HOME: dict[str, tuple[list[float], tuple[float, float]]] = {
    "franka_1rgb": ([0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785], (0.0, 0.04)),
    "franka_3rgb": ([0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785], (0.0, 0.04)),
    "franka_fr3_dual": ([0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785], (0.0, 0.04)),
    "ur_1rgb": ([0.0, -1.7, 1.7, -1.57, -1.57, 0.0], (0.0, 1.0)),
    "agilex_3rgb": ([0.0, 1.0, -1.0, 0.0, 0.8, 0.0], (0.0, 0.07)),
    # Tien Kung's left arm (humanoid.urdf: shoulder forward, upper arm turned so the bent elbow points the forearm
    # ahead, forearm rolled): the hand 0.38 m ahead of the pelvis, palm facing in; the right arm mirrors it (_vectors)
    "tienkung_gello_1rgb": (_TIENKUNG_LEFT, (0.0, 1.0)),
    "tienkung_prod1_gello_1rgb": (_TIENKUNG_LEFT, (0.0, 1.0)),
    "tienkung_xsens_1rgb": (_TIENKUNG_LEFT, (0.0, 1.0)),
}
RED = (230, 20, 20)  # RGB of the patch every frame carries top-left: what a reader must decode as red


@dataclass(frozen=True)
class EpisodeSpec:
    robot: str  # release folder without h5_
    task: str
    episode: str
    frames: int = 40
    split: str | None = "train"  # None: no train/val level (the v1.0 layout)
    benchmark: str | None = None
    bad: Literal["truncated"] | None = None


@dataclass
class WrittenEpisode:
    spec: EpisodeSpec
    path: Path
    raw_id: str
    joints: dict[str, np.ndarray] = field(default_factory=dict)  # dataset path -> values written


def episode_dir(root: Path, s: EpisodeSpec) -> Path:
    base = root / s.benchmark if s.benchmark else root
    return base / f"h5_{s.robot}" / s.task / "success_episodes" / (s.split or "") / s.episode


def raw_id(s: EpisodeSpec) -> str:
    return "/".join([*([s.benchmark] if s.benchmark else []), s.task, s.split or "unsplit", s.episode])


def frame_image(i: int, height: int, width: int, phase: int = 0) -> np.ndarray:
    """RGB frame i: a moving gradient with a red patch top-left (a channel swap turns it blue); a picture whose JPEGs
    are the size the bucket tests' fetched-per-used bound was measured on (tests/store_cases.py)."""
    y, x = np.mgrid[0:height, 0:width]
    img = np.stack([(x * 3 + 5 * i + phase) % 256, (y * 3 + 2 * i) % 256, ((x + y) + 7 * i) % 256], axis=-1)
    img = img.astype(np.uint8)
    img[: max(height // 4, 4), : max(width // 4, 4)] = RED
    return img


def _motion(robot: str, n: int, sign: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(n, dof) arm joints swaying about the robot's pose, and (n,) the gripper closing and opening once."""
    home, (closed, opened) = HOME[robot]
    t = np.linspace(0.0, 1.0, n)[:, None]
    dof = len(home)
    sway = 0.15 * np.sin(2 * np.pi * t + np.arange(dof) * 0.7) * np.where(np.arange(dof) % 2, 1.0, sign)
    grip = opened + (closed - opened) * 0.5 * (1 - np.cos(2 * np.pi * t[:, 0]))
    return np.asarray(home) + sway, grip


def _vectors(robot: str, n: int) -> dict[str, np.ndarray]:
    """dataset name -> (n, D) values of the puppet for one robot, columns as `layouts.ROBOTS` names them."""
    if robot in ("franka_1rgb", "franka_3rgb", "ur_1rgb"):
        q, g = _motion(robot, n)
        eef = np.column_stack([0.4 + 0.05 * q[:, :3], np.full((n, 3), 3.1)])
        return {"joint_position": np.column_stack([q, g]), "end_effector": eef}
    if robot == "franka_fr3_dual":
        (ql, gl), (qr, gr) = _motion(robot, n, -1.0), _motion(robot, n)
        return {"joint_position": np.column_stack([ql, gl, qr, gr]), "end_effector": np.full((n, 12), 0.3)}
    if robot == "agilex_3rgb":
        out = {}
        for side, sign in (("left", -1.0), ("right", 1.0)):
            q, g = _motion(robot, n, sign)
            jp = np.column_stack([q, g])
            out |= {
                f"joint_position_{side}": jp,
                f"joint_velocity_{side}": np.gradient(jp, axis=0) * 30,
                f"joint_effort_{side}": 0.1 * jp,
                f"end_effector_{side}": np.full((n, 7), 0.2),
            }
        return out
    (ql, gl), (qr, gr) = _motion(robot, n, -1.0), _motion(robot, n)
    qr = -qr  # Tien Kung: humanoid.urdf's right arm is the left's mirror image, joint for joint with the sign flipped
    if robot == "tienkung_xsens_1rgb":
        hands = np.tile(np.linspace(0.2, 1.5, n)[:, None], (1, 12))
        return {"joint_position": np.column_stack([ql, qr]), "end_effector": hands}
    return {"joint_position": np.column_stack([ql, gl, qr, gr])}


def write_episode(root: Path, s: EpisodeSpec, size: tuple[int, int] = (48, 64)) -> WrittenEpisode:
    """One `trajectory.hdf5` for `s` (and its folders); returns what was written."""
    layout = ROBOTS[s.robot]
    data = episode_dir(root, s) / "data"
    data.mkdir(parents=True, exist_ok=True)
    path = data / "trajectory.hdf5"
    out = WrittenEpisode(s, path, raw_id(s))
    n = s.frames
    puppet = _vectors(s.robot, n)
    with h5py.File(path, "w") as f:
        f.attrs["compress"] = True
        f.attrs["sim"] = False
        for group, shift in (("puppet", 0), ("master", 1)):  # the leader runs one step ahead of the follower
            for name, values in puppet.items():
                v = np.concatenate([values[shift:], values[-1:].repeat(shift, axis=0)]) if shift else values
                if group == "master" and not name.startswith(("joint_position", "end_effector")):
                    continue
                f.create_dataset(f"{group}/{name}", data=v)
                out.joints[f"{group}/{name}"] = v
        vlen = h5py.vlen_dtype(np.uint8)
        for k, cam in enumerate(layout.cameras):
            h, w = size
            rgb = f.create_dataset(f"observations/rgb_images/{cam}", (n,), dtype=vlen)
            depth = f.create_dataset(f"observations/depth_images/{cam}", (n,), dtype=vlen)
            for i in range(n):
                img = frame_image(i, h, w, phase=40 * k)
                # what cv2 will hand back must be BGR for Franka / UR, RGB for AgileX / Tien Kung
                rgb[i] = np.frombuffer(encode_image(img, store_bgr=layout.rgb_in_bgr_jpeg), np.uint8)
                depth[i] = cv2.imencode(".png", np.full((h, w), 600 + i, np.uint16))[1].ravel()
    if s.bad == "truncated":
        truncate(path)
    return out


def write_robomind(root: Path, specs: list[EpisodeSpec], size: tuple[int, int] = (48, 64)) -> dict[str, WrittenEpisode]:
    """Every episode of `specs` under `root`, by raw id."""
    root.mkdir(parents=True, exist_ok=True)
    return {raw_id(s): write_episode(root, s, size) for s in specs}
