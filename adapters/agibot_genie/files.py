"""AgiBot Genie Sim / A2D exports on disk: where the episodes are, what their JSON files say, and `action_config`.

Layout (the maker's converter `sim_data_converter.py` and a third-party AgiBot -> GR00T LeRobot converter's folder
names, cited in adapters/README.md `agibot_genie`): `<job>/<sn>/<episode>/` holding
- `aligned_joints.h5` (below),
- `meta_info.json`: `job_id`, `episode_id`, `task_id`, `robot_type` ("A2D" for the G1, "G2A"), `sw_version`
  ("genie-sim" from the simulator), `text` ('{"description":"SIM"]}', not valid JSON, kept as a string),
  `ee_list` (the grippers, e.g. "zhiyuan_gripper_omnipicker"), `clip_start_time` / `clip_end_time` (s), `duration`,
- `data_info.json`: `task_name` / `english_task_name`, `init_scene_text`, `sn_code`, `job_id`, `episode_id`,
  `label_info.action_config` and `label_info.key_frame.dual` (injected error frames with `start` / `end`),
- `parameters/sensor/`, `camera/<frame>/`, `logs/`, `record/`, `post_proc/` and the `*_color.mp4` videos.

`action_config` ends are inclusive: the converter closes a segment at `end_frame - 1` where `end_frame` is the first
frame of the next one (`genrate_data_info`), so consecutive segments [0, 9], [10, 19] tile the frames. They become
half-open `ActionSegment`s [start, end + 1); the segment's other keys (`skill`, `english_action_text`) are kept.

`aligned_joints.h5` of a Genie Sim / A2D export, read into per-field columns with the file's own clock.

Two layouts, both the maker's (the converter and extractor commits are cited in adapters/README.md `agibot_genie`):
- per frame (`sim_data_converter.py` `convert_h5`): one group per row named "0", "1", ..., each with
  `main_timestamp` (uint64 ns: the bag's start in ns since the epoch plus the simulation time truncated to whole
  microseconds), `state/...`, `action/...` and `timestamp/camera/<cam>` (the same ns value for every camera). Per row:
  `state/joint/{position,velocity,effort,mode}` (14 arm joints, group attribute `name` = the arm joint names, left 7
  then right 7), `state/head/*` and `state/waist/*` (same four fields), `state/{left,right}_effector/position` (1,),
  `state/end/{position,orientation}` (2,3) / (2,4) in the robot base, `state/end/{arm_position,arm_orientation}` (the
  same pose in the arm base), `state/end/pose` (14,) their concatenation, `state/end/{errmsg,errcode,mode,velocity,
  wrench}` (placeholders), `state/robot/{position,orientation}`; `action/joint/position`,
  `action/{head,waist}/position`, `action/end/{position,orientation}`, `action/{left,right}_effector/position` (1,) and
  `action/robot/velocity` (2,).
- flat (the extractor's `aligned_joints_all.h5`, and the real A2D platform's files as a third-party AgiBot -> GR00T
  LeRobot converter reads them): `timestamp` (T,) plus `state/...`, `action/...` datasets with T rows. Integer
  timestamps are ns, float ones seconds (the extractor's float32 simulation seconds).

Every numeric dataset becomes a column named by its path; empty ones (`errmsg` is `np.empty(0)`) are listed, not
kept. Times are taken relative to the first row in integer ns before any float conversion (1.7e18 ns has no exact
float64: converting first would cost up to 256 ns per row).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np
from pydantic import ValidationError

from adapters.base import AdapterError, reraised
from adapters.hostile import bounds
from adapters.hostile.absent import AbsentData, h5_unwritten
from adapters.hostile.h5 import dataset_paths, open_h5
from adapters.storage.location import Location
from schemas.lerobot import ActionSegment
from schemas.settings import limit


def read_json(path: Location, fail: Any) -> dict[str, Any]:
    """A JSON object from `path`; `fail(message, field)` raises for a missing, unreadable or non-object file."""
    if not path.is_file():
        raise fail(f"{path.name} is missing", path.name)
    with reraised((OSError, ValueError), lambda e: fail(f"unreadable {path.name}: {e}", path.name)):
        data = bounds.load_json(path, path.name, limit("SIDECAR_BYTES"))
    if not isinstance(data, dict):
        raise fail(f"{path.name} holds a {type(data).__name__}, expected an object", path.name)
    return data


def is_simulation(meta: dict[str, Any]) -> bool:
    """The simulator's mark in meta_info.json: `sw_version` "genie-sim" or the description "SIM" in `text`."""
    return "sim" in str(meta.get("sw_version", "")).lower() or '"sim"' in str(meta.get("text", "")).lower()


