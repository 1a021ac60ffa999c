"""A small HoloAssist corpus in the maker's layout (`<recording>/Export_py/`, text as psi's exporter writes it:
adapters/holoassist/files.py cites each fact): per recording `Hands/{Left,Right}_sync.txt` (471 tab-separated
values a line), `Video/Pose_sync.txt`, `Video/Intrinsics.txt`, `Video/VideoMp4Timing.txt` and `Video_pitchshift.mp4`.

The world is psi's MathNet basis (x forward, y left, z up). The wearer's eyes are at 1.55-1.70 m, looking 30-40
degrees down; both hands 40-60 cm ahead of the eyes, in the video's view, below them, each on its own side, palm
down, built from the synthetic adult hand (`synthetic/hand.py`), the palm and the four finger metacarpals placed
midway up the palm. `missing` lists (recording, side, frames) where a hand is not tracked: IsActive 0, 26 x 16
NaN, flags 0, as psi writes an empty hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from adapters.holoassist.files import JOINTS, MANO21_FROM_HOLOASSIST, MATHNET_FROM_OPENCV, TICKS_PER_SECOND
from adapters.synthetic.hand import MIRROR, hand_layout, se3
from adapters.synthetic.video import synthetic_frame, write_mp4

FPS = 30
START_TICKS = 638_300_000_000_000_000  # a 2023 capture date in .NET ticks
K_DECLARED = np.array([[600.0, 0, 448.0], [0, 600.0, 252.0], [0, 0, 1]])  # for the 896x504 Intrinsics.txt declares
SIZE = (504, 896)  # (height, width) Intrinsics.txt declares; the mp4 is written at half of it
MP4_HW = (128, 224)


@dataclass
class HoloAssistFixture:
    root: Path
    recordings: list[str]
    frames: int
    missing: list[tuple[str, str, range]] = field(default_factory=list)


def _fmt(values: np.ndarray) -> str:
    return "\t".join("NaN" if not np.isfinite(v) else repr(float(v)) for v in values)


def _look(forward: np.ndarray) -> np.ndarray:
    """(n,3,3) OpenCV camera axes (x right, y down, z = forward) in a z-up world."""
    z = forward / np.linalg.norm(forward, axis=-1, keepdims=True)
    down = np.array([0.0, 0.0, -1.0])
    y = down - (z @ down)[:, None] * z
    y /= np.linalg.norm(y, axis=-1, keepdims=True)
    return np.stack([np.cross(y, z), y, z], axis=-1)


def _camera(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n,4,4) world_from_camera with OpenCV axes."""
    t = np.arange(n) / FPS
    yaw = rng.uniform(0, 2 * np.pi) + 0.1 * np.sin(0.8 * t)
    pitch = rng.uniform(0.52, 0.70) + 0.03 * np.sin(1.1 * t)
    forward = np.stack([np.cos(pitch) * np.cos(yaw), np.cos(pitch) * np.sin(yaw), -np.sin(pitch)], axis=-1)
    pos = np.array([rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(1.55, 1.70)]) + 0.01 * np.sin(t)[:, None]
    return se3(_look(forward), pos)


def _joints(side: str) -> np.ndarray:
    """(26,3) rest positions of the right (or mirrored left) hand in its own frame, in psi's joint order."""
    layout = hand_layout("right")
    pos = {v: layout[k] for k, v in MANO21_FROM_HOLOASSIST.items()}
    for finger in ("Index", "Middle", "Ring", "Pinky"):
        pos[f"{finger}Metacarpal"] = 0.5 * pos[f"{finger}Proximal"]
    pos["Palm"] = 0.5 * pos["MiddleProximal"]
    out = np.stack([pos[j] for j in JOINTS])
    return out * MIRROR if side == "Left" else out


