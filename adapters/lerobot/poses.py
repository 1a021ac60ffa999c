"""A LeRobot dataset's recorded end-effector poses as its canonical hands: a layout known by its feature names
(`poses.yaml` beside this module, each citing the maker's converter) or one the `poses` option declares
(`PoseLayout`). The values become `HandTrack`s through the declaration every adapter shares (`adapters.poses`);
canonicalize moves a TCP to the wrist by the embodiment's offset (`schemas/robots/eef_offsets.yaml`).

The action is the next state's delta on the 10 Hz grid, as for every hand source. Where the layout names the
recorded action pose (`PoseHand.command`), its tracking of the next row's position is said in the hands' notes:
InternData-A1 writes each action as the next recorded state (the converter cited in `poses.yaml`), so there the
canonical action is the maker's own action at 10 Hz (tracking 0 mm); a command that leads the state stays a native,
and the note says by how much.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, RootModel, field_validator, model_validator

from adapters.base import HandSignals, RawEpisode, Stream
from adapters.lerobot.quirks import noted
from adapters.poses import Pick, PoseHand, command_tracking, hand_track, never_moves
from schemas.data_file import read_yaml
from schemas.lerobot import InfoJson
from schemas.quirks import quirk
from schemas.robots.eef_offsets import EEF_OFFSETS, RecordedPoint
from schemas.robots.joint_space import name_key
from schemas.robots.registry import UNKNOWN_EMBODIMENT, default_registry
from schemas.tiers import NO_DESCRIPTION, TierVerdict

SIDES = {"left": 0, "right": 1}
GENERIC_KEYS = frozenset({"observation.state", "action"})  # LeRobot's own columns, in every dataset


class PoseLayout(BaseModel):
    """Which columns of a LeRobot dataset hold its end-effector poses, and what they are (the `poses` option, or an
    entry of `poses.yaml`). Keys are column names (`states.left_tcp_to_robot_pose`, `observation.state`); `names`
    pick elements of a vector column by its feature names, `index` by position."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    why: str = "declared by the poses option"
    point: RecordedPoint  # the point the poses measure: a TCP is moved to the wrist by the embodiment's offset
    frame: str = "robot_base"  # the frame the poses are in: x forward, z up at the robot's base
    embodiment: str | None = None  # the robot, unless `robot_types` names it; None: the dataset's own
    robot_types: dict[str, str] = {}  # robot_type as the dataset writes it -> embodiment
    # robots whose recorded joints the maker's own code maps onto eidata's description of them: FK of those joints is
    # their hand (fingers included), the recorded pose stays a native
    joints_first: tuple[str, ...] = ()
    left: PoseHand | None = None
    right: PoseHand | None = None

    @field_validator("embodiment", "robot_types", "joints_first")
    @classmethod
    def _registered(
        cls, v: str | dict[str, str] | tuple[str, ...] | None
    ) -> str | dict[str, str] | tuple[str, ...] | None:
        names = [v] if isinstance(v, str) else list(v.values()) if isinstance(v, dict) else list(v or ())
        unknown = sorted(n for n in names if n not in default_registry())
        if unknown:
            raise ValueError(f"unknown embodiment(s) {unknown}; known: {default_registry().names()}")
        return v

    def sides(self) -> dict[str, PoseHand]:
        return {s: h for s, h in (("left", self.left), ("right", self.right)) if h is not None}

    def picks(self, every: bool = True) -> list[tuple[str, Pick]]:
        """(field, pick) of the values the layout reads, the field as the option's error would name it: the poses,
        and with `every` the grippers and commands too (a layout is known by its poses)."""
        out = []
        for side, hand in self.sides().items():
            out += [(f"{side}.{f}", p) for f, p in zip(("position", "rotation"), hand.parts(), strict=True)]
            extra = (("gripper", hand.gripper), ("command", hand.command)) if every else ()
            out += [(f"{side}.{f}", p) for f, p in extra if p is not None]
        return out


class _Layouts(RootModel[dict[str, PoseLayout]]):
    """`poses.yaml`: name -> layout, in detection order (keys starting `_` are YAML anchors, not layouts)."""

    @model_validator(mode="before")
    @classmethod
    def _no_anchors(cls, v: Any) -> Any:
        return {k: x for k, x in v.items() if not k.startswith("_")} if isinstance(v, dict) else v


