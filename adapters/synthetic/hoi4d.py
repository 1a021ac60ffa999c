"""HOI4D sequences in the maker's layout, for the `hoi4d` adapter's tests (`adapters/hoi4d/files.py` cites each file):

    handpose/refinehandpose_{left,right}/<seq>/<frame>.pickle   (protocol 2, as Python 2 wrote them)
    camera_params/<camera id>/intrin.npy
    HOI4D_release/<seq>/align_rgb/image.mp4                      (or its decoded %05d.jpg frames)
    HOI4D_annotations/<seq>/3Dseg/output.log                     (Open3D LOG, camera-to-world)
    HOI4D_annotations/<seq>/objpose/<frame>.json                 (center, rotation XYZ Euler, dimensions)
    HOI4D_annotations/<seq>/action/color.json                    (`events`, or `markResult.marks`)

Geometry as `synthetic/vitra.py` builds an egocentric scene: the head camera (OpenCV axes) 35 degrees down, turning,
in a world whose up is -y; both hands 35-45 cm ahead on their own sides, palm down, fingers forward, each given as
MANO parameters in the camera frame the way HOI4D fits them: `poseCoeff` = the hand's orientation in the camera as
axis-angle, then 45 joint rotations (flat mean: a small flexion about the joints' own axes), `trans` the wrist's
camera-frame position (MANO's `transl`: the test model's rest wrist is at its origin), `beta` one per subject. An
object (a bottle on the table) fixed in the world, given per frame in the camera frame. Intrinsics for 1920x1080;
the video is written at `size` (16:9), so they are scaled.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from adapters.synthetic.hand import MIRROR
from adapters.synthetic.video import synthetic_frame, write_mp4
from adapters.synthetic.vitra import RIGHT_IN_CAMERA, camera_poses

FPS = 15
K_1080P = np.array([[1000.0, 0.0, 960.0], [0.0, 1000.0, 540.0], [0.0, 0.0, 1.0]])
BETA = np.array([0.4, -0.3, 0.2, 0.0, 0.1, -0.1, 0.0, 0.05, 0.0, 0.0])


@dataclass(frozen=True)
class Hoi4dSequenceSpec:
    seq: str = "ZY20210800001/H1/C5/N12/S100/s01/T2"  # camera / subject / category / instance / room / layout / task
    frames: int = 30
    hands: dict[str, tuple[int, int]] | None = None  # side -> annotated frames [a, b); None: both, every frame
    jpg_frames: bool = False  # align_rgb as decode.py's %05d.jpg frames instead of image.mp4
    mark_result: bool = False  # action/color.json in the `markResult.marks` layout
    action_clock_s: float = 0.0  # `info.duration` of the action file (0: the video's length)


def hand_params(n: int, side: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(n,48) `poseCoeff` and (n,3) camera-frame `trans` of one hand (module docstring)."""
    rng = np.random.default_rng(seed + (side == "left"))
    t = np.arange(n)[:, None] / FPS
    wrist = np.array([0.13, 0.12, 0.40]) + 0.04 * np.sin(t * rng.uniform(2, 4, 3) + rng.uniform(0, 6, 3))
    R = RIGHT_IN_CAMERA
    if side == "left":
        wrist, R = wrist * MIRROR, np.diag(MIRROR) @ R @ np.diag(MIRROR)
    pose = np.zeros((n, 48))
    pose[:, :3] = Rotation.from_matrix(np.broadcast_to(R, (n, 3, 3))).as_rotvec()
    pose[:, 3:] = 0.08 * np.sin(t * 2.0 + np.arange(45) / 7.0)  # each joint turning a little
    return pose, wrist


def _log(world_from_camera: np.ndarray) -> str:
    """Open3D's LOG text (FileLOG.cpp's writer: "i i i+1", then the camera-to-world rows at %.8f)."""
    out = []
    for i, m in enumerate(world_from_camera):
        out.append(f"{i} {i} {i + 1}")
        out += [" ".join(f"{v:.8f}" for v in row) for row in m]
    return "\n".join(out) + "\n"


