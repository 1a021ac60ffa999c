"""A small Ego-Exo4D ego-pose download in the maker's layout (`adapters/egoexo4d_egopose/files.py` cites each fact):
`takes.json` (take_uid, take_name, root_dir, the capture's cameras with `is_ego`, `frame_aligned_videos`),
`annotations/ego_pose/train/hand/{annotation,automatic}/<take_uid>.json` (frame number -> [{"annotation3D": joint ->
{x, y, z, num_views_for_3d}, "annotation2D": {}}]) and `annotations/ego_pose/train/camera_pose/<take_uid>.json` (the
Aria camera's intrinsics and per-frame 3x4 world-to-camera extrinsics), and for the first take its frame-aligned
Aria RGB mp4 (`takes/<take_name>/frame_aligned_videos/aria01_214-1.mp4`, 30 fps).

The world is z up; the Aria camera (z ahead, x right, y down) at 1.55-1.70 m looks 30-40 degrees down, the hands
in front of it as in `synthetic/aria_mps.py` (the synthetic adult hand, `synthetic/hand.py`). Annotated frames every
`step` frames. `missing` lists (take, side, annotated rows) where the hand is not annotated (its joints absent);
`few_views` (take, side, row) where one joint of a manual hand was seen by 2 views only (the maker's loader drops it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from adapters.egoexo4d_egopose.files import JOINT_OF, SIDES
from adapters.synthetic.aria_mps import FPS, hand_in_camera, rgb_track
from adapters.synthetic.hand import hand_layout
from adapters.synthetic.video import synthetic_frame, write_mp4

K = [[150.0, 0.0, 255.5], [0.0, 150.0, 255.5], [0.0, 0.0, 1.0]]  # a 512x512 pinhole of focal 150 (the maker's)
CAMERA = "aria01"


@dataclass
class EgoPoseFixture:
    root: Path
    takes: list[str]  # take uids
    frames: int  # annotated frames per take
    step: int
    missing: list[tuple[str, str, range]] = field(default_factory=list)
    few_views: list[tuple[str, str, int]] = field(default_factory=list)


def take_entry(uid: str, name: str) -> dict:
    return {
        "take_uid": uid,
        "take_name": name,
        "root_dir": f"takes/{name}",
        "capture": {"cameras": [{"cam_id": CAMERA, "is_ego": True}, {"cam_id": "cam01", "is_ego": False}]},
        "frame_aligned_videos": {
            CAMERA: {"rgb": {"cam_id": CAMERA, "relative_path": f"frame_aligned_videos/{CAMERA}_214-1.mp4"}},
            "cam01": {"0": {"cam_id": "cam01", "relative_path": "frame_aligned_videos/cam01.mp4"}},
        },
    }


def write_take(
    root: Path,
    uid: str,
    rng: np.random.Generator,
    frames: np.ndarray,
    placement: str,
    gone: dict[str, range],
    few: dict[str, int],
) -> None:
    """One take's annotation and camera pose files at `frames` (frame numbers); rows index `frames`."""
    world_from_cam = rgb_track(rng, np.round(frames * 1e6 / FPS).astype(np.int64))
    ann, extr = {}, {}
    for r, f in enumerate(frames):
        joints = {}
        for side in SIDES:
            if r in gone.get(side, range(0)):
                continue
            wrist, R = hand_in_camera(np.array([float(f)]), side)
            for name, joint in JOINT_OF.items():
                p_cam = wrist[0] + R @ hand_layout(side)[name]
                p = world_from_cam[r, :3, :3] @ p_cam + world_from_cam[r, :3, 3]
                views = 2 if few.get(side) == r and name == "index3" else 4
                joints[f"{side}_{joint}"] = {"x": p[0], "y": p[1], "z": p[2], "num_views_for_3d": views}
        ann[str(int(f))] = [{"annotation3D": joints, "annotation2D": {}}]
        extr[str(int(f))] = np.linalg.inv(world_from_cam[r])[:3].tolist()
    folder = "annotation" if placement == "manual" else "automatic"
    hand_dir = root / "annotations/ego_pose/train/hand" / folder
    cam_dir = root / "annotations/ego_pose/train/camera_pose"
    hand_dir.mkdir(parents=True, exist_ok=True)
    cam_dir.mkdir(parents=True, exist_ok=True)
    (hand_dir / f"{uid}.json").write_text(json.dumps(ann))
    (cam_dir / f"{uid}.json").write_text(json.dumps({CAMERA: {"camera_intrinsics": K, "camera_extrinsics": extr}}))


def write_egopose(root: Path, frames: int = 24, step: int = 3, seed: int = 0) -> EgoPoseFixture:
    """Two takes annotated every `step` frames: take A manual with its mp4, its left hand not annotated in rows 4-5
    and one right joint of row 8 seen by 2 views; take B automatic, no video downloaded."""
    rng = np.random.default_rng(seed)
    uids = ["0a1b2c3d-aaaa-4000-8000-000000000001", "0a1b2c3d-bbbb-4000-8000-000000000002"]
    fx = EgoPoseFixture(root, uids, frames, step, [(uids[0], "left", range(4, 6))], [(uids[0], "right", 8)])
    takes = []
    for uid, name, placement in zip(uids, ("take_a_cooking_1", "take_b_bike_2"), ("manual", "automatic"), strict=True):
        takes.append(take_entry(uid, name))
        gone = {side: rows for t, side, rows in fx.missing if t == uid}
        few = {side: row for t, side, row in fx.few_views if t == uid}
        write_take(root, uid, rng, np.arange(frames) * step + 30, placement, gone, few)
    (root / "takes.json").write_text(json.dumps(takes))
    video = root / takes[0]["root_dir"] / takes[0]["frame_aligned_videos"][CAMERA]["rgb"]["relative_path"]
    video.parent.mkdir(parents=True, exist_ok=True)
    write_mp4(video, (synthetic_frame(64, 64, i, seed=2) for i in range(30 + frames * step + 15)), round(FPS))
    return fx
