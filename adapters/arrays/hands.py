"""An array recording's hands, as its layout declares them (`layouts.yaml` `hands`, whose header cites the makers'
code): the first way whose keys the episode holds. A recorded end-effector pose becomes the hand through the
declaration every adapter shares (`adapters.poses`: wrist in metres, an x, y, z, w quaternion, opening 0 closed .. 1
open); a joint vector is left to the embodiment's description (FK in `ingest.canonical.joint_space`). Which way was
taken, or why none was, goes to the tier reasons and the lineage.

Which robot an array recording names (`robots.yaml` beside this module, whose rows cite the makers' registries): a
layout's way to the hands takes its embodiment only where the file names that robot (Isaac Lab's env name,
robosuite's `robots`), never from the family its layout belongs to; otherwise natives only (`named_robot` says why).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, RootModel

from adapters.arrays.layouts import FromFile, Hands, Layout, attr_value
from adapters.base import HandSignals, Stream
from adapters.poses import Pick, command_tracking, hand_track
from schemas.actions import NotCanonical
from schemas.data_file import read_yaml
from schemas.frozen import Frozen
from schemas.robots.registry import UNKNOWN_EMBODIMENT

DECLARE = (
    "declare the robot in the job spec's `robots:` section (its URDF, joints, end-effector link) and name it under "
    "the source's `robot:`"
)


class RobotTable(Frozen):
    """Where a file names its robot, and the robots it may name."""

    attr: str
    json_path: tuple[str, ...] = Field((), alias="json")
    split: str | None = None
    why: str
    robots: dict[str, str | None]


class _Tables(RootModel[dict[str, RobotTable]]):
    """`robots.yaml`: table name -> table."""


TABLES: dict[str, RobotTable] = read_yaml(Path(__file__).with_name("robots.yaml"), _Tables).root


def named_robot(table_name: str, attrs: dict[str, dict[str, Any]]) -> tuple[str | None, str]:
    """(embodiment, what the file said) for a file with `attrs` under the table `table_name`; embodiment None where the
    file names no robot of the table, several, or one with no description (the text says how to declare it)."""
    table = TABLES[table_name]
    found = attr_value(FromFile(attr=table.attr, json=table.json_path), attrs)
    where = table.attr + "".join(f"[{k!r}]" for k in table.json_path)
    if found is None:
        return None, f"the file names no robot ({where} absent): natives only; {DECLARE}"
    value = found[0]
    values = [str(v) for v in value] if isinstance(value, list) else [str(value)]
    tokens = [t for v in values for t in (v.split(table.split) if table.split else [v])]
    named = list(dict.fromkeys(t for t in tokens if t in table.robots))
    said = f"{where} = {value!r}"
    if not named:
        known = ", ".join(table.robots)
        return None, f"{said} names no robot this layout knows ({known}): natives only; {DECLARE}"
    embodiments = {table.robots[t] for t in named}
    if len(embodiments) != 1 or None in embodiments:
        missing = [t for t in named if table.robots[t] is None]
        why = f"no description of {', '.join(missing)} here" if missing else f"several robots ({', '.join(named)})"
        return None, f"{said} names {', '.join(named)}: {why}: natives only; {DECLARE}"
    (embodiment,) = embodiments
    return embodiment, f"{said} names {named[0]} ({table_name} robots: {table.why})"


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
