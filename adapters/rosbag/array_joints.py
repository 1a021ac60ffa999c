"""Joints recorded as an unnamed numeric array (the `joints` option), named as the embodiment's native joints.

A robot's own message may carry its joint positions as a plain float array beside other fields, with no names
(Leju KUAVO's `kuavo_msgs/sensorsData`: `joint_data.joint_q`, 28 values; `array_joints.yaml`). Its topic's numeric
fields are natives as any topic's (`fields.stack`: `joint_data.joint_q[12]`); `name_joints` moves the named
components out of that stream into a stream `<topic>.<field>` whose columns are the joint names, a state (an action on
an action topic), which is what a JointState's positions become: `ingest.canonical.joint_columns` resolves them by
name and FK through the embodiment's description gives the hands. The array's other components and the message's
other fields stay natives under the topic. A JointState that names no joint (a driver that leaves `name` empty: its
joints are named by index, `topics.TopicData`) is named in place with `field: position`. A topic, a field or an
index the episode does not hold fails it, naming the option's field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol

import numpy as np

from adapters.base import Stream
from adapters.rosbag.options import ArrayJoints
from adapters.rosbag.topics import topic_key

_ELEMENT = re.compile(r"^(.*)\[(\d+)\]$")


class Episode(Protocol):
    """What `name_joints` reads and changes of an episode being built (`adapters.rosbag.assembled.Assembled`)."""

    counts: dict[str, int]
    skipped: dict[str, str]
    left_out: dict[str, dict[str, list[int]]]
    roles: dict[str, str]
    states: dict[str, Stream]
    actions: dict[str, Stream]
    signals: dict[str, Stream]


def name_joints(specs: Sequence[ArrayJoints], ep: Episode, fail: Callable[..., Exception]) -> None:
    """Each spec's array components as named joints (see the module docstring); `fail(message, field=...)` makes the
    error raised for a topic, field or index the episode does not hold."""
    for k, spec in enumerate(specs):
        at = f"joints[{k}]"
        if spec.topic not in ep.counts:
            msg = f"{at}.topic {spec.topic!r} is not in the bag; its topics: {sorted(ep.counts)}"
            raise fail(msg, field=f"{at}.topic")
        key = topic_key(spec.topic)
        unnamed = next((g for g in (ep.states, ep.actions) if _by_index(g.get(f"{key}.{spec.field}"))), None)
        group = unnamed if unnamed is not None else ep.actions if key in ep.actions else ep.signals
        s = group.get(f"{key}.{spec.field}" if unnamed is not None else key)
        if s is None and f"{key}.position" in {**ep.states, **ep.actions}:
            msg = f"{at}.topic {spec.topic!r} is a JointState that names its joints: they are read by name"
            raise fail(msg, field=f"{at}.topic")
        if s is None or not s.names:
            why = ep.skipped.get(spec.topic, "no numeric field")
            raise fail(f"{at}.topic {spec.topic!r} gives no numeric field in this episode: {why}", field=f"{at}.topic")
        cols = {int(n): c for c, n in enumerate(s.names)} if unnamed is not None else _elements(s.names, spec.field)
        if not cols:
            widths = ep.left_out.get(spec.topic, {}).get(spec.field)
            arrays = sorted({m[1] for n in s.names if (m := _ELEMENT.match(n))})
            why = f"its width changes between messages {widths}" if widths else f"the topic's arrays: {arrays}"
            raise fail(f"{at}.field {spec.field!r} is no array of topic {spec.topic}: {why}", field=f"{at}.field")
        width, wanted = max(cols) + 1, spec.indexed()
        if spec.width is not None and width != spec.width:
            msg = f"{at}.width: {spec.field} of topic {spec.topic} holds {width} values, not {spec.width}"
            raise fail(msg, field=f"{at}.width")
        if past := {i: n for i, n in wanted.items() if i not in cols}:
            shown = ", ".join(f"{i} ({n})" for i, n in sorted(past.items()))
            msg = f"{at}.names: index {shown} past the {width} values of {spec.field} on topic {spec.topic}"
            raise fail(msg + (" (or holding no number)" if min(past) < width else ""), field=f"{at}.names")
        if unnamed is not None:  # a JointState that names no joint (`topics.TopicData`): its joints named in place
            group[f"{key}.{spec.field}"] = replace(s, names=tuple(wanted.get(int(n), n) for n in s.names))
            ep.roles[spec.topic] += f"; {spec.field} indices {sorted(wanted)} named as joints ({at})"
            continue
        take = [cols[i] for i in sorted(wanted)]
        joints = tuple(wanted[i] for i in sorted(wanted))
        named = Stream(s.timestamps, s.values[:, take].astype(np.float64), joints, frame=s.frame)
        (ep.states if group is ep.signals else ep.actions)[f"{key}.{spec.field}"] = named
        rest = [c for c in range(len(s.names)) if c not in set(take)]
        if rest:
            group[key] = replace(s, values=s.values[:, rest], names=tuple(s.names[c] for c in rest))
        else:
            del group[key]
        part = f"{'state' if group is ep.signals else 'action'} {key}.{spec.field}"
        ep.roles[spec.topic] += f"; {spec.field} elements {sorted(wanted)} named as joints ({at}, {part})"


def _by_index(s: Stream | None) -> bool:
    """Whether `s` is a JointState's stream whose joints are named by their index (its messages name none)."""
    return s is not None and bool(s.names) and all(n.isdigit() for n in s.names or ())


def _elements(names: Sequence[str], field: str) -> dict[int, int]:
    """index in the array `field` -> its column in a stream named as `fields.stack` names columns (`field[i]`; a
    one-element array is `field` itself)."""
    if field in names:
        return {0: list(names).index(field)}
    return {int(m[2]): c for c, n in enumerate(names) if (m := _ELEMENT.match(n)) and m[1] == field}
