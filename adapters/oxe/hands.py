"""Which OXE state slices are the hand: the wrist pose and the gripper opening, from the slice names of
`adapters.oxe.subsets` (robot base frame, the right hand of a one-armed robot, a fixed camera).

- wrist: `*:eef_xyz` / `*:tcp_xyz` (m) with `*:eef_quat` (xyzw) or `*:eef_rpy` / `*:eef_euler` / `*:tcp_euler`
  (roll, pitch, yaw about fixed axes);
- gripper opening 0..1: a slice named `gripper_open` as is; `*gripper_closed*` and droid's `gripper_position`
  inverted; `gripper_width` / `gripper_opening_width` over the Franka Hand's 0.08 m stroke.
"""

from __future__ import annotations

import numpy as np

from adapters.base import HandSignals, HandTrack, Stream

FRANKA_MAX_WIDTH_M = 0.08  # Franka Hand maximum opening (datasheet)


def _find(streams: dict[str, Stream], *suffixes: str) -> Stream | None:
    for suffix in suffixes:
        for key, s in streams.items():
            if key.endswith(suffix):
                return s
    return None


def _with_unit(s: Stream, unit: str) -> Stream:
    return Stream(s.timestamps, s.values, s.names, unit, s.frame)


def gripper_opening(states: dict[str, Stream]) -> Stream | None:
    for key, s in states.items():
        names = " ".join(s.names or ()) + " " + key
        v = s.values.reshape(len(s), -1).astype(np.float64)[:, 0] if len(s) else np.empty(0)
        if "gripper_open" in names:
            return Stream(s.timestamps, np.clip(v, 0, 1))
        if "gripper_closed" in names or key.endswith("gripper_position"):
            return Stream(s.timestamps, np.clip(1.0 - v, 0, 1))
        if "gripper_width" in key or "gripper_opening_width" in names:
            return Stream(s.timestamps, np.clip(v / FRANKA_MAX_WIDTH_M, 0, 1))
    return None


def hand_signals(states: dict[str, Stream]) -> HandSignals:
    xyz = _find(states, ":eef_xyz", ":tcp_xyz")
    quat = _find(states, ":eef_quat")
    euler = _find(states, ":eef_rpy", ":eef_euler", ":tcp_euler")
    sig = HandSignals(frame="robot_base")
    track = HandTrack(gripper=gripper_opening(states))
    if xyz is not None and (quat is not None or euler is not None):
        track.position = xyz
        track.rotation = _with_unit(quat, "quat_xyzw") if quat is not None else _with_unit(euler, "euler_xyz")
    else:
        sig.notes.append("no end-effector pose stream: canonical wrist dims unavailable")
    sig.hands[1] = track  # one-armed robots fill the right hand
    return sig
