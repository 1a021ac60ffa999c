"""An array recording's hands, as its layout declares them (`layouts.yaml` `hands`, whose header cites the makers'
code): the first way whose keys the episode holds. A recorded end-effector pose becomes the hand through the
declaration every adapter shares (`adapters.poses`: wrist in metres, an x, y, z, w quaternion, opening 0 closed .. 1
open); a joint vector is left to the embodiment's description (FK in `ingest.canonical.joint_space`). Which way was
taken, or why none was, goes to the tier reasons and the lineage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from adapters.arrays.layouts import Hands, Layout
from adapters.arrays.robots import named_robot
from adapters.base import HandSignals, Stream
from adapters.poses import Pick, command_tracking, hand_track
from schemas.actions import NotCanonical
from schemas.robots.registry import UNKNOWN_EMBODIMENT

SIDES = {"left": 0, "right": 1}


@dataclass(frozen=True)
class Declared:
    """What the layout's hands give one episode."""

    embodiment: str
    signals: HandSignals = field(default_factory=HandSignals)
    hands_from: str | None = None  # the way taken ("robosuite: ..."), for the lineage
    reasons: tuple[str, ...] = ()
    cause: NotCanonical = NotCanonical.no_description  # why no way was taken, where `reasons` say so


def choose(layout: Layout, keys: set[str]) -> Hands | None:
    """The first of the layout's ways to the hands whose keys the episode holds."""
    return next((h for h in layout.hands if all(k in keys for k in h.required())), None)


def _reader(streams: dict[str, Stream]):
    def read(pick: Pick) -> tuple[np.ndarray, np.ndarray] | None:
        s = streams.get(pick.key.replace("/", "."))  # the adapter's stream key of a per-row path
        return None if s is None else (s.timestamps, pick.take(s))

    return read


def declare(
    layout_name: str,
    layout: Layout,
    states: dict[str, Stream],
    per_row: set[str],
    actions: dict[str, Stream] | None = None,
    attrs: dict[str, dict[str, Any]] | None = None,
) -> Declared:
    """The hands of one episode of `layout`, from its native state streams (keyed as the adapter keys them); a
    recorded command (`PoseHand.command`, among `actions`) is compared with the motion in a note. A way with a robot
    table is taken only where the file's attributes `attrs` name that way's robot (`robots.named_robot`)."""
    way = choose(layout, per_row)
    if way is None and not layout.hands:
        why, cause = f"layout {layout_name} declares no hands", NotCanonical.no_description
        if layout.no_hands is not None:
            why, cause = f"{why}: {layout.no_hands.why}", layout.no_hands.cause
        return Declared(UNKNOWN_EMBODIMENT, reasons=(f"{why}: natives only",), cause=cause)
    if way is None:  # the file holds none of the observations a way reads
        wanted = "; ".join(f"{h.name}: {', '.join(h.required())}" for h in layout.hands)
        said = f"no hands evidence ({wanted}): natives only"
        return Declared(UNKNOWN_EMBODIMENT, reasons=(said,), cause=NotCanonical.no_observation)
    said = f"{way.name}: {way.why}"
    absent = [a for a in way.attrs if a.partition("@")[2] not in (attrs or {}).get(a.partition("@")[0], {})]
    shown = NotCanonical.robot_not_shown
    if absent:
        why = f"{way.name} keys held, but not the recorder's mark {', '.join(absent)}: robot not shown, natives only"
        said = f"{why}; declare the robot in the job spec's `robots:` section"
        return Declared(UNKNOWN_EMBODIMENT, reasons=(said,), cause=shown)
    if way.robot is not None:
        embodiment, named = named_robot(way.robot, attrs or {})
        if embodiment != way.embodiment:
            other = f" ({embodiment}: not the {way.embodiment} whose poses this way reads)" if embodiment else ""
            said = f"{way.name} poses held, robot not shown: {named}{other}"
            return Declared(UNKNOWN_EMBODIMENT, reasons=(said,), cause=shown)
        said += f"; robot: {named}"
    if way.joints is not None:  # FK by the embodiment's description, in canonicalize
        return Declared(way.embodiment, HandSignals(notes=[said]), said)
    point = (way.point, f"{said} (layouts.yaml: the poses measure the {way.point})") if way.point else None
    sig = HandSignals(frame="robot_base", recorded_point=point, notes=[said])
    read, commands = _reader(states), _reader(actions or {})
    for side, hand in (("left", way.left), ("right", way.right)):
        if hand is not None:
            track = sig.hands[SIDES[side]] = hand_track(hand, read, "robot_base")
            note = command_tracking(side, hand, commands, track.position) if track.position else None
            sig.notes += [note] if note else []
    return Declared(way.embodiment, sig, said)
