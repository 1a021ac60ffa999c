"""An array recording's hands, as its layout declares them (`layouts.yaml` `hands`, whose header cites the makers'
code): the first way whose keys the episode holds. A recorded end-effector pose becomes the hand's wrist (position
in metres, the rotation as an x, y, z, w quaternion) and its finger positions the opening 0 (closed) .. 1 (open); a
joint vector is left to the embodiment's description (FK in `ingest.canonical.joint_space`), the adapter only naming
its columns. Which way was taken, or why none was, goes to the tier reasons and the lineage."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from adapters.arrays.layouts import Hands, Layout, PoseHand
from adapters.base import HandSignals, HandTrack, Stream
from schemas.robots.registry import UNKNOWN_EMBODIMENT

SIDES = {"left": 0, "right": 1}


@dataclass(frozen=True)
class Declared:
    """What the layout's hands give one episode."""

    embodiment: str
    signals: HandSignals = field(default_factory=HandSignals)
    hands_from: str | None = None  # the way taken ("robosuite: ..."), for the lineage
    reasons: tuple[str, ...] = ()


def choose(layout: Layout, keys: set[str]) -> Hands | None:
    """The first of the layout's ways to the hands whose keys the episode holds."""
    return next((h for h in layout.hands if all(k in keys for k in h.required())), None)


def quat_xyzw(values: np.ndarray, unit: str) -> np.ndarray:
    """(T,4) x, y, z, w quaternions from a recorded rotation (`PoseHand.rotation_unit`)."""
    v = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    if unit == "quat_xyzw":
        return v
    if unit == "quat_wxyz":
        return v[:, [1, 2, 3, 0]]
    if unit == "axis_angle":
        return Rotation.from_rotvec(v).as_quat()  # scipy: x, y, z, w
    raise ValueError(f"rotation unit {unit!r} is not one of quat_xyzw, quat_wxyz, axis_angle")


def gripper_opening(values: np.ndarray, hand: PoseHand) -> np.ndarray:
    """Finger positions (T,k) -> the opening 0..1: their signed sum over the open gripper's width."""
    q = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    signs = np.asarray(hand.gripper_signs, dtype=np.float64)
    if q.shape[1] != len(signs) or hand.gripper_full_m is None:
        raise ValueError(f"{hand.gripper}: {q.shape[1]} columns for gripper_signs {hand.gripper_signs}")
    return np.clip(q @ signs / hand.gripper_full_m, 0.0, 1.0)


def pose_parts(hand: PoseHand, states: dict[str, Stream]) -> tuple[Stream, Stream]:
    """(position (T,3), rotation as recorded) of a hand: its two arrays, or its one `pose` array cut after x, y, z."""
    if hand.pose is None:
        return states[_key(str(hand.position))], states[_key(str(hand.rotation))]
    both = states[_key(hand.pose)]
    v = both.values.reshape(len(both), -1)
    width = 3 + (3 if hand.rotation_unit == "axis_angle" else 4)
    if v.shape[1] != width:
        raise ValueError(f"{hand.pose}: {v.shape[1]} columns, not x, y, z and a {hand.rotation_unit} rotation")
    return Stream(both.timestamps, v[:, :3]), Stream(both.timestamps, v[:, 3:])


def _track(hand: PoseHand, states: dict[str, Stream]) -> HandTrack:
    pos, rot = pose_parts(hand, states)
    track = HandTrack(
        position=Stream(pos.timestamps, pos.values.reshape(len(pos), 3), ("x", "y", "z"), "m", "robot_base"),
        rotation=Stream(rot.timestamps, quat_xyzw(rot.values, hand.rotation_unit), None, "quat_xyzw", "robot_base"),
    )
    grip = states.get(_key(hand.gripper)) if hand.gripper else None
    if grip is not None:
        track.gripper = Stream(grip.timestamps, gripper_opening(grip.values, hand), unit="0..1")
    return track


def command_tracking(side: str, hand: PoseHand, position: Stream, actions: dict[str, Stream]) -> str | None:
    """A note on how far each recorded target position (`hand.command`, x, y, z first) lies from the next recorded
    position, row by row; None when the episode holds no such command."""
    cmd = actions.get(_key(hand.command)) if hand.command else None
    if cmd is None or len(cmd) != len(position) or len(cmd) < 2:
        return None
    e = np.linalg.norm(cmd.values.reshape(len(cmd), -1)[:-1, :3] - position.values.reshape(len(cmd), 3)[1:], axis=1)
    return (
        f"{side} command_tracking median {np.median(e) * 1000:.1f} mm, p95 {np.percentile(e, 95) * 1000:.1f} mm "
        f"({hand.command}, the recorded target, vs the next recorded position); canonical actions are the recorded "
        "poses' deltas"
    )


def declare(
    layout_name: str,
    layout: Layout,
    states: dict[str, Stream],
    per_row: set[str],
    actions: dict[str, Stream] | None = None,
) -> Declared:
    """The hands of one episode of `layout`, from its native state streams (keyed as the adapter keys them); a
    recorded command (`PoseHand.command`, among `actions`) is compared with the motion in a note."""
    way = choose(layout, per_row)
    if way is None:
        wanted = "; ".join(f"{h.name}: {', '.join(h.required())}" for h in layout.hands)
        why = f"layout {layout_name} declares no hands" if not layout.hands else f"no hands evidence ({wanted})"
        return Declared(UNKNOWN_EMBODIMENT, reasons=(f"{why}: natives only",))
    said = f"{way.name}: {way.why}"
    if way.joints is not None:  # FK by the embodiment's description, in canonicalize
        return Declared(way.embodiment, HandSignals(notes=[said]), said)
    sig = HandSignals(frame="robot_base", notes=[said])
    for side, hand in (("left", way.left), ("right", way.right)):
        if hand is not None:
            track = sig.hands[SIDES[side]] = _track(hand, states)
            note = command_tracking(side, hand, track.position, actions or {}) if track.position else None
            sig.notes += [note] if note else []
    return Declared(way.embodiment, sig, said)


def _key(rel: str) -> str:
    return rel.replace("/", ".")  # the adapter's stream key of a per-row path
