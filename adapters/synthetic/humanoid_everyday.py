"""A small Humanoid Everyday task written as the maker ships it: `<task>.zip` holding `<task>/episode_<n>/` folders,
each with `data.json` (a list of steps, the keys of ausbxuse/Humanoid-Everyday@80e302b README.md:129-248) and the
per-step files it names (`color/frame_%06d.png` 480x640 RGB, `depth/frame_%06d.npy.lzma` uint16 480x640 lzma as
core.py:112-119 reads it, `lidar/<time>.pcd`). Or the same folders extracted (`zipped=False`).

G1 steps carry `robot_type` "g1", 15 leg / 14 Dex3-1 hand joints and 7 hand targets per side; H1 (H1_2) steps carry
no `robot_type`, 13 leg / 12 Inspire joints, 12 internal hand values per side and null odometry. The arms move about
a pose that holds both hands ahead of the torso (g1_arms: the wrists 0.27 m ahead, +-0.18 m to the sides); `sol_q`
commands the next step's arm state. `time` steps at 30 Hz with a small jitter; `leading_null` first steps have
`actions` null, as the recorder writes before its first IK entry (Ausbxuse/avp_teleop@94cd19e teleop/merger.py:66-80).
Each image carries a red patch top-left and its step number in the blue channel of pixel (row 0, column 40).
"""

from __future__ import annotations

import json
import lzma
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

HZ = 30.0
T0 = 1_741_000_000.0  # a UNIX time in 2025, as the recorder's `time.time()`
H, W = 480, 640
# the arm pose (rad) the motion is centred on, per side, in Unitree's order (shoulder pitch .. wrist yaw)
LEFT_HOME = [-0.4, 0.2, 0.0, 0.6, 0.0, 0.0, 0.0]
RIGHT_HOME = [-0.4, -0.2, 0.0, 0.6, 0.0, 0.0, 0.0]


@dataclass(frozen=True)
class EpisodeSpec:
    robot: Literal["g1", "h1"] = "g1"
    steps: int = 36
    leading_null: int = 0
    jitter_s: float = 0.002
    seed: int = 0


def arm_motion(n: int, seed: int = 0) -> np.ndarray:
    """(n, 14) arm joint angles: both shoulders pitch and both elbows flex by up to 0.3 rad over the episode."""
    t = np.arange(n) / HZ
    q = np.tile(np.array(LEFT_HOME + RIGHT_HOME), (n, 1))
    wave = 0.3 * np.sin(2 * np.pi * 0.5 * t + seed)
    for k in (0, 7):
        q[:, k] += wave
        q[:, k + 3] += 0.5 * wave
    return q


def steps_of(spec: EpisodeSpec) -> list[dict[str, Any]]:
    """The `data.json` document of one episode."""
    rng = np.random.default_rng(spec.seed)
    n = spec.steps
    times = T0 + spec.seed * 100 + np.arange(n) / HZ + rng.uniform(-spec.jitter_s, spec.jitter_s, n)
    arm = arm_motion(n + 1, spec.seed)
    g1 = spec.robot == "g1"
    leg_w, angles_w = (15, 7) if g1 else (13, 12)
    close = 0.5 * (1 - np.cos(np.linspace(0, 2 * np.pi, n)))  # 0 open .. 1 closed .. 0
    out = []
    for i in range(n):
        hand = _dex3(close[i]) if g1 else _inspire(close[i])
        step: dict[str, Any] = {"time": float(times[i])}
        if g1:
            step["robot_type"] = "g1"
        step["states"] = {
            "arm_state": arm[i].tolist(),
            "leg_state": [0.0] * leg_w,
            "hand_state": hand,
            "hand_pressure_state": _pressure() if g1 else None,
            "imu": _imu(),
            "odometry": _odometry(i) if g1 else dict.fromkeys(("position", "velocity", "rpy", "quat")),
        }
        left_pose, right_pose = np.eye(4), np.eye(4)
        left_pose[:3, 3], right_pose[:3, 3] = [0.3, 0.2, 1.0 + 0.01 * i], [0.3, -0.2, 1.0 + 0.01 * i]
        step["actions"] = (
            None
            if i < spec.leading_null
            else {
                "right_angles": (hand[7:] if g1 else [0.5] * angles_w),
                "left_angles": (hand[:7] if g1 else [0.5] * angles_w),
                "armtime": float(times[i]) - 0.004,
                "iktime": float(times[i]) - 0.006,
                "sol_q": arm[i + 1].tolist(),
                "tau_ff": [0.0] * 14,
                "head_rmat": np.eye(3).tolist(),
                "left_pose": left_pose.tolist(),
                "right_pose": right_pose.tolist(),
            }
        )
        step["image"] = f"color/frame_{i:06d}.png"
        step["depth"] = f"depth/frame_{i:06d}.npy.lzma"
        step["lidar"] = f"lidar/{times[i]:.6f}.pcd"
        out.append(step)
    return out


