"""TACO sequences in the maker's layout (leolyliu/TACO-Instructions@c06f82c README.md "Data Organization", read by
dataset_utils/project_pose_to_egocentric_view.py and hand_pose_loader.py), for the `taco` adapter's tests: per
`<triplet>/<sequence>`, `Hand_Poses/` pickles of torch tensors (`{side}_hand.pkl` keyed by frame, `hand_pose` (48,)
and `hand_trans` (3,) views of one (T, 48) and one (T, 3) storage; `{side}_hand_shape.pkl` `hand_shape` (1,10)),
`Object_Poses/` `tool_<id>.npy` / `target_<id>.npy` (T,4,4), `Egocentric_Camera_Parameters/`
(`egocentric_intrinsic.txt`, `egocentric_frame_extrinsic.npy` world-to-camera), `Egocentric_RGB_Videos/.../color.mp4`,
and one allocentric video with its `Allocentric_Camera_Parameters/.../calibration.json`.

Geometry (`synthetic/headcam.py`): a Z-up world with its origin on the table top, the eyes 0.45 m above it, the
egocentric camera pitched down and turning, both hands ahead on their own sides, palm down; `hand_pose[:3]` each
hand's global rotation, the 45 others zero (the flat hand: TACO's layer has `flat_hand_mean`), `hand_trans` the
wrist joint, `hand_shape` zeros. The allocentric camera looks down at the table from 1.5 m, as the maker's fixed view.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from adapters.synthetic.headcam import HEIGHT, WIDTH, K, hand_in_world, head_camera, look
from adapters.synthetic.video import synthetic_frame, write_mp4

FPS = 30
UP = np.array([0.0, 0.0, 1.0])
ALLO_SERIAL = "22139908"


@dataclass(frozen=True)
class TacoSeqSpec:
    triplet: str = "(stir, spoon, bowl)"
    sequence: str = "20231105_019"
    frames: int = 45
    egocentric_video: bool = True
    allocentric: bool = True


def hand_pickles(spec: TacoSeqSpec, cam: np.ndarray, side: str, seed: int) -> tuple[dict, dict]:
    """The `{side}_hand.pkl` and `{side}_hand_shape.pkl` payloads, torch tensors as the maker's files hold them."""
    import torch

    wrist, R = hand_in_world(cam, side, FPS, seed)
    poses = torch.zeros(spec.frames, 48, dtype=torch.float32)
    poses[:, :3] = torch.as_tensor(Rotation.from_matrix(R).as_rotvec(), dtype=torch.float32)
    trans = torch.as_tensor(wrist, dtype=torch.float32)
    # each frame a view of the sequence's storage, as the maker's optimiser leaves them (a frame's pickle then
    # carries the whole storage, and the frame is read at its offset)
    frames = {f"{i:05d}": {"hand_pose": poses[i], "hand_trans": trans[i]} for i in range(spec.frames)}
    return frames, {"hand_shape": torch.zeros(1, 10)}


def _allocentric() -> dict:
    eye = np.array([0.0, -0.5, 1.5])
    R = look((-eye / np.linalg.norm(eye))[None], UP)[0]
    world2cam = np.linalg.inv(np.block([[R, eye[:, None]], [np.zeros((1, 3)), np.ones((1, 1))]]))
    return {
        ALLO_SERIAL: {"K": K.ravel().tolist(), "R": world2cam[:3, :3].ravel().tolist(), "T": world2cam[:3, 3].tolist()}
        | {"imgSize": [WIDTH, HEIGHT]}
    }


def write_taco(root: Path, specs: list[TacoSeqSpec]) -> Path:
    """Each sequence's files under the dataset folder `root`. Returns `root`."""
    root = Path(root)
    for k, spec in enumerate(specs):
        rel = Path(spec.triplet) / spec.sequence
        n = spec.frames
        cam = head_camera(n, FPS, UP, k, eyes=np.array([0.0, -0.45, 0.45]))
        hands = root / "Hand_Poses" / rel
        hands.mkdir(parents=True, exist_ok=True)
        for side in ("left", "right"):
            poses, shape = hand_pickles(spec, cam, side, k)
            (hands / f"{side}_hand.pkl").write_bytes(pickle.dumps(poses))
            (hands / f"{side}_hand_shape.pkl").write_bytes(pickle.dumps(shape))
        objects = root / "Object_Poses" / rel
        objects.mkdir(parents=True, exist_ok=True)
        t = np.arange(n) / FPS
        for name, (x, y) in (("tool_042", (0.05, 0.0)), ("target_117", (-0.05, 0.05))):
            pose = np.tile(np.eye(4), (n, 1, 1))
            pose[:, :3, :3] = Rotation.from_rotvec(np.outer(0.3 * t, UP)).as_matrix()
            pose[:, :3, 3] = [x, y, 0.03]
            np.save(objects / f"{name}.npy", pose.astype(np.float32))
        params = root / "Egocentric_Camera_Parameters" / rel
        params.mkdir(parents=True, exist_ok=True)
        np.savetxt(params / "egocentric_intrinsic.txt", K)
        np.save(params / "egocentric_frame_extrinsic.npy", np.linalg.inv(cam))
        if spec.egocentric_video:
            frames = (synthetic_frame(HEIGHT, WIDTH, i, seed=k) for i in range(n))
            write_mp4(root / "Egocentric_RGB_Videos" / rel / "color.mp4", frames, FPS)
        if spec.allocentric:
            frames = (synthetic_frame(HEIGHT, WIDTH, i, seed=k + 100) for i in range(n))
            write_mp4(root / "Allocentric_RGB_Videos" / rel / f"{ALLO_SERIAL}.mp4", frames, FPS)
            calib = root / "Allocentric_Camera_Parameters" / rel / "calibration.json"
            calib.parent.mkdir(parents=True, exist_ok=True)
            calib.write_text(json.dumps(_allocentric()))
    return root
