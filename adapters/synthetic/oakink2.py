"""OakInk2 sequences in the maker's layout, for the `oakink2` adapter's tests (`adapters/oakink2/files.py` and
`program.py` cite each file):

    anno_preview/<token>.pkl                          a dict pickled with `pickle.dump`, hands as torch tensors
    data/<token>/<serial>/<frame id:06d>.png          four cameras, every fourth mocap frame (30 of 120 Hz)
    program/task_target.json                          {sequence key: task}
    program/program_info/<token>.json                 {"(left interval, right interval)": primitive}
    program/desc_info/<token>.json                    {"(left interval, right interval)": {"seg_desc": text}}
    object_raw/obj_desc.json                          {object id: {"obj_id", "obj_name"}} (README.md:239-249)

The hands' tensors are made by torch and pickled as the toolkit's `pickle.load` reads them back (torch is imported
here only). Geometry as `synthetic/vitra.py` builds an egocentric scene, in a motion-capture world whose up is -y:
the egocentric camera (OpenCV axes) 35 degrees down and turning; both hands 35-45 cm ahead on their own sides, palm
down, fingers forward; the root quaternion (w first) the hand's world orientation, `tsl` the wrist joint, the 15
joints turning a little about their own axes (flat mean). A static top camera 1 m above the hands, two side ones.
Images 212x120 with intrinsics for that size. The two hands' primitives overlap in time, each hand's own do not.
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
from adapters.synthetic.video import synthetic_frame
from adapters.synthetic.vitra import RIGHT_IN_CAMERA, camera_poses

FPS_MOCAP, EVERY = 120, 4  # images every fourth mocap frame
W, H = 212, 120
K_EGO = np.array([[150.0, 0.0, 106.0], [0.0, 150.0, 60.0], [0.0, 0.0, 1.0]])
CAMERAS = {"0411": "allocentric_top", "0412": "allocentric_left", "0413": "allocentric_right", "0414": "egocentric"}
TASK = "Pour tea from the kettle into the cup."
PROGRAM = {  # (left interval, right interval) -> (primitive, seg_desc, interaction mode); frames of 200
    ((0, 100), None): ("hold", "Hold the cup steady.", "lh_main"),
    (None, (20, 140)): ("pour", "Pour tea from the kettle into the cup.", "rh_main"),
    ((100, 200), (140, 200)): ("place", "Put the cup and the kettle down.", "bh_main"),
}


@dataclass(frozen=True)
class OakInk2SequenceSpec:
    token: str = "scene_01__A001++seq__0b6b1a4dd2c64a1d9e0e__2023-04-20-15-07-17"
    frames: int = 200  # mocap frames at 120 Hz
    image_ext: str = ".png"
    scalar_last: bool = False  # write the quaternions x, y, z, w (a planted defect: OakInk2 writes w first)


def _look_down(height: float) -> np.ndarray:
    """world_from_camera of a static camera `height` m above the origin (up -y), looking straight down."""
    pose = np.eye(4)
    pose[:3, :3] = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # columns: x, y (towards -z), z down
    pose[:3, 3] = [0.0, -height, 0.3]
    return pose


def hands(n: int, cam: np.ndarray, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """side -> ((n,16,4) wxyz quaternions: the hand's world orientation, then 15 joints; (n,3) wrist, world)."""
    out = {}
    t = np.arange(n)[:, None] / FPS_MOCAP
    for side in ("left", "right"):
        rng = np.random.default_rng(seed + (side == "left"))
        p_cam = np.array([0.13, 0.08, 0.40]) + 0.04 * np.sin(t * rng.uniform(2, 4, 3) + rng.uniform(0, 6, 3))
        R_cam = RIGHT_IN_CAMERA
        if side == "left":
            p_cam, R_cam = p_cam * MIRROR, np.diag(MIRROR) @ R_cam @ np.diag(MIRROR)
        wrist = np.einsum("tij,tj->ti", cam[:, :3, :3], p_cam) + cam[:, :3, 3]
        quats = np.empty((n, 16, 4))
        quats[:, 0] = Rotation.from_matrix(cam[:, :3, :3] @ R_cam).as_quat(scalar_first=True)
        joints = 0.08 * np.sin(t[:, :, None] * 2.0 + np.arange(45).reshape(1, 15, 3) / 7.0)
        quats[:, 1:] = Rotation.from_rotvec(joints.reshape(-1, 3)).as_quat(scalar_first=True).reshape(n, 15, 4)
        out[side] = (quats, wrist)
    return out


def annotation(spec: OakInk2SequenceSpec, seed: int = 0) -> dict:
    """The annotation dict, torch tensors where OakInk2 has them (README.md:191-237)."""
    import torch

    n = spec.frames
    cam = camera_poses(n, seed)
    images = list(range(0, n, EVERY))
    statics = {"allocentric_top": 1.0, "allocentric_left": 1.2, "allocentric_right": 1.4}  # heights above the hands
    extr = {
        name: {i: np.linalg.inv(cam[i] if name == "egocentric" else _look_down(statics[name])) for i in images}
        for name in CAMERAS.values()
    }
    mano: dict[int, dict] = {i: {} for i in range(n)}
    for side, (quats, wrist) in hands(n, cam, seed).items():
        p = "lh" if side == "left" else "rh"
        q = quats[..., [1, 2, 3, 0]] if spec.scalar_last else quats
        for i in range(n):
            mano[i][f"{p}__pose_coeffs"] = torch.tensor(q[i : i + 1], dtype=torch.float32)
            mano[i][f"{p}__tsl"] = torch.tensor(wrist[i : i + 1], dtype=torch.float32)
            mano[i][f"{p}__betas"] = torch.tensor([[0.4, -0.3, 0.2, 0.0, 0.1, -0.1, 0.0, 0.05, 0.0, 0.0]])
    cup = np.eye(4)
    cup[:3, 3] = (cam[0] @ [0.0, 0.25, 0.55, 1.0])[:3]
    return {
        "cam_def": CAMERAS,
        "cam_selection": list(CAMERAS.values()),
        "frame_id_list": images,
        "cam_intr": {name: {i: K_EGO.copy() for i in images} for name in CAMERAS.values()},
        "cam_extr": extr,
        "mocap_frame_id_list": list(range(n)),
        "obj_list": ["O02@0045@00001"],
        "obj_transf": {"O02@0045@00001": {i: cup.copy() for i in range(n)}},
        "raw_smplx": {
            i: {"world_tsl": torch.zeros(1, 3), "world_rot": torch.tensor([[1.0, 0, 0, 0]])} for i in range(n)
        },
        "raw_mano": mano,
    }


def write_oakink2(root: Path, specs: list[OakInk2SequenceSpec]) -> Path:
    """Each sequence's annotation, images and program (module docstring); returns the root."""
    root = Path(root)
    targets, objects = {}, set()
    for k, spec in enumerate(specs):
        anno = annotation(spec, seed=k)
        objects.update(anno["obj_list"])
        (root / "anno_preview").mkdir(parents=True, exist_ok=True)
        with open(root / "anno_preview" / f"{spec.token}.pkl", "wb") as f:
            pickle.dump(anno, f)
        for serial in CAMERAS:
            folder = root / "data" / spec.token / serial
            folder.mkdir(parents=True, exist_ok=True)
            for j, i in enumerate(anno["frame_id_list"]):
                bgr = cv2.cvtColor(synthetic_frame(H, W, j, seed=k + int(serial)), cv2.COLOR_RGB2BGR)
                cv2.imwrite(str(folder / f"{i:06d}{spec.image_ext}"), bgr)
        for name, rows in (("program_info", _info()), ("desc_info", _desc())):
            (root / "program" / name).mkdir(parents=True, exist_ok=True)
            (root / "program" / name / f"{spec.token}.json").write_text(json.dumps(rows))
        targets[spec.token.replace("++", "/")] = TASK
    (root / "program" / "task_target.json").write_text(json.dumps(targets))
    (root / "object_raw").mkdir(parents=True, exist_ok=True)  # the toolkit's `OakInk2__Dataset` reads it on opening
    desc = {o: {"obj_id": o, "obj_name": "cup"} for o in sorted(objects)}
    (root / "object_raw" / "obj_desc.json").write_text(json.dumps(desc))
    return root


def _info() -> dict:
    out = {}
    for key, (prim, _, mode) in PROGRAM.items():
        lh, rh = key
        out[str(key)] = {
            "primitive": prim,
            "obj_list": ["O02@0045@00001"],
            "interaction_mode": mode,
            "primitive_lh": prim if lh else None,
            "primitive_rh": prim if rh else None,
            "obj_list_lh": ["O02@0045@00001"] if lh else None,
            "obj_list_rh": ["O02@0045@00001"] if rh else None,
        }
    return out


def _desc() -> dict:
    return {str(key): {"seg_desc": text} for key, (_, text, _) in PROGRAM.items()}
