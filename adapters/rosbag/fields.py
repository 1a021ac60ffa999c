"""A ROS message's numeric fields, flattened: what every topic keeps as natives, whatever its type.

rosbags deserializes a message into a dataclass (`__msgtype__` names its type); numbers are Python scalars, numeric
arrays numpy arrays, nested messages dataclasses, `T[]` of messages Python lists. `flatten` walks one message and
returns its numeric leaves by field path (`pose.position.x`, `k` for a float64[9], `transforms[0].transform...`) and
its strings. The `header` is not a value: its stamp is the message's time (`adapters.rosbag.clock`), its `frame_id`
the frame the values are in, its `seq` (ROS 1) a counter. A `builtin_interfaces/Time` or `Duration` field elsewhere is
one number, seconds. `stack` makes a topic's messages one (T, D) array; a field whose width changes from message to
message (a variable-length array, a list of messages of changing length) is left out and named.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

TIME_TYPES = ("builtin_interfaces/msg/Time", "builtin_interfaces/msg/Duration")
HEADER_TYPE = "std_msgs/msg/Header"
# The member an empty message (std_msgs/Empty) is given because an IDL struct needs one: a uint8 that is always 0,
# not a value (rosbags typesys/codegen.py gives a type without fields this member, as rosidl_generator_c's structs
# do: `uint8_t structure_needs_at_least_one_member;`).
PLACEHOLDER = "structure_needs_at_least_one_member"


def is_message(v: Any) -> bool:
    return hasattr(v, "__msgtype__") and hasattr(v, "__dataclass_fields__")


def stamp_ns(t: Any) -> int:
    """A `builtin_interfaces/Time` (ROS 1 `time`: the same two fields in rosbags) as integer nanoseconds."""
    return int(t.sec) * 1_000_000_000 + int(t.nanosec)


def header_of(msg: Any) -> Any | None:
    h = getattr(msg, "header", None)
    return h if is_message(h) and h.__msgtype__ == HEADER_TYPE else None


def flatten(msg: Any, prefix: str = "") -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(numeric leaves as 1-D arrays, strings) of `msg` by field path."""
    nums: dict[str, np.ndarray] = {}
    strs: dict[str, str] = {}
    _walk(msg, prefix, nums, strs)
    return nums, strs


def _walk(msg: Any, prefix: str, nums: dict[str, np.ndarray], strs: dict[str, str]) -> None:
    for name in msg.__dataclass_fields__:
        if name.startswith("__") or name == PLACEHOLDER:
            continue
        v = getattr(msg, name)
        path = prefix + name
        if is_message(v):
            if v.__msgtype__ == HEADER_TYPE and not prefix:
                continue  # the message's own header: its time and frame, read by the caller
            if v.__msgtype__ in TIME_TYPES:
                nums[path] = np.array([stamp_ns(v) / 1e9])
            else:
                _walk(v, path + ".", nums, strs)
        elif isinstance(v, bool | int | float | np.generic):
            nums[path] = np.array([v])
        elif isinstance(v, np.ndarray):
            if v.dtype.kind in "biuf":
                nums[path] = v.ravel()
        elif isinstance(v, str):
            strs[path] = v
        elif isinstance(v, list | tuple):
            for i, item in enumerate(v):
                if is_message(item):
                    _walk(item, f"{path}[{i}].", nums, strs)
                elif isinstance(item, str):
                    strs[f"{path}[{i}]"] = item
                elif isinstance(item, bool | int | float | np.generic):
                    nums[f"{path}[{i}]"] = np.array([item])


