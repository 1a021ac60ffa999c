"""Robots told by their makers' own message types (`signatures.yaml`): a bag that holds a robot's own type on its own
topic (Leju KUAVO's `kuavo_msgs/sensorsData` on `/sensors_data_raw`) is read as if the options named that robot, its
joint arrays, the end effector whose topic the bag holds, and its recorded command as the action (`Command` below). Each
preset entry applies unless the `joints` option names its topic, and the embodiment unless the `embodiment` option is
set: what the user says wins. An array that does not have the preset's shape (a `joint_q` 29 wide: a robot with a waist)
leaves the robot unassumed: the episode keeps its natives and a finding says what was seen and which options name the
robot. Nothing is refused for it.

A robot's recorded command, told by its signature (`signatures.yaml` `command`): the topic its maker's own code reads
as the robot's command (Leju KUAVO's `/kuavo_arm_traj`) is the episode's action, kept as recorded (`action.native`)
in the unit the maker's code states, whatever the `action_topics` patterns say. Its lag behind the measured joints
(the signature's joint array, named by its `joints` preset) is measured on the episode and said in a finding
(`robot_command`): the delay, within `MAX_LAG_S`, at which the measured joints best follow the command (the median
absolute difference over every joint and command message, in radians), and that difference, so a reader sees the
command and the state agree (an order or unit misread would not). An episode with a recorded command is never
actionless.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import yaml
from pydantic import Field, model_validator

from adapters.base import Stream
from adapters.rosbag.array_joints import Episode, name_joints
from adapters.rosbag.options import JOINT_PRESETS, ArrayJoints
from adapters.rosbag.topics import topic_key
from schemas.frozen import Frozen

MAX_LAG_S = 0.5  # the delays tried, 0 .. 0.5 s in 10 ms steps: a teleoperated arm follows within a few hundred ms
LAG_STEP_S = 0.01
TO_RAD = {"deg": np.pi / 180.0, "rad": 1.0}


class Command(Frozen):
    """The topic a robot's maker reads as its command, its unit, and the measured joints it commands."""

    topic: str
    field: str = "position"
    unit: str
    follows: str = "the signature's joint array (its `joints` preset), column for column"
    what: str


def keep_command(cmd: Command, measured: str | None, ep: Episode, said: list[tuple[str, str]]) -> str | None:
    """Move the command's stream into the episode's actions with its unit; measure its lag against the stream
    `measured` (the joints it commands, in radians); say both. Returns the action's key, or None where the episode
    holds no message of the command."""
    key = f"{topic_key(cmd.topic)}.{cmd.field}"
    s = ep.states.pop(key, None) or ep.actions.get(key)
    if s is None:
        return None
    ep.actions[key] = replace(s, unit=cmd.unit)
    ep.roles[cmd.topic] = f"action: the robot's recorded command ({cmd.unit}, kept as recorded: action.native)"
    lag = _lag(ep.actions[key], TO_RAD.get(cmd.unit), ep.states.get(measured) if measured else None)
    how = (
        f"the measured joints {measured} follow it best {lag[0]:.2f} s later, median |difference| {lag[1]:.3g} rad "
        f"over {lag[2]} messages (delays 0 .. {MAX_LAG_S:g} s tried)"
        if lag is not None
        else f"its lag is not measured: no measured joints of its width ({measured or 'none named'})"
    )
    said.append(("robot_command", f"{cmd.topic}: {cmd.what}: the action, in {cmd.unit}; {how}"))
    return key


def _lag(cmd: Stream, to_rad: float | None, measured: Stream | None) -> tuple[float, float, int] | None:
    """(delay s, median |measured(t + delay) - command(t)| rad, messages) at the best delay, or None."""
    if to_rad is None or measured is None or len(cmd) == 0 or len(measured) < 2:
        return None
    c = cmd.values.reshape(len(cmd), -1).astype(np.float64) * to_rad
    m = measured.values.reshape(len(measured), -1).astype(np.float64)
    if c.shape[1] != m.shape[1]:
        return None
    errors = []
    for lag in np.arange(0.0, MAX_LAG_S + LAG_STEP_S / 2, LAG_STEP_S):
        at = cmd.timestamps + lag
        inside = at <= measured.timestamps[-1]
        if not inside.any():
            break
        followed = np.stack([np.interp(at[inside], measured.timestamps, m[:, k]) for k in range(m.shape[1])], 1)
        errors.append((float(np.median(np.abs(followed - c[inside]))), float(lag), int(inside.sum())))
    if not errors:
        return None
    err, lag, n = min(errors)
    return lag, err, n


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