LAYOUTS: dict[str, PoseLayout] = read_yaml(Path(__file__).with_name("poses.yaml"), _Layouts).root


def missing(layout: PoseLayout, info: InfoJson, every: bool = True) -> list[str]:
    """What of `layout` the dataset's features lack, as `field: column[elements]` (empty: it holds them all)."""
    out = []
    for fld, pick in layout.picks(every):
        spec = info.features.get(pick.key)
        if spec is None:
            out.append(f"{fld}: no column {pick.key!r}")
            continue
        have = spec.flat_names() or []
        lacking = [n for n in pick.names if n not in have]
        if lacking:
            out.append(f"{fld}: {pick.key} names no {lacking}")
    return out


def detect(info: InfoJson, robot_type: str | None) -> tuple[str, PoseLayout] | None:
    """The first known layout for `robot_type` (its `robot_types`, if named) whose columns the features hold."""
    for name, lay in LAYOUTS.items():
        if (not lay.robot_types or robot_type in lay.robot_types) and not missing(lay, info, every=False):
            return name, lay
    return None


def chosen(option: str | PoseLayout | None, info: InfoJson, robot_type: str | None) -> tuple[str, PoseLayout] | None:
    """The layout of a dataset: the option's (a known name or a declaration; ValueError naming the field the dataset
    lacks), else the first known one its features hold, else None."""
    if option is None:
        return detect(info, robot_type)
    name, layout = (option, LAYOUTS[option]) if isinstance(option, str) else ("poses option", option)
    lacking = missing(layout, info)
    if lacking:
        raise ValueError(f"the dataset does not hold the poses {name!r} declares: {'; '.join(lacking)}")
    return name, layout


def column(raw: RawEpisode, key: str) -> Stream | None:
    """A column of the episode as the reader keyed it (states, signals, actions), or put back together from the
    slices modality.json cut it into (`metadata["stream_layout"]`)."""
    for group in (raw.states, raw.signals, raw.actions, raw.outcomes):
        if key in group:
            return group[key]
    parts = (raw.metadata.get("stream_layout") or {}).get(key)
    if not parts:
        return None
    pieces: list[tuple[list[int], Stream]] = []
    for part in parts:
        sub = raw.states.get(part[0]) or raw.actions.get(part[0])
        if sub is None:
            return None
        pieces.append((list(range(part[1], part[2])) if len(part) == 3 else list(part[1]), sub))
    width = sum(len(cols) for cols, _ in pieces)
    values = np.zeros((len(pieces[0][1]), width))
    names: list[str] = [""] * width
    for cols, sub in pieces:
        values[:, cols] = np.asarray(sub.values, dtype=np.float64).reshape(len(sub), -1)
        for i, c in enumerate(cols):
            names[c] = (sub.names or ())[i] if sub.names and i < len(sub.names) else ""
    return Stream(pieces[0][1].timestamps, values, tuple(names) if all(names) else None)


def _reader(raw: RawEpisode):
    def read(pick: Pick) -> tuple[np.ndarray, np.ndarray] | None:
        stream = column(raw, pick.key)
        return None if stream is None else (stream.timestamps, pick.take(stream))

    return read


def _embodiment(layout: PoseLayout, raw: RawEpisode, option: str | None) -> tuple[str, str]:
    if option:
        return raw.embodiment, raw.metadata.get("embodiment_from", "embodiment option")
    by_type = layout.robot_types.get(raw.robot_type or "")
    if by_type is not None:
        return by_type, f"robot_type {raw.robot_type!r} in the pose layout (was: {raw.metadata.get('embodiment_from')})"
    if layout.embodiment is not None and raw.embodiment == UNKNOWN_EMBODIMENT:
        return layout.embodiment, f"the pose layout (was: {raw.metadata.get('embodiment_from')})"
    return raw.embodiment, raw.metadata.get("embodiment_from", "")


def with_poses(raw: RawEpisode, info: InfoJson, option: str | PoseLayout | None, embodiment_option: str | None):
    """`raw` with its hands from the dataset's recorded poses, when a layout applies and the episode has no other
    hands; else `raw` as it is. ValueError (the caller names file and field) for a declared pose the values break."""
    if not raw.hands.empty:
        return raw
    found = chosen(option, info, raw.robot_type)
    if found is None:
        return _near_misses(raw, info)
    return posed(raw, *found, embodiment_option)