def inclusive_segments(info: dict[str, Any], fail: Any) -> list[ActionSegment] | None:
    """`label_info.action_config` with inclusive ends -> half-open segments; None when the file has none;
    `fail(message, field)` raises for a malformed one."""
    label = info.get("label_info")
    config = label.get("action_config") if isinstance(label, dict) else None
    if config is None:
        return None
    if not isinstance(config, list):
        raise fail(f"action_config is a {type(config).__name__}, expected a list", "label_info.action_config")
    segments = []
    for i, seg in enumerate(config):
        field = f"label_info.action_config[{i}]"
        try:
            start, end = int(seg["start_frame"]), int(seg["end_frame"])
            text = seg.get("english_action_text") or seg.get("action_text") or ""
            extra = {k: v for k, v in seg.items() if k not in ("start_frame", "end_frame", "action_text")}
            segments.append(ActionSegment(start_frame=start, end_frame=end + 1, action_text=str(text), **extra))
        except (KeyError, TypeError, ValueError, ValidationError) as e:
            why = e.errors()[0]["msg"] if isinstance(e, ValidationError) else repr(e)
            raise fail(f"bad segment (inclusive end): {why}", field) from e
    return segments


def error_frames(info: dict[str, Any]) -> list[dict[str, Any]]:
    """`label_info.key_frame.dual`: the frames where the simulator injected an error (drop, missed grasp...)."""
    label = info.get("label_info")
    key_frame = label.get("key_frame") if isinstance(label, dict) else None
    dual = key_frame.get("dual") if isinstance(key_frame, dict) else None
    return [d for d in dual if isinstance(d, dict)] if isinstance(dual, list) else []


Fail = Callable[[str, str], AdapterError]
GROUPS = ("state", "action")


@dataclass
class AlignedJoints:
    """What one `aligned_joints.h5` holds: columns by HDF5 path (below the frame group), row times in seconds from the
    first row, and what the file says about itself."""

    layout: str  # "per_frame" or "flat"
    times_s: np.ndarray  # (T,) float64
    columns: dict[str, np.ndarray]  # "state/joint/position" -> (T, ...)
    names: dict[str, tuple[str, ...]] = field(default_factory=dict)  # group path -> its `name` attribute
    camera_times_s: dict[str, np.ndarray] = field(default_factory=dict)
    empty: list[str] = field(default_factory=list)
    clock: dict[str, Any] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return len(self.times_s)


def read_aligned_joints(path: Location, fail: Fail) -> AlignedJoints:
    """Read `path`; every bad input raises `fail(message, field)` naming the dataset (and row) at fault."""
    if not path.is_file():
        raise fail("aligned_joints.h5 is missing", "aligned_joints.h5")
    with reraised(OSError, lambda e: fail(f"not a readable HDF5 file: {e}", "aligned_joints.h5")):
        f = open_h5(path)
    with f:
        frames = sorted((k for k in f if k.isdigit()), key=int)
        if frames:
            return _per_frame(f, frames, fail)
        if isinstance(f.get("timestamp"), h5py.Dataset) and any(isinstance(f.get(g), h5py.Group) for g in GROUPS):
            return _flat(f, fail)
        raise fail(
            f"neither per-frame groups ('0', '1', ...) nor a flat timestamp + state/ layout; top-level keys: "
            f"{sorted(f)[:8]}",
            "aligned_joints.h5",
        )