def stack(rows: Sequence[dict[str, np.ndarray]]) -> tuple[np.ndarray | None, tuple[str, ...], dict[str, list[int]]]:
    """(values (T, D), column names, fields left out -> their distinct widths) of a topic's flattened messages.

    Columns keep the fields' order in the first message; a field whose width is the same in every message becomes
    `width` columns (`path`, or `path[i]`); a field missing from some message or of changing width is left out. The
    array is float64 unless every column shares one integer or boolean dtype (kept: a flag stays a flag)."""
    kept, left_out = [], {}
    for path in dict.fromkeys(p for r in rows for p in r):
        widths = {len(r[path]) if path in r else -1 for r in rows}
        if len(widths) == 1 and -1 not in widths and widths != {0}:
            kept.append(path)
        elif widths != {0}:
            left_out[path] = sorted(widths)
    if not kept:
        return None, (), left_out
    cols = [np.stack([r[p] for r in rows]) for p in kept]
    dtype = cols[0].dtype if len({c.dtype for c in cols}) == 1 and cols[0].dtype.kind in "biu" else np.float64
    values = np.concatenate([c.astype(dtype, copy=False) for c in cols], axis=1)
    names = tuple(
        p if c.shape[1] == 1 else f"{p}[{i}]" for p, c in zip(kept, cols, strict=True) for i in range(c.shape[1])
    )
    return values, names, left_out


def without_nonfinite_columns(
    values: np.ndarray, names: tuple[str, ...]
) -> tuple[np.ndarray, tuple[str, ...], dict[str, str]]:
    """(values, names) less the columns that hold no number a float32 native can keep (finite, within float32's
    range) in any message, and those columns' names with what they held. A publisher may fill a field it does not use
    with NaN, or a limit it does not set with inf, in every message (PX4, the real sample rosbag_ats: ActuatorMotors'
    control[4..11] on a quadrotor and VehicleLocalPosition's ref_lat without GPS are NaN, its vxy_max and hagl_min
    inf), or mark a variance it does not observe with DBL_MAX (the real PR2's /base_odometry/odom, real sample
    rosbag_pr2: covariance of z, roll and pitch 1.7976931348623157e+308, which is inf as float32): such a column is
    named, not kept as a native."""
    if values.dtype.kind != "f":
        return values, names, {}
    empty = ~(np.abs(values) <= np.finfo(np.float32).max).any(axis=0)  # NaN compares False
    held = {n: ", ".join(str(x) for x in np.unique(values[:, i])) for i, n in enumerate(names) if empty[i]}
    return values[:, ~empty], tuple(n for n, e in zip(names, empty, strict=True) if not e), held


_INDEXED = re.compile(r"^(.*)\[(\d+)\]$")


def by_joint(names: tuple[str, ...], joints: Sequence[str]) -> tuple[str, ...]:
    """`names` (as `stack` gives them) with each array field exactly as wide as `joints` named by joint:
    `desired.positions[2]` -> `desired.positions.joint3`. A controller's state carries its joints' names beside its
    arrays, one array element per name (control_msgs JointTrajectoryControllerState: `joint_names` and the
    `desired`/`actual`/`error` points' `positions`, `velocities`, ...; trajectory_msgs JointTrajectory: `joint_names`
    and each point's). A field of another width keeps its indices."""
    if not joints:
        return names
    width: dict[str, int] = {}
    for n in names:
        m = _INDEXED.match(n)
        if m:
            width[m[1]] = width.get(m[1], 0) + 1
    out = []
    for n in names:
        m = _INDEXED.match(n)
        named = m is not None and width[m[1]] == len(joints) and int(m[2]) < len(joints)
        out.append(f"{m[1]}.{joints[int(m[2])]}" if named else n)
    return tuple(out)


def constant_columns(values: np.ndarray, names: Sequence[str]) -> list[str]:
    """The columns of `values` (T, D) that hold one value in every message (NaN aside) of a topic with at least two
    messages: a channel that says nothing over the episode (a joint never moved, a sensor not wired, a field the
    driver leaves 0). Kept as natives, named in a finding: a constant may be true (a gripper left open)."""
    v = np.asarray(values).reshape(len(values), -1)
    if len(v) < 2:
        return []
    if v.dtype.kind == "f":
        nan = np.isnan(v)
        same = np.where(nan, np.inf, v).min(axis=0) == np.where(nan, -np.inf, v).max(axis=0)  # all-NaN: not same
    else:
        same = (v == v[0]).all(axis=0)
    return [n for n, c in zip(names, same, strict=True) if c]
