"""Robots told by their makers' own message types (`signatures.yaml`): a bag that holds a robot's own type on its own
topic (Leju KUAVO's `kuavo_msgs/sensorsData` on `/sensors_data_raw`) is read as if the options named that robot, its
joint arrays, the end effector whose topic the bag holds, and its recorded command as the action
(`adapters/rosbag/command.py`). Each preset entry applies unless the `joints` option
names its topic, and the embodiment unless the `embodiment` option is set: what the user says wins. An array that does
not have the preset's shape (a `joint_q` 29 wide: a robot with a waist) leaves the robot unassumed: the episode keeps
its natives and a finding says what was seen and which options name the robot. Nothing is refused for it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import Field, model_validator

from adapters.rosbag.array_joints import Episode, name_joints
from adapters.rosbag.command import Command, keep_command
from adapters.rosbag.options import JOINT_PRESETS, ArrayJoints
from adapters.rosbag.topics import topic_key
from schemas.frozen import Frozen


class Effector(Frozen):
    """An end effector the robot may carry, told by the topic of its own type the bag holds."""

    topic: str
    type: str = Field(description="the message type on the topic (ROS 2 spelling: pkg/msg/Type)")
    what: str = Field(description="what it is, as the findings say it")
    joints: list[str] = Field(default_factory=list, description="the `joints` presets that read it")


class Signature(Frozen):
    """A robot told by its maker's message type on its topic."""

    topic: str
    type: str = Field(description="the maker's own message type on the topic (ROS 2 spelling: pkg/msg/Type)")
    what: str
    embodiment: str = Field(description="a registered robot or family (the family's member told by ingest)")
    joints: list[str] = Field(min_length=1, description="the `joints` presets that read its joints")
    effectors: list[Effector] = Field(default_factory=list)
    command: Command | None = Field(None, description="the topic its maker reads as the robot's command (the action)")

    @model_validator(mode="after")
    def _presets(self) -> Signature:
        for name in [*self.joints, *(p for e in self.effectors for p in e.joints)]:
            if name not in JOINT_PRESETS:
                raise ValueError(f"joints: no preset {name!r} in array_joints.yaml")
        return self


SIGNATURES: dict[str, Signature] = {
    name: Signature.model_validate(entry)
    for name, entry in yaml.safe_load(Path(__file__).with_name("signatures.yaml").read_text(encoding="utf-8")).items()
}


@dataclass(frozen=True)
class Told:
    """The robot a bag's own types name: its embodiment (None where the user's option names one, or the arrays do not
    fit) and why, as the episode's metadata says it."""

    embodiment: str | None
    why: str
    topics: frozenset[str]  # the topics whose arrays it named as joints (joint states: `clock.core_topics`)


class _Unfit(Exception):
    """A preset whose array the episode does not hold in its shape (raised by `name_joints`, caught here)."""


def tell(types: dict[str, str], option: list[ArrayJoints], embodiment: str | None, ep: Episode) -> Told | None:
    """The signature `types` (topic -> message type, topics with messages) match, applied to `ep`: its presets' arrays
    named as joints (`name_joints`) where the `joints` option does not name their topic, what was read and what was
    not said in `ep.said`. None where no signature matches."""
    sig = next((s for s in SIGNATURES.values() if types.get(s.topic) == s.type), None)
    if sig is None:
        return None
    head = f"{sig.what}, told by its maker's type {sig.type} on {sig.topic} (adapters/rosbag/signatures.yaml)"
    named = {j.topic for j in option}
    done: set[str] = set()
    unfit = _name(sig.joints, named, ep, done)
    if sig.command is not None and sig.command.topic in types:  # the recorded command: the action, unit and lag said
        first = ArrayJoints.model_validate(JOINT_PRESETS[sig.joints[0]][0])
        measured = f"{topic_key(first.topic)}.{first.field}" if first.topic in done | named else None
        keep_command(sig.command, measured, ep, ep.said)
    carried = [e for e in sig.effectors if types.get(e.topic) == e.type]
    for e in carried:
        if why := _name(e.joints, named, ep, done):
            ep.said.append(("robot_effector_unread", f"{head}: {e.what} on {e.topic} not read as joints: {why}"))
    held = "; ".join(f"{e.what} on {e.topic}" for e in carried)
    none = " nor ".join(e.topic for e in sig.effectors)
    effector = f"end effector: {held}" if carried else f"no end effector recorded (neither {none})"
    if unfit:
        opts = f"`embodiment:` and `joints:` (the {', '.join(sig.joints)} preset's shape does not fit)"
        ep.said.append(("robot_not_assumed", f"{head}: not assumed, {unfit}: natives only; name the robot with {opts}"))
        return Told(None, f"{head}: not assumed ({unfit})", frozenset(done))
    robot = f"embodiment {embodiment} (the option)" if embodiment else f"embodiment {sig.embodiment}"
    ep.said.append(("robot_told", f"{head}: {robot}, joints {', '.join(sig.joints)}; {effector}"))
    return Told(None if embodiment else sig.embodiment, head, frozenset(done))


def _name(presets: list[str], named: set[str], ep: Episode, done: set[str]) -> str | None:
    """Name the presets' arrays in `ep` (each entry whose topic the `joints` option does not already name), adding
    their topics to `done`; the first reason one does not fit, or None."""
    for preset in presets:
        for entry in (ArrayJoints.model_validate(e) for e in JOINT_PRESETS[preset]):
            if entry.topic in named:
                continue
            try:
                name_joints([entry], ep, lambda msg, field: _Unfit(msg.split(": ", 1)[-1]))
            except _Unfit as e:
                return str(e)
            done.add(entry.topic)
    return None