def _imu() -> dict[str, list[float]]:
    return {"quaternion": [1.0, 0, 0, 0], "accelerometer": [0, 0, 9.81], "gyroscope": [0.0] * 3, "rpy": [0.0] * 3}


def _pressure() -> list[dict[str, Any]]:
    return [{"sensor_id": k + 1, "sensor_type": "A", "usable_readings": [0.0] * 4} for k in range(18)]


def _odometry(i: int) -> dict[str, list[float]]:
    return {"position": [0.01 * i, 0.0, 0.75], "velocity": [0.3, 0.0, 0.0], "rpy": [0.0] * 3, "quat": [1.0, 0, 0, 0]}


def _dex3(closed: float) -> list[float]:
    """Both Dex3-1 hands (7 + 7, Unitree's motor order) `closed` of the way from open (0) to their closing limits
    (schemas/robots/hands.yaml dex3_hand_*)."""
    left = [0.0, 1.0, 1.7, -1.5, -1.7, -1.5, -1.7]
    right = [0.0, -1.0, -1.7, 1.5, 1.7, 1.5, 1.7]
    return [closed * v for v in left + right]


def _inspire(closed: float) -> list[float]:
    """H1_2's two Inspire hands as its recorder writes `hand_state`: the right hand's six values first, each 1 open ..
    0 closed (adapters/humanoid_everyday/steps.py); the right hand closes `closed` of the way, the left stays open."""
    return [1.0 - closed] * 6 + [1.0] * 6


def frame(i: int) -> np.ndarray:
    """Step i's image, RGB: diagonal stripes drifting with i (a scene the camera QA finds neither flat nor frozen), a
    red patch top-left, the step number in the blue channel at (0, 40)."""
    y, x = np.mgrid[0:H, 0:W]
    shade = (40 + 3 * ((x + y + 8 * i) % 60)).astype(np.uint8)
    rgb = np.stack([shade, shade // 2 + 60, 200 - shade // 2], axis=-1).astype(np.uint8)
    rgb[:24, :24] = (230, 20, 20)
    rgb[0, 40] = (0, 0, i % 256)
    return rgb


def episode_files(doc: list[dict[str, Any]]) -> dict[str, bytes]:
    """Relative path -> bytes of one episode folder: data.json and the files its steps name."""
    files = {"data.json": json.dumps(doc, indent=4).encode()}
    depth = lzma.compress(np.zeros((H, W), np.uint16).tobytes(), preset=0)
    pcd = b"# .PCD v0.7\nVERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 1\nHEIGHT 1\n"
    pcd += b"VIEWPOINT 0 0 0 1 0 0 0\nPOINTS 1\nDATA ascii\n1.0 0.0 0.5\n"
    for i, step in enumerate(doc):
        ok, png = cv2.imencode(".png", cv2.cvtColor(frame(i), cv2.COLOR_RGB2BGR))
        assert ok
        files[step["image"]] = png.tobytes()
        files[step["depth"]] = depth
        files[step["lidar"]] = pcd
    return files


def write_task(
    root: Path,
    task: str,
    episodes: list[EpisodeSpec],
    *,
    zipped: bool = True,
    docs: dict[int, Any] | None = None,
) -> Path:
    """`root/<task>.zip` (or the folder `root/<task>/`) with `episode_<n>` per spec; `docs` replaces episode n's
    data.json document (bad input) while its files stay those of its spec."""
    root.mkdir(parents=True, exist_ok=True)
    members: dict[str, bytes] = {}
    for n, spec in enumerate(episodes):
        files = episode_files(steps_of(spec))
        if docs and n in docs:
            files["data.json"] = json.dumps(docs[n]).encode()
        members |= {f"{task}/episode_{n}/{rel}": data for rel, data in files.items()}
    if not zipped:
        for name, data in members.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
        return root / task
    out = root / f"{task}.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out
