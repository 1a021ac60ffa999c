"""ARCTIC sequences in the maker's layout (zc-alexfan/arctic@49f3eb4 docs/data/data_doc.md, read by
src/arctic/preprocess_dataset.py `construct_loader`), for the `arctic` adapter's tests: under a data folder,
`raw_seqs/<subject>/<seq>.mano.npy` / `.egocam.dist.npy` / `.smplx.npy` (0-d object arrays of dicts),
`.object.npy` (T,7), `meta/misc.json` per subject, and `images/<subject>/<seq>/<view>/<index:05d>.jpg` from index
`ioi_offset`.

Geometry (`synthetic/headcam.py`): a Z-up capture world (a Vicon room) with the table 0.4 m under the eyes, the
egocentric camera pitched down and turning its head, the SMPL-X body upright (`global_orient` turns the template's
+y to +z, facing the first heading), both hands ahead on their own sides, palm down. `trans` puts each wrist joint
where wanted for a MANO model whose rest wrist joint J0 is at the origin (the tests' model); `pose` zeros, that is
MANO's mean pose (`flat_hand_mean=False`); `shape` zeros. The object's translation is in millimetres, as ARCTIC's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from adapters.synthetic.headcam import HEIGHT, WIDTH, K, hand_in_world, head_camera
from adapters.synthetic.video import synthetic_frame

FPS = 30.0
UP = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class ArcticSeqSpec:
    subject: str = "s01"
    seq: str = "box_grab_01"
    frames: int = 45
    views: tuple[int, ...] = (0, 1)  # image folders written (0 the egocentric view)
    ioi_offset: int = 1


def _save(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.array(obj, dtype=object) if isinstance(obj, dict) else obj, allow_pickle=isinstance(obj, dict))


def sequence_files(spec: ArcticSeqSpec, seed: int = 0) -> dict[str, object]:
    """The four raw_seqs payloads of one sequence, keyed by their suffix's name (mano, object, egocam, smplx)."""
    n = spec.frames
    cam = head_camera(n, FPS, UP, seed, eyes=np.array([0.0, 0.0, 1.2]))
    world2ego = np.linalg.inv(cam)
    mano = {}
    for side in ("left", "right"):
        wrist, R = hand_in_world(cam, side, FPS, seed)
        mano[side] = {
            "rot": Rotation.from_matrix(R).as_rotvec(),
            "pose": np.zeros((n, 45)),
            "trans": wrist,
            "shape": np.zeros(10),
            "fitting_err": np.full(n, 0.002),
        }
    heading = cam[0, :3, 2] - (cam[0, :3, 2] @ UP) * UP
    heading /= np.linalg.norm(heading)
    body = np.stack([np.cross(UP, heading), UP, heading], axis=-1)  # SMPL-X axes: left, up, forward
    t = np.arange(n) / FPS
    box = cam[0, :3, 3] + 0.5 * heading - 0.45 * UP
    obj = np.zeros((n, 7))
    obj[:, 0] = 0.5 * np.sin(t)  # the lid opens and closes
    obj[:, 3] = 0.2 * t  # turning about z
    obj[:, 4:] = box * 1000.0
    egocam = {
        "R_k_cam_np": world2ego[:, :3, :3],
        "T_k_cam_np": world2ego[:, :3, 3:4],
        "intrinsics": K.copy(),
        "dist8": np.zeros(8),
        "R0": np.eye(3),
        "T0": np.zeros((3, 1)),
        "ego_markers.ref": np.zeros((4, 3)),
        "ego_markers.label": np.array(["m0", "m1", "m2", "m3"]),
    }
    orient = np.broadcast_to(Rotation.from_matrix(body).as_rotvec(), (n, 3)).copy()
    smplx = {"transl": np.zeros((n, 3)), "global_orient": orient, "body_pose": np.zeros((n, 63))}
    smplx |= {k: np.zeros((n, 3)) for k in ("jaw_pose", "leye_pose", "reye_pose")}
    smplx |= {k: np.zeros((n, 45)) for k in ("left_hand_pose", "right_hand_pose")}
    return {"mano": mano, "object": obj, "egocam": egocam, "smplx": smplx}


def misc_entry(ioi_offset: int) -> dict:
    """A subject's `meta/misc.json` entry: 8 allocentric cameras 2 m out around the table, looking at it."""
    world2cam, intris = [], []
    for k in range(8):
        a = 2 * np.pi * k / 8
        eye = np.array([2.0 * np.cos(a), 2.0 * np.sin(a), 1.6])
        z = -eye / np.linalg.norm(eye)
        y = -UP - (z @ -UP) * z
        y /= np.linalg.norm(y)
        R = np.stack([np.cross(y, z), y, z], axis=-1)
        world2cam.append(np.linalg.inv(np.block([[R, eye[:, None]], [np.zeros((1, 3)), np.ones((1, 1))]])).tolist())
        intris.append(K.tolist())
    return {
        "gender": "female",
        "image_size": [[WIDTH, HEIGHT]] * 9,
        "intris_mat": intris,
        "world2cam": world2cam,
        "ioi_offset": ioi_offset,
    }


def write_arctic(data: Path, specs: list[ArcticSeqSpec]) -> Path:
    """Each sequence's raw files and view images under the data folder `data`, and meta/misc.json. Returns `data`."""
    data = Path(data)
    misc: dict[str, dict] = {}
    for k, spec in enumerate(specs):
        files = sequence_files(spec, seed=k)
        stem = data / "raw_seqs" / spec.subject / spec.seq
        suffixes = {"mano": ".mano.npy", "object": ".object.npy", "egocam": ".egocam.dist.npy", "smplx": ".smplx.npy"}
        for key, suffix in suffixes.items():
            _save(stem.parent / f"{spec.seq}{suffix}", files[key])
        misc[spec.subject] = misc_entry(spec.ioi_offset)
        for view in spec.views:
            folder = data / "images" / spec.subject / spec.seq / str(view)
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(spec.frames):
                rgb = synthetic_frame(HEIGHT, WIDTH, i, seed=10 * k + view)
                cv2.imwrite(str(folder / f"{i + spec.ioi_offset:05d}.jpg"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    (data / "meta").mkdir(parents=True, exist_ok=True)
    (data / "meta" / "misc.json").write_text(json.dumps(misc))
    return data
