"""VITRA-1M episodes in the maker's layout, for the `vitra` adapter's tests: one 0-d object `.npy` per episode holding
the dict of microsoft/VITRA `data/data.md` ("Metadata Structure"), under `Metadata/<dataset>/episodic_annotations/`,
and each raw video where its dataset's users keep it (`adapters/vitra/videos.py`).

Geometry as the real sample has it (`vitra_ego4d_example`): a SLAM world whose up is -y, a camera in OpenCV axes
looking 35 degrees down and turning its head, `extrinsics` world-to-camera, both hands 35-45 cm ahead of the eyes on
their own sides, palm down, their 21 joints (the synthetic adult hand, `synthetic/hand.py`) in `joints_worldspace`,
`transl_worldspace` the wrist joint, `global_orient_worldspace` the hand's frame; `hand_pose` identities and zero
`beta` (the joints, not the MANO parameters, are what the adapter reads by default). Intrinsics are for a 640x480
labelling; the video is written at `size`, so they are scaled as for the real sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from adapters.synthetic.hand import MIRROR, hand_layout, se3
from adapters.synthetic.video import synthetic_frame, write_mp4
from schemas.canonical import MANO21_NAMES

FPS = 30
LABEL_W, LABEL_H, FOCAL = 640, 480, 500.0
UP = np.array([0.0, -1.0, 0.0])  # the world's up, as on the real sample


@dataclass(frozen=True)
class VitraEpisodeSpec:
    dataset: str  # "Ego4D", "EgoExo4D", "epic", "somethingsomethingv2"
    video: str  # `video_name`
    video_path: str  # where the raw video is written, relative to the root
    first: int = 0  # first `video_decode_frame`
    frames: int = 24
    kept: dict[str, tuple[int, int]] = field(default_factory=lambda: {"left": (0, 24), "right": (0, 24)})
    # per hand, `kept_frames` frame by frame (0/1, `frames` long): overrides its `kept` range
    kept_frames: dict[str, tuple[int, ...]] = field(default_factory=dict)
    anno_type: str = "right"
    episode: str = "000000"

    @property
    def name(self) -> str:
        return f"{self.dataset}_{self.video}_ep_{self.episode}"


def _look(forward: np.ndarray) -> np.ndarray:
    """(n,3,3) OpenCV camera axes (x right, y down, z forward) looking along `forward`, the image level."""
    z = forward / np.linalg.norm(forward, axis=-1, keepdims=True)
    y = -UP - (z @ -UP)[:, None] * z
    y /= np.linalg.norm(y, axis=-1, keepdims=True)
    return np.stack([np.cross(y, z), y, z], axis=-1)


def camera_poses(n: int, seed: int) -> np.ndarray:
    """(n,4,4) world_from_camera: eyes near the origin, the heading turning 0.3 rad, pitched 35 degrees down."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / FPS
    yaw = rng.uniform(-1, 1) + 0.3 * np.sin(1.5 * t)
    pitch = np.radians(35)
    heading = np.stack([np.sin(yaw), np.zeros(n), np.cos(yaw)], axis=-1)
    forward = np.cos(pitch) * heading + np.sin(pitch) * -UP
    pos = 0.02 * np.sin(t[:, None] * np.array([1.0, 1.3, 0.7]))
    return se3(_look(forward), pos)


# the right hand's frame (wrist -> fingers, thumb side, back of the hand) in camera axes: fingers forward, the back
# of the hand up (-y), the thumb towards the middle of the image (-x)
RIGHT_IN_CAMERA = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])


def hand_joints(n: int, side: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Camera-frame (n,21,3) joints and (n,3,3) hand frames: ahead, below the line of sight, on its side, moving
    about 6 cm; the left hand the mirror image of a right one across the image's vertical."""
    rng = np.random.default_rng(seed + (side == "left"))
    t = np.arange(n)[:, None] / FPS
    wrist = np.array([0.14, 0.16, 0.40]) + 0.06 * np.sin(t * rng.uniform(2, 4, 3) + rng.uniform(0, 6, 3))
    R = RIGHT_IN_CAMERA
    if side == "left":
        wrist, R = wrist * MIRROR, np.diag(MIRROR) @ R @ np.diag(MIRROR)
    layout = np.stack([hand_layout(side)[k] for k in MANO21_NAMES])
    return wrist[:, None] + layout @ R.T, np.broadcast_to(R, (n, 3, 3)).copy()


def episode_dict(spec: VitraEpisodeSpec, seed: int = 0) -> dict:
    """The metadata dict of one episode, as VITRA pickles it."""
    n = spec.frames
    cam = camera_poses(n, seed)
    out: dict = {
        "video_clip_id_segment": np.zeros(n, dtype=np.int64),
        "extrinsics": np.linalg.inv(cam),
        "intrinsics": np.array([[FOCAL, 0, LABEL_W / 2], [0, FOCAL, LABEL_H / 2], [0, 0, 1.0]]),
        "video_decode_frame": np.arange(spec.first, spec.first + n),
        "video_name": spec.video,
        "avg_speed": 0.01,
        "total_rotvec_degree": 10.0,
        "total_transl_dist": 0.05,
        "anno_type": spec.anno_type,
        "text": {"right": [("Pick up the cup.", (0, n))], "left": [("Hold the lid.", (0, n // 2))]},
        "text_rephrase": {
            "right": [(["Pick up the cup", " Grab the cup"], (0, n))],
            "left": [(["Hold the lid", " Keep the lid still"], (0, n // 2))],
        },
    }
    for side in ("left", "right"):
        joints_cam, R_cam = hand_joints(n, side, seed)
        joints = np.einsum("tij,tpj->tpi", cam[:, :3, :3], joints_cam) + cam[:, None, :3, 3]
        a, b = spec.kept.get(side, (0, 0))
        kept = np.zeros(n, dtype=np.int64)
        kept[a:b] = 1
        if side in spec.kept_frames:
            kept = np.asarray(spec.kept_frames[side], dtype=np.int64)
            if kept.shape != (n,):
                raise ValueError(f"kept_frames[{side!r}]: {kept.shape[0]} values for {n} frames")
        out[side] = {
            "beta": np.zeros(10),
            "global_orient_camspace": R_cam,
            "global_orient_worldspace": cam[:, :3, :3] @ R_cam,
            "hand_pose": np.broadcast_to(np.eye(3), (n, 15, 3, 3)).copy(),
            "transl_camspace": joints_cam[:, 0],
            "transl_worldspace": joints[:, 0],
            "kept_frames": kept,
            "joints_camspace": joints_cam.astype(np.float32),
            "joints_worldspace": joints,
            "wrist": joints_cam[:, :1].astype(np.float32),
        }
    return out


def write_vitra(root: Path, specs: list[VitraEpisodeSpec], size: tuple[int, int] = (320, 240)) -> Path:
    """Each episode's `.npy` and its raw video (`first + frames` frames at 30 fps, `size` = (width, height); `.webm`
    paths in VP9, others H.264). Returns the root."""
    root = Path(root)
    for k, spec in enumerate(specs):
        folder = root / "Metadata" / spec.dataset / "episodic_annotations"
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / f"{spec.name}.npy", np.array(episode_dict(spec, seed=k), dtype=object), allow_pickle=True)
        video = root / spec.video_path
        if not video.exists():
            codec = "libvpx-vp9" if video.suffix == ".webm" else "libx264"
            frames = (synthetic_frame(size[1], size[0], t, seed=k) for t in range(spec.first + spec.frames))
            write_mp4(video, frames, FPS, codec)
    return root
