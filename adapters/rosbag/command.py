"""A robot's recorded command, told by its signature (`signatures.yaml` `command`): the topic its maker's own code reads
as the robot's command (Leju KUAVO's `/kuavo_arm_traj`) is the episode's action, kept as recorded (`action.native`)
in the unit the maker's code states, whatever the `action_topics` patterns say. Its lag behind the measured joints
(the signature's joint array, named by its `joints` preset) is measured on the episode and said in a finding
(`robot_command`): the delay, within `MAX_LAG_S`, at which the measured joints best follow the command (the median
absolute difference over every joint and command message, in radians), and that difference, so a reader sees the
command and the state agree (an order or unit misread would not). An episode with a recorded command is never
actionless."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from adapters.base import Stream
from adapters.rosbag.array_joints import Episode
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