def _per_frame(f: h5py.File, frames: list[str], fail: Fail) -> AlignedJoints:
    if [int(k) for k in frames] != list(range(len(frames))):
        missing = sorted(set(range(int(frames[-1]) + 1)) - {int(k) for k in frames})
        raise fail(f"frame groups are not 0..{len(frames) - 1}: missing {missing[:5]}", f"{missing[0]}")
    first = f[frames[0]]
    keys = dataset_paths(first)
    if "main_timestamp" not in keys:
        raise fail("frame 0 has no main_timestamp", "0/main_timestamp")
    out = AlignedJoints("per_frame", np.zeros(0), {}, names=_names(first))
    shapes = {k: first[k].shape for k in keys}
    wanted = [k for k in keys if first[k].size and first[k].dtype.kind in "biuf"]
    out.empty = sorted(k for k in keys if not first[k].size)
    columns = {k: np.empty((len(frames), *shapes[k]), dtype=first[k].dtype) for k in wanted}
    for i, name in enumerate(frames):  # h5py's low-level calls: ~6x faster than Group.get + Dataset[()] per row
        group_id = h5py.h5g.open(f.id, name.encode())
        for key in wanted:
            try:
                ds = h5py.h5d.open(group_id, key.encode())
            except KeyError:
                raise fail(f"frame {name} has no {key} (frame 0 has)", f"{name}/{key}") from None
            if ds.shape != shapes[key]:
                raise fail(f"frame {name}: shape {ds.shape}, frame 0 has {shapes[key]}", f"{name}/{key}")
            if ds.get_storage_size() == 0:  # read below without `bounds.read_array`: its check, here, when no byte
                try:  # is stored (a frame's dataset is one small chunk or contiguous: all or nothing)
                    h5_unwritten(ds)
                except AbsentData as e:
                    raise fail(str(e), f"{name}/{key}") from e
            ds.read(h5py.h5s.ALL, h5py.h5s.ALL, columns[key][i : i + 1].reshape(shapes[key]))  # a view
    stamps = columns.pop("main_timestamp").reshape(len(frames))
    out.times_s, out.clock = relative_seconds(stamps, fail, "main_timestamp")
    for key in [k for k in columns if k.startswith("timestamp/camera/")]:
        cam_t = columns.pop(key).reshape(len(frames))
        out.camera_times_s[key.rsplit("/", 1)[1]] = _offset_seconds(cam_t, stamps)
    out.columns = {k: v for k, v in columns.items() if k.split("/")[0] in GROUPS}
    out.empty += sorted(k for k in columns if k.split("/")[0] not in GROUPS and not k.startswith("timestamp/"))
    return out


def _flat(f: h5py.File, fail: Fail) -> AlignedJoints:
    stamps = bounds.read_array(f["timestamp"]).reshape(-1)
    n = len(stamps)
    out = AlignedJoints("flat", np.zeros(0), {}, names=_names(f))
    out.times_s, out.clock = relative_seconds(stamps, fail, "timestamp")
    for key in dataset_paths(f):
        if key.split("/")[0] not in GROUPS:
            continue
        ds = f[key]
        if ds.size == 0 or ds.dtype.kind not in "biuf":
            out.empty.append(key)
            continue
        if ds.shape[0] != n:
            raise fail(f"{ds.shape[0]} rows, timestamp has {n}", key)
        out.columns[key] = bounds.read_array(ds)
    return out


def relative_seconds(stamps: np.ndarray, fail: Fail, field_name: str) -> tuple[np.ndarray, dict[str, Any]]:
    """Row times in seconds from the first row, and the clock: integer stamps are ns since the epoch, float ones
    seconds. Raises when they do not increase."""
    if len(stamps) == 0:
        raise fail("no rows", field_name)
    if stamps.dtype.kind in "iu":
        ns = stamps.astype(np.int64)  # 1.7e18 fits; the subtraction below stays exact
        rel = ns - ns[0]
        seconds = rel.astype(np.float64) / 1e9
        clock: dict[str, Any] = {"unit": "ns", "dtype": str(stamps.dtype), "start_ns": int(ns[0])}
        steps = np.diff(rel)
    else:
        seconds = stamps.astype(np.float64) - float(stamps[0])
        clock = {"unit": "s", "dtype": str(stamps.dtype), "start_s": float(stamps[0])}
        steps = np.diff(seconds)
    bad = np.flatnonzero(steps <= 0)
    if bad.size:
        raise fail(f"timestamps do not increase at row {int(bad[0]) + 1} ({len(bad)} such steps)", field_name)
    if len(seconds) > 1:
        dt = np.diff(seconds)
        clock |= {
            "rows": len(seconds),
            "median_dt_s": float(np.median(dt)),
            "max_dt_s": float(dt.max()),
            "rate_hz": float((len(seconds) - 1) / seconds[-1]),
        }
    return seconds, clock


def _offset_seconds(stamps: np.ndarray, main: np.ndarray) -> np.ndarray:
    """Camera stamps as seconds from the first main timestamp (integer arithmetic for ns)."""
    if stamps.dtype.kind in "iu" and main.dtype.kind in "iu":
        return (stamps.astype(np.int64) - np.int64(main[0])).astype(np.float64) / 1e9
    return stamps.astype(np.float64) - float(main[0])


def _names(group: h5py.Group) -> dict[str, tuple[str, ...]]:
    """`name` attributes of the groups below `group` (joint, head, waist: the joint names; end: left, right)."""
    out: dict[str, tuple[str, ...]] = {}

    def visit(path: str, obj: Any) -> None:
        if isinstance(obj, h5py.Group) and "name" in obj.attrs:
            raw = np.atleast_1d(obj.attrs["name"])
            out[path] = tuple(v.decode() if isinstance(v, bytes) else str(v) for v in raw)

    group.visititems(visit)
    return out
