"""HOT3D sequence files, parsed as the maker's loaders read them (facebookresearch/hot3d `hot3d/data_loaders/`).

- `headset_trajectory.csv` / `dynamic_objects.csv`: columns `object_uid,timestamp[ns],t_wo_x[m],t_wo_y[m],t_wo_z[m],
  q_wo_w,q_wo_x,q_wo_y,q_wo_z`, a pose T_world_object (the headset: T_world_device), quaternion w first
  (`loader_device_poses.py`, `constants.POSE_DATA_CSV_COLUMNS`: `SE3.from_quat_and_translation(w, xyz, t)`).
- `mano_hand_pose_trajectory.jsonl` / `umetrack_hand_pose_trajectory.jsonl`: one JSON per line, `timestamp_ns` and
  `hand_poses` keyed "0" (left) / "1" (right), each with `wrist_xform` {`q_wxyz`, `t_xyz`} (`loader_hand_poses.py`
  `_get_hand_pose`: `q_wxyz[0]` is w) and MANO `pose` (15 PCA coefficients) + `betas` (10), or UmeTrack
  `joint_angles` (22: 20 DoF + 2 zeros) + `hand_confidence`. A hand missing from a line was not annotated there.
  One MANO shape serves the whole sequence, both hands: the first `betas` of the file, hand "0" before "1"
  (`loader_hand_poses.py` `load_mano_shape_params`, given to both sides by `ManoHandDataProvider.py`).
- Camera calibration (Aria's read by `adapters/aria.py`): Aria sequences carry MPS's
  `mps/slam/online_calibration.jsonl` (per line `CameraCalibrations`, the RGB camera labelled `camera-rgb`,
  `T_Device_Camera` {`Translation`, `UnitQuaternion` [w, [x, y, z]]}, `Projection` `FisheyeRadTanThinPrism` params f,
  cx, cy + 12 distortion); Quest 3 sequences `camera_models.json` (`T_Device_Camera` {`quaternion_wxyz`,
  `translation_xyz`}, `projectionModelType` FISHEYE624, fx, fy, cx, cy + 12).
Errors are `ValueError`s naming the line and field; the adapter adds file and episode.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from adapters.aria import CameraCalibration, se3_from_wxyz
from adapters.hostile import bounds
from adapters.storage.location import Location
from schemas.settings import check, limit

POSE_COLUMNS = ("object_uid", "timestamp[ns]", "t_wo_x[m]", "t_wo_y[m]", "t_wo_z[m]", "q_wo_w", "q_wo_x", "q_wo_y",
                "q_wo_z")  # fmt: skip
HANDS = {"0": 0, "1": 1}  # HOT3D handedness key -> our hand index (0 = left, 1 = right)


def read_pose_csv(path: Location) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """object_uid -> (timestamps ns (N,), poses (N,4,4)), rows in time order, exact repeats of a timestamp dropped."""
    rows: dict[str, list[tuple[int, list[float]]]] = {}
    with path.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader, [])
        missing = [c for c in POSE_COLUMNS if c not in header]
        if missing:
            raise ValueError(f"header has no {missing[0]} column")
        idx = [header.index(c) for c in POSE_COLUMNS]
        for line, row in enumerate(reader, start=2):
            try:
                uid, ts = row[idx[0]], int(row[idx[1]])
                values = [float(row[i]) for i in idx[2:]]
            except (ValueError, IndexError) as e:
                raise ValueError(f"line {line}: {e}") from e
            if not np.all(np.isfinite(values)):
                raise ValueError(f"line {line}: a pose value is not finite")
            rows.setdefault(uid, []).append((ts, values))
    out = {}
    for uid, items in rows.items():
        items.sort(key=lambda r: r[0])
        ts = np.array([r[0] for r in items], dtype=np.int64)
        keep = np.concatenate([[True], np.diff(ts) > 0])
        v = np.array([r[1] for r in items])[keep]
        out[uid] = (ts[keep], se3_from_wxyz(v[:, 3:7], v[:, 0:3]))
    return out


@dataclass
class HandTrackRows:
    """One hand's rows of a hand-pose jsonl: timestamps (ns), wrist poses, per-row parameters."""

    timestamps: list[int] = field(default_factory=list)
    q_wxyz: list[list[float]] = field(default_factory=list)
    t_xyz: list[list[float]] = field(default_factory=list)
    params: list[list[float]] = field(default_factory=list)  # MANO pose (15) or UmeTrack joint_angles (22)
    betas: list[list[float]] = field(default_factory=list)  # MANO only
    confidence: list[float] = field(default_factory=list)  # UmeTrack only

    def arrays(self) -> dict[str, np.ndarray]:
        order = np.argsort(self.timestamps, kind="stable")
        out = {
            "timestamps": np.asarray(self.timestamps, np.int64)[order],
            "wrist": se3_from_wxyz(np.asarray(self.q_wxyz)[order], np.asarray(self.t_xyz)[order]),
            "params": np.asarray(self.params, np.float64)[order],
        }
        if self.betas:
            out["betas"] = np.asarray(self.betas, np.float64)[order]
        if self.confidence:
            out["confidence"] = np.asarray(self.confidence, np.float64)[order]
        return out