def _actions(spec: Hoi4dSequenceSpec) -> dict:
    video_s = spec.frames / FPS
    clock = spec.action_clock_s or video_s
    cuts = [(0.0, 0.4), (0.4, 1.0)]
    names = ["Reach out", "Pick up"]
    marks = [(name, a * clock, b * clock) for name, (a, b) in zip(names, cuts, strict=True)]
    if spec.mark_result:
        key = [{"id": k + 1, "event": e, "hdTimeStart": a, "hdTimeEnd": b} for k, (e, a, b) in enumerate(marks)]
        return {"info": {"Duration": clock}, "markResult": {"marks": key}}
    return {"info": {"duration": clock}, "events": [{"event": e, "startTime": a, "endTime": b} for e, a, b in marks]}


def write_hoi4d(root: Path, specs: list[Hoi4dSequenceSpec], size: tuple[int, int] = (320, 180)) -> Path:
    """Each sequence's files (module docstring); returns the root."""
    root = Path(root)
    for k, spec in enumerate(specs):
        n, seq = spec.frames, spec.seq
        cam = camera_poses(n, seed=k)
        params = root / "camera_params" / seq.split("/")[0]
        params.mkdir(parents=True, exist_ok=True)
        np.save(params / "intrin.npy", K_1080P)
        ann = root / "HOI4D_annotations" / seq
        (ann / "3Dseg").mkdir(parents=True, exist_ok=True)
        (ann / "3Dseg" / "output.log").write_text(_log(cam))
        (ann / "action").mkdir(parents=True, exist_ok=True)
        (ann / "action" / "color.json").write_text(json.dumps(_actions(spec)))
        (ann / "objpose").mkdir(parents=True, exist_ok=True)
        bottle = np.eye(4)
        bottle[:3, 3] = (cam[0] @ [0.0, 0.25, 0.55, 1.0])[:3]  # on the table ahead of the first view
        for i in range(n):
            pose = np.linalg.inv(cam[i]) @ bottle
            rot = Rotation.from_matrix(pose[:3, :3]).as_euler("XYZ")
            entry = {
                "label": "bottle",
                "center": dict(zip("xyz", map(float, pose[:3, 3]), strict=True)),
                "rotation": dict(zip("xyz", map(float, rot), strict=True)),
                "dimensions": {"length": 0.07, "width": 0.07, "height": 0.22},
            }
            (ann / "objpose" / f"{i}.json").write_text(json.dumps({"dataList": [entry]}))
        for side in ("left", "right"):
            a, b = (spec.hands or {"left": (0, n), "right": (0, n)}).get(side, (0, 0))
            if b <= a:
                continue
            folder = root / "handpose" / f"refinehandpose_{side}" / seq
            folder.mkdir(parents=True, exist_ok=True)
            pose, trans = hand_params(n, side, seed=k)
            for i in range(a, b):
                uv = (K_1080P @ trans[i]) / trans[i][2]
                d = {
                    "poseCoeff": pose[i].astype(np.float32),
                    "beta": BETA.astype(np.float32),
                    "trans": trans[i].astype(np.float32),
                    "kps2D": np.tile(uv[:2], (21, 1)).astype(np.float32),  # the wrist's projection, as a stand-in
                }
                (folder / f"{i}.pickle").write_bytes(pickle.dumps(d, protocol=2))
        rgb = root / "HOI4D_release" / seq / "align_rgb"
        rgb.mkdir(parents=True, exist_ok=True)
        frames = (synthetic_frame(size[1], size[0], t, seed=k) for t in range(n))
        if spec.jpg_frames:
            for i, f in enumerate(frames):
                cv2.imwrite(str(rgb / f"{i:05d}.jpg"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
        else:
            write_mp4(rgb / "image.mp4", frames, FPS, "libx264")
    return root
