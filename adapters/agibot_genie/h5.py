"""`aligned_joints.h5` of a Genie Sim / A2D export, read into per-field columns with the file's own clock.

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

from adapters.base import AdapterError, reraised
from adapters.hostile import bounds
from adapters.hostile.absent import AbsentData, h5_unwritten
from adapters.hostile.h5 import dataset_paths, open_h5
from adapters.storage.location import Location

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