def posed(raw: RawEpisode, name: str, layout: PoseLayout, embodiment_option: str | None) -> RawEpisode:
    """`raw` with its hands from the poses `layout` (named `name`) declares; ValueError for values that break it."""
    read = _reader(raw)
    embodiment, embodiment_from = _embodiment(layout, raw, embodiment_option)
    said = f"{name}: {layout.why}"
    if embodiment == UNKNOWN_EMBODIMENT:  # no robot to hold the hands: the natives stay, and the reason says why
        why_not = f"recorded poses ({said}) but {embodiment_from}: natives only"
        said_once = (*raw.verdicts, TierVerdict.note(why_not, NO_DESCRIPTION))
        return replace(raw, verdicts=said_once, metadata={**raw.metadata, "hands_from": why_not})
    if embodiment in layout.joints_first:  # the maker maps the joints: FK gives the wrists and the fingers
        lacking = _joints_lacking(raw, embodiment)
        if not lacking:
            why_fk = (
                f"{said}; {embodiment} ({embodiment_from}): FK of its recorded joints instead, the pose kept native"
            )
            return replace(raw, embodiment=embodiment, metadata={**raw.metadata, "hands_from": why_fk})
        said = f"{said}; not FK of {embodiment}'s joints: the states name no {lacking[:3]}"
    measured = f"the poses measure the {layout.point}" if layout.point != "unknown" else "no point stated: no offset"
    point, why = layout.point, f"{said} ({measured})"
    notes = [said]
    if point == "tcp" and embodiment not in EEF_OFFSETS:
        point, why = "unknown", f"{said}; no TCP offset for {embodiment!r}: the TCP is taken as the wrist"
        notes.append(why)
    sig = HandSignals(frame=layout.frame, recorded_point=(point, why), notes=notes)
    for side, hand in layout.sides().items():
        at = hand.parts()[0]
        pos = read(at)
        if pos is not None and never_moves(pos[1]):
            sig.notes.append(f"{side}: {at.said()} all zero, no {side} hand")
            continue
        track = sig.hands[SIDES[side]] = hand_track(hand, read, layout.frame, sig.notes)
        note = command_tracking(side, hand, read, track.position) if track.position is not None else None
        sig.notes += [note] if note else []
    if not sig.hands:
        return raw
    reasons = tuple(v for v in raw.verdicts if v.code != NO_DESCRIPTION)  # a robot found: its hands are posed
    return replace(
        raw,
        hands=sig,
        embodiment=embodiment,
        verdicts=reasons,
        metadata={**raw.metadata, "hands_from": said, "embodiment_from": embodiment_from},
    )


def _joints_lacking(raw: RawEpisode, embodiment: str) -> list[str]:
    """The joints (arms and hands) of `embodiment`'s joint-space description no state column of `raw` names."""
    spec = default_registry().get(embodiment).joint_space
    if spec is None:
        return ["(no joint-space description)"]
    have = {name_key(n) for s in raw.states.values() for n in s.names or ()}
    lacking = []
    for arm in spec.arms:
        joints = (*arm.joints, *(arm.hand.joints() if arm.hand is not None else ()))
        lacking += [j.urdf for j in joints if not j.keys(arm.prefixes) & have]
    return lacking


def _near_misses(raw: RawEpisode, info: InfoJson) -> RawEpisode:
    """A dataset holding a known layout's pose columns under other element names: said (an episode quirk naming the
    columns), the natives kept; a layout its columns do not hold is not mentioned."""
    found = []
    for name, lay in LAYOUTS.items():
        picks = [p for _, p in lay.picks(every=False)]
        if not picks or any(p.key not in info.features for p in picks):
            continue
        named = {n for p in picks for n in (info.features[p.key].flat_names() or [])}
        # a column every dataset has (observation.state) is the layout's only by some of its element names
        if all(p.key in GENERIC_KEYS for p in picks) and not named & {n for p in picks for n in p.names}:
            continue
        if lacking := missing(lay, info, every=False):
            found.append(quirk("pose_layout_names", "warning", f"{name}: {'; '.join(lacking)}: natives only"))
    return noted(raw, found)
