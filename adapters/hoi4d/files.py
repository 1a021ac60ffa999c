"""HOI4D's files, read as its makers' instructions and its users' loaders read them, each into numpy.

- Hand pose, one pickle per annotated frame: `handpose/refinehandpose_{left,right}/<seq>/<frame>.pickle` (the
  frame's index from 0, no padding). `poseCoeff` (48,) = 3 global axis-angle + 45 joint axis-angle, fed to
  manopth's `ManoLayer(use_pca=False, flat_hand_mean=True)`; `beta` (10,); `trans` (3,) metres in the camera frame,
  added to the layer's joints / 1000 (leolyliu/HOI4D-Instructions@1547866:README.md:125-155); `kps2D` (21, 2) the
  joints projected into the image. Written by Python 2 (the README loads them with `encoding='latin1'`): read with
  `adapters.pickles.safe_loads`, numpy's globals only.
- Camera poses: `<seq>/3Dseg/output.log`, Open3D's camera trajectory (README.md:75-81, read there with
  `o3d.io.read_pinhole_camera_trajectory`): per frame a line `i j k`, then four rows of the 4x4 camera-to-world
  matrix (Open3D's `ReadPinholeCameraTrajectoryFromLOG` sets `extrinsic_ = trans.inverse()`,
  isl-org/Open3D@592b8de:cpp/open3d/io/file_format/FileLOG.cpp), OpenCV axes.
- Intrinsics: `camera_params/<camera id>/intrin.npy`, a 3x3 pinhole matrix per camera (users' loaders, e.g. search
  index id 33213560230: `np.load(.../camera_params/%s/intrin.npy % cam_id)`); a plain `.npy`, read without pickles.
- Object pose: `<seq>/objpose/<frame>.json`, `dataList` (or `objects`) entries with `center` {x, y, z}, `rotation`
  {x, y, z} as intrinsic XYZ Euler angles (scipy "XYZ") and `dimensions` {length, width, height} (README.md:97-123).
- Action segments: `<seq>/action/color.json`, `events` [{event, startTime, endTime}] (README.md:62-64), or in part of
  the release `markResult.marks` [{event, hdTimeStart, hdTimeEnd}]; times in seconds on a clock of `info.duration`
  (`Duration`) seconds that some files set to 10 s for a 20 s video: users' loaders scale by 300 frames /
  duration (search index ids 8861581597, 9602995149, 67159301371), as `action_events` does with the video's length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from adapters.pickles import safe_loads

FPS = 15.0  # 300 frames in 20 s (utils/decode.py:15 `fps=15`; the action clock's 300 / duration)
SEQUENCE = re.compile(r"^ZY\d+/H\d+/C\d+/N\d+/S\d+/s\d+/T\d+$")
HAND_KEYS: dict[str, tuple[int, ...]] = {"poseCoeff": (48,), "beta": (10,), "trans": (3,)}


@dataclass(frozen=True)
class HandPose:
    pose: np.ndarray  # (48,) global axis-angle then 45 joint axis-angle, flat mean
    beta: np.ndarray  # (10,)
    trans: np.ndarray  # (3,) metres, camera frame
    kps2d: np.ndarray | None  # (21, 2) pixels of the 1920x1080 image, when the file has them (NaN where not finite)


def hand_pose(data: bytes) -> HandPose:
    """One `<frame>.pickle`; ValueError naming the field that is missing or of another shape."""
    d = safe_loads(data)
    if not isinstance(d, dict):
        raise ValueError(f"a pickled {type(d).__name__}, not a hand-pose dict")
    out = {}
    for key, shape in HAND_KEYS.items():
        if key not in d:
            raise ValueError(f"missing {key!r} (keys: {sorted(map(str, d))})")
        a = np.asarray(d[key], dtype=np.float64).reshape(-1) if np.size(d[key]) == np.prod(shape) else None
        if a is None or not np.isfinite(a).all():
            raise ValueError(f"{key!r} is {np.shape(d[key])}, expected {shape} finite values")
        out[key] = a
    kps = d.get("kps2D")
    kps = np.asarray(kps, dtype=np.float64).reshape(21, 2) if kps is not None and np.size(kps) == 42 else None
    return HandPose(out["poseCoeff"], out["beta"], out["trans"], kps)


def camera_trajectory(text: str) -> np.ndarray:
    """(N, 4, 4) world_from_camera of an Open3D `.log` trajectory; ValueError naming the line."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    if len(lines) % 5:
        raise ValueError(f"{len(lines)} lines, not blocks of 5 (an index line and 4 matrix rows)")
    poses = np.empty((len(lines) // 5, 4, 4))
    for k in range(len(poses)):
        head = lines[5 * k].split()
        if len(head) != 3 or not all(h.lstrip("-").isdigit() for h in head):
            raise ValueError(f"line {5 * k + 1}: {lines[5 * k]!r} is not three integers")
        try:
            poses[k] = [[float(v) for v in lines[5 * k + r].split()] for r in range(1, 5)]
        except ValueError as e:
            raise ValueError(f"frame {k}: the matrix rows are not four numbers each ({e})") from None
    if not np.isfinite(poses).all() or not np.allclose(poses[:, 3], [0, 0, 0, 1]):
        raise ValueError("a pose matrix is not finite or its last row is not 0 0 0 1")
    return poses


def object_poses(doc: Any) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(label, 4x4 camera-frame pose, dimensions) per annotated object of one `objpose/<frame>.json`."""
    entries = doc.get("dataList", doc.get("objects")) if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise ValueError("neither 'dataList' nor 'objects' is a list")
    out = []
    for k, e in enumerate(entries):
        try:
            c, r, d = e["center"], e["rotation"], e["dimensions"]
            pose = np.eye(4)
            pose[:3, :3] = Rotation.from_euler("XYZ", [float(r[a]) for a in "xyz"]).as_matrix()
            pose[:3, 3] = [float(c[a]) for a in "xyz"]
            dims = np.array([float(d[a]) for a in ("length", "width", "height")])
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"object {k}: no center/rotation/dimensions x, y, z ({err!r})") from None
        out.append((str(e.get("label", k)), pose, dims))
    return out


def action_events(doc: Any, video_s: float) -> list[tuple[str, float, float]]:
    """(event, start s, end s) on the video's clock, from either layout of `action/color.json` (module docstring)."""
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    if "events" in doc:
        raw = [(e.get("event"), e.get("startTime"), e.get("endTime")) for e in doc["events"]]
    elif isinstance(doc.get("markResult"), dict) and "marks" in doc["markResult"]:
        raw = [(m.get("event"), m.get("hdTimeStart"), m.get("hdTimeEnd")) for m in doc["markResult"]["marks"]]
    else:
        raise ValueError("neither 'events' nor 'markResult.marks'")
    info = doc.get("info") or {}
    duration = info.get("duration", info.get("Duration")) if isinstance(info, dict) else None
    scale = video_s / float(duration) if duration else 1.0
    out = []
    for k, (name, t0, t1) in enumerate(raw):
        if not isinstance(name, str) or not isinstance(t0, int | float) or not isinstance(t1, int | float) or t1 < t0:
            raise ValueError(f"event {k}: {name!r} from {t0!r} to {t1!r} is not a named [start, end] in seconds")
        out.append((name.strip(), float(t0) * scale, float(t1) * scale))
    return out