def read_hand_jsonl(path: Location, kind: str) -> dict[int, dict[str, np.ndarray]]:
    """hand index -> arrays (`HandTrackRows.arrays`), for kind "mano" (`pose`, `betas`) or "umetrack"
    (`joint_angles`, `hand_confidence`)."""
    key, width = ("pose", 15) if kind == "mano" else ("joint_angles", 22)
    tracks = {h: HandTrackRows() for h in HANDS.values()}
    shape: list[float] | None = None  # MANO: the file's first betas, which HOT3D gives every row of both hands
    cap = limit("SIDECAR_BYTES")
    with path.open() as f:
        for line_no, line in enumerate(iter(lambda: f.readline(cap + 1), ""), start=1):  # no line past the limit
            check(f"{path.name} line {line_no} size in characters", len(line), cap, "the SIDECAR_BYTES limit")
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
                ts, poses = int(doc["timestamp_ns"]), doc["hand_poses"]
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(f"line {line_no}: {type(e).__name__}: {e}") from e
            for handed, hand in HANDS.items():
                if handed in poses:
                    _add_hand(tracks[hand], poses[handed], ts, key, width, kind, f"line {line_no}: hand {handed}")
                    if shape is None and kind == "mano":
                        shape = tracks[hand].betas[-1]  # the row just added
    out = {h: t.arrays() for h, t in tracks.items() if t.timestamps}
    for arrays in out.values() if shape is not None else ():
        arrays["betas"] = np.tile(np.asarray(shape, np.float64), (len(arrays["timestamps"]), 1))
    return out


def _add_hand(track: HandTrackRows, entry: Any, ts: int, key: str, width: int, kind: str, where: str) -> None:
    try:  # a plain try, not `reraised`: this runs per hand per line, where a context manager costs ~1 us each
        wrist = entry["wrist_xform"]
        q, t, params = wrist["q_wxyz"], wrist["t_xyz"], entry[key]
    except (KeyError, TypeError) as e:
        raise ValueError(f"{where}: no {e}") from e
    if len(q) != 4 or len(t) != 3 or len(params) < (width if kind == "mano" else 20):
        raise ValueError(f"{where}: q_wxyz {len(q)}, t_xyz {len(t)}, {key} {len(params)} values")
    track.timestamps.append(ts)
    track.q_wxyz.append([float(v) for v in q])
    track.t_xyz.append([float(v) for v in t])
    track.params.append([float(v) for v in params[:width]] + [0.0] * (width - len(params)))
    if kind == "mano":
        betas = entry.get("betas")
        if not isinstance(betas, list) or not betas:
            raise ValueError(f"{where}: no betas")
        track.betas.append([float(v) for v in betas])
    else:
        track.confidence.append(float(entry.get("hand_confidence", 1.0)))


def read_quest_calibration(path: Location, label: str = "camera-slam-left") -> CameraCalibration:
    """The camera `label` of Quest 3's `camera_models.json`."""
    try:
        cams = bounds.load_json(path, path.name, limit("SIDECAR_BYTES"))
        cam = next(c for c in cams if c.get("label") == label)
        tf = cam["T_Device_Camera"]
        pose = se3_from_wxyz(np.array([tf["quaternion_wxyz"]]), np.array(tf["translation_xyz"]))[0]
        return CameraCalibration(label, pose, cam["projectionModelType"], tuple(cam["projectionParams"]))
    except StopIteration:
        raise ValueError(f"no camera labelled {label!r}") from None
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{type(e).__name__}: {e}") from e


def read_json(path: Location) -> Mapping[str, Any]:
    doc = bounds.load_json(path, path.name, limit("SIDECAR_BYTES"))
    if not isinstance(doc, dict):
        raise ValueError("expected a JSON object")
    return doc
