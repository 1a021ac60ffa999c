"""AgiBot World `proprio_stats.h5`: states and actions as native streams on the 30 Hz frame grid, the embodiment
(from the effector layout), and what the file says about itself (empty fields, action index, clock).

Stream keys are the HDF5 paths below `state/` / `action/` with `/` -> `.`; state row i is frame i (`i / 30` s), the
clock the videos share (`timestamp` is kept in `metadata["clock"]`, not used as the rows' time).

Action index: `action/<group>/index` lists the frames "when the control source is actually sending signals" (HF card
h5 table). Action arrays shorter than the state are the commands at those frames, kept sparse with their own
timestamps (`index / 30`, never filled); an empty `action/end/index` falls back to `action/joint/index` (as
any4lerobot does). Action arrays as long as the state whose own index is a strict subset keep only the index rows the
same way (`metadata["sparse_actions"]` names the index used and the rows dropped, `masked_rows`). Action longer than
state is a corrupt episode (any4lerobot's dirty tasks).

Real files also have grippers as `state/{left,right}_effector/position` (T,1) instead of `state/effector/position`
(T,2); empty `(0,)` float32 placeholders, skipped and listed in `metadata["empty_fields"]`; irregular int64 ns
timestamps, recorded as start, rate, median step and largest deviation from the grid. AgiBot Digital World files in
this layout are refused per episode by name. The real sample these rest on, its figures, and the Digital World card
are in adapters/README.md `agibot`; a (T,6) per-arm split of dexterous hands is an assumption (no such sample).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from adapters.base import AdapterError, Stream, reraised
from adapters.hostile import bounds
from adapters.hostile.h5 import dataset_paths, open_h5
from adapters.storage.location import Location

log = logging.getLogger(__name__)

FPS = 30.0
ARMS = ("left", "right")
REQUIRED_STATE = ("end/orientation", "end/position", "joint/position")
DIGITAL_WORLD_JOINTS = 34  # agibot-world/AgiBotDigitalWorld: 2 head, 2 waist, 2x7 arm, 2x8 gripper joints
DIGITAL_WORLD = (
    "AgiBot Digital World file ({why}): its quaternions are wxyz and its timestamps simulation seconds "
    "(agibot-world/AgiBotDigitalWorld card), not the real-robot AgiBot World layout this adapter reads "
    "(14 arm joints, xyzw, int64 ns); convert it or read it with a Digital World reader"
)
_QUAT = ("qx", "qy", "qz", "qw")

Fail = Callable[[str, str], AdapterError]  # (message, field) -> the episode's error


def _per_arm(part: str, n: int, arms: tuple[str, ...] = ARMS) -> tuple[str, ...]:
    return tuple(f"{arm}_{part}_{i}" for arm in arms for i in range(n))


# HDF5 path below state/ or action/ -> (component names, unit, frame). Unknown fields are kept without names.
FIELDS: dict[str, tuple[tuple[str, ...] | None, str, str | None]] = {
    "end/position": (("x", "y", "z"), "m", "robot_base"),
    "end/orientation": (_QUAT, "quat_xyzw", "robot_base"),
    "head/position": (("yaw", "pitch"), "rad", None),
    "joint/position": (_per_arm("joint", 7), "rad", None),
    "joint/current_value": (_per_arm("joint", 7), "", None),
    "robot/position": (("x", "y", "z"), "m", "odometry"),
    "robot/orientation": (_QUAT, "quat_xyzw", "odometry"),
    "robot/velocity": (("vx", "yaw_rate"), "m/s,rad/s", "robot_base"),
    "waist/position": (("pitch", "lift"), "rad,m", None),
}
EFFECTOR = {  # effector width per arm -> (embodiment, state unit, action unit)
    1: ("agibot_gripper", "mm", "0..1"),
    6: ("agibot_dexterous", "rad", "rad"),
}
# Where the effector position is: one (T, 2k) dataset, or one (T, k) dataset per arm (the real sample).
EFFECTOR_KEYS = {"effector/position": ARMS, "left_effector/position": ("left",), "right_effector/position": ("right",)}


@dataclass
class Proprio:
    """What one `proprio_stats.h5` holds, read."""

    states: dict[str, Stream]
    actions: dict[str, Stream]
    embodiment: str
    rows: int  # state rows = frames
    metadata: dict[str, Any] = field(default_factory=dict)


def read_proprio(path: Location, fail: Fail) -> Proprio:
    """Read `path`; every bad input raises `fail(message, field)`."""
    if not path.is_file():
        if path.with_name("proprio_states.h5").is_file():  # the Digital World file name
            raise fail(DIGITAL_WORLD.format(why="proprio_states.h5, no proprio_stats.h5"), "proprio_stats.h5")
        raise fail("proprio_stats.h5 is missing", "proprio_stats.h5")
    with reraised(OSError, lambda e: fail(f"not a readable HDF5 file: {e}", "proprio_stats.h5")):
        f = open_h5(path)
    with f:
        n, eff_keys, width = _check_layout(f, fail)
        embodiment, eff_state_unit, eff_action_unit = EFFECTOR[width]
        grid = np.arange(n, dtype=np.float64) / FPS
        empty: list[str] = []

        def stream(kind: str, key: str, values: np.ndarray, t: np.ndarray) -> Stream:
            names, unit, frame = FIELDS.get(key, (None, "", None))
            if key in eff_keys:
                arms = EFFECTOR_KEYS[key]
                names = arms if width == 1 else _per_arm("hand", width, arms)
                unit = eff_state_unit if kind == "state" else eff_action_unit
            return Stream(t, values, names, unit, frame)

        states: dict[str, Stream] = {}
        for key in dataset_paths(f["state"]):
            ds = f["state"][key]
            if ds.size == 0:
                empty.append(f"state/{key}")
                continue
            if ds.shape[0] != n:
                raise fail(f"{ds.shape[0]} rows, state/joint/position has {n}", f"state/{key}")
            states[key.replace("/", ".")] = stream("state", key, bounds.read_array(ds), grid)

        actions: dict[str, Stream] = {}
        sparse: dict[str, Any] = {}
        for key in dataset_paths(f["action"]):
            ds = f["action"][key]
            if key.endswith("/index"):
                continue
            if ds.size == 0:
                empty.append(f"action/{key}")
                continue
            m = ds.shape[0]
            if m > n:
                raise fail(f"action longer than state ({m} > {n} rows): corrupt episode", f"action/{key}")
            values = bounds.read_array(ds)
            index, source = action_index(f, key, m, n, fail)
            if index is None:
                actions[key.replace("/", ".")] = stream("action", key, values, grid)
                continue
            note: dict[str, Any] = {"index": source, "count": len(index), "state_rows": n}
            if m == n:  # rows outside the index were not sent by the control source: dropped, not filled
                values = values[index]
                note["masked_rows"] = n - len(index)
            sparse[key.replace("/", ".")] = note
            actions[key.replace("/", ".")] = stream("action", key, values, index / FPS)

        meta: dict[str, Any] = {"empty_fields": empty, "sparse_actions": sparse, "state_rows": n}
        if isinstance(f.get("timestamp"), h5py.Dataset) and f["timestamp"].size:
            meta["clock"] = clock(bounds.read_array(f["timestamp"]), n)
            if (jitter := meta["clock"].get("max_jitter_s", 0.0)) > 1 / FPS:
                log.warning("%s: timestamp deviates from the 30 Hz frame grid by %.3f s", path, jitter)
    return Proprio(states, actions, embodiment, n, meta)


def _check_layout(f: h5py.File, fail: Fail) -> tuple[int, tuple[str, ...], int]:
    """(rows, effector position keys, effector width per arm) after the checks every file must pass."""
    for group in ("state", "action"):
        if not isinstance(f.get(group), h5py.Group):
            raise fail(f"missing group {group}/", group)
    joints = f["state"].get("joint/position")
    if isinstance(joints, h5py.Dataset) and joints.shape[1:] == (DIGITAL_WORLD_JOINTS,):
        why = f"state/joint/position has {DIGITAL_WORLD_JOINTS} joints"
        raise fail(DIGITAL_WORLD.format(why=why), "state/joint/position")
    for key in REQUIRED_STATE:
        group = f"state/{key.split('/')[0]}"
        if not isinstance(f.get(group), h5py.Group):
            raise fail(f"missing group {group}/", group)
        if not isinstance(f["state"].get(key), h5py.Dataset) or f["state"][key].size == 0:
            raise fail(f"missing or empty dataset state/{key}", f"state/{key}")
    n = f["state/joint/position"].shape[0]
    eff_keys, width = effector_layout(f["state"], fail)
    expected = {"end/position": (n, 2, 3), "end/orientation": (n, 2, 4), "joint/position": (n, 14)}
    for key, shape in expected.items():
        if f["state"][key].shape != shape:
            raise fail(f"shape {f['state'][key].shape}, expected {shape}", f"state/{key}")
    return n, eff_keys, width


def effector_layout(state: h5py.Group, fail: Fail) -> tuple[tuple[str, ...], int]:
    """The effector position datasets below `state/` and their width per arm: `effector/position` (T, 2k), or
    `left_effector/position` and `right_effector/position` (T, k) each (real files), k = 1 (gripper) or 6 (hand)."""
    both = state.get("effector/position")
    if isinstance(both, h5py.Dataset) and both.size:
        if both.ndim != 2 or both.shape[1] % 2 or both.shape[1] // 2 not in EFFECTOR:
            raise fail(f"effector shape {both.shape}: expected (T, 2) or (T, 12)", "state/effector/position")
        return ("effector/position",), both.shape[1] // 2
    split = [state.get(f"{arm}_effector/position") for arm in ARMS]
    if not all(isinstance(ds, h5py.Dataset) and ds.size for ds in split):
        msg = "no gripper or hand: missing or empty state/effector/position and state/{left,right}_effector/position"
        raise fail(msg, "state/effector/position")
    if split[0].shape != split[1].shape or split[0].ndim != 2 or split[0].shape[1] not in EFFECTOR:
        msg = f"left/right effector shapes {split[0].shape}, {split[1].shape}: expected (T, 1) or (T, 6) each"
        raise fail(msg, "state/left_effector/position")
    return ("left_effector/position", "right_effector/position"), split[0].shape[1]


def action_index(f: h5py.File, key: str, m: int, n: int, fail: Fail) -> tuple[np.ndarray | None, str | None]:
    """Frame numbers of the rows of `action/<key>` that are commands, and the index they come from (None: every row,
    on the frame grid), by the module docstring's "Action index" rule."""
    group = key.split("/")[0]
    sources = [f"action/{group}/index"] + (["action/joint/index"] if m < n else [])
    source = next((s for s in sources if isinstance(f.get(s), h5py.Dataset) and f[s].size), None)
    if source is None:
        if m == n:
            return None, None
        raise fail(f"{m} rows for {n} states and no action/{group}/index nor joint index", f"action/{key}")
    index = bounds.read_array(f[source]).astype(np.int64)
    if (m < n and len(index) != m) or len(index) > n:
        raise fail(f"{source} has {len(index)} entries for {m} action rows", f"action/{key}")
    if len(index) and (index[0] < 0 or index[-1] >= n or np.any(np.diff(index) <= 0)):
        raise fail(f"{source} is not strictly increasing inside [0, {n})", source)
    return (None, None) if len(index) == m == n else (index, source)


def clock(ts: np.ndarray, n: int) -> dict[str, Any]:
    """The native clock next to the frame grid: start, mean rate, median step and the largest deviation from
    `row / 30` s. Integer timestamps are ns since the epoch (real files); float ones are taken as seconds."""
    ns = ts.dtype.kind in "iu"
    sec = (ts - ts[0]).astype(np.float64) / (1e9 if ns else 1.0)
    out: dict[str, Any] = {"start_ns": int(ts[0]) if ns else None, "rows": len(ts)}
    if len(ts) > 1 and sec[-1] > 0:
        out["rate_hz"] = float((len(ts) - 1) / sec[-1])
        out["median_dt_s"] = float(np.median(np.diff(sec)))
    if len(ts) == n:
        out["max_jitter_s"] = float(np.abs(sec - np.arange(n) / FPS).max())
    return out