def _hand(rng: np.random.Generator, cam: np.ndarray, side: str) -> np.ndarray:
    """(n,26,4,4) world_from_joint: the hand in the camera's view, on its side, palm down, fingers ahead, thumb
    inwards (the hand's own frame: fingers along +x, -x for the mirrored left, thumb +y, back of the hand +z)."""
    t = np.arange(len(cam))[:, None] / FPS
    sign = -1.0 if side == "Left" else 1.0
    wrist = np.array([sign * 0.10, 0.12, 0.42]) + 0.02 * np.sin(t * rng.uniform(0.5, 2.0, 3))  # OpenCV camera axes
    # columns: the hand's x, y, z in camera axes (x right, y down, z ahead); both proper rotations
    R = np.array([[0.0, -sign, 0.0], [0.0, 0.0, -1.0], [sign, 0.0, 0.0]])
    p_cam = wrist[:, None, :] + _joints(side) @ R.T
    p_world = np.einsum("nij,nkj->nki", cam[:, :3, :3], p_cam) + cam[:, None, :3, 3]
    return se3(np.repeat((cam[:, :3, :3] @ R)[:, None], len(JOINTS), axis=1), p_world)


def _hand_line(sync_s: float, ticks: int, poses: np.ndarray | None) -> str:
    if poses is None:  # an empty hand as psi writes it: IsActive 0, NaN poses, flags 0
        return "\t".join([repr(float(sync_s)), str(ticks), "0", _fmt(np.full(16 * len(JOINTS), np.nan)), *["0"] * 52])
    flat = poses.reshape(-1)
    return "\t".join([repr(float(sync_s)), str(ticks), "1", _fmt(flat), *["1"] * 52])


def write_recording(export: Path, rng: np.random.Generator, n: int, missing: dict[str, range]) -> None:
    (export / "Hands").mkdir(parents=True, exist_ok=True)
    (export / "Video").mkdir(parents=True, exist_ok=True)
    cam = _camera(rng, n)
    ticks = START_TICKS + (np.arange(n) * TICKS_PER_SECOND) // FPS
    sync = np.arange(n) / FPS
    pose_lines = [
        f"{float(sync[i])!r}\t{ticks[i]}\t{_fmt((cam[i] @ np.linalg.inv(MATHNET_FROM_OPENCV)).reshape(-1))}"
        for i in range(n)
    ]
    (export / "Video" / "Pose_sync.txt").write_text("\n".join(pose_lines) + "\n")
    for side in ("Left", "Right"):
        poses, gone = _hand(rng, cam, side), missing.get(side, range(0))
        lines = [_hand_line(sync[i], int(ticks[i]), None if i in gone else poses[i]) for i in range(n)]
        (export / "Hands" / f"{side}_sync.txt").write_text("\n".join(lines) + "\n")
    intr = [*K_DECLARED.reshape(-1), 0, 0, 0, 0, 0, K_DECLARED[0, 0], K_DECLARED[0, 0], K_DECLARED[1, 1], 452, 254, 1]
    (export / "Video" / "Intrinsics.txt").write_text(_fmt(np.array(intr, dtype=float)) + f"\t{SIZE[1]}\t{SIZE[0]}")
    (export / "Video" / "VideoMp4Timing.txt").write_text(f"{START_TICKS}\n{int(ticks[-1])}\n")
    frames = (synthetic_frame(*MP4_HW, i, seed=1) for i in range(n))
    write_mp4(export / "Video_pitchshift.mp4", frames, FPS)


def write_holoassist(root: Path, frames: int = 60, seed: int = 0) -> HoloAssistFixture:
    """Two recordings; the second's left hand is not tracked in frames 5-9."""
    rng = np.random.default_rng(seed)
    fx = HoloAssistFixture(root, ["R001-demo", "R002-demo"], frames, [("R002-demo", "Left", range(5, 10))])
    for rec in fx.recordings:
        missing = {side: frames_ for r, side, frames_ in fx.missing if r == rec}
        write_recording(root / rec / "Export_py", rng, frames, missing)
    return fx
