"""Readings held while their command moves: plateaus (a joint that reads one value exactly, inside its range, over a
large share of the frames the robot moves: a failing encoder that repeats its last reading, a software clamp short of
the limit) and frozen streams (every column of one source stream repeating its row, as one arm's stalled driver
does while the rest records: `frozen_stream`).

Holding one value is not wrong by itself: a joint the operator keeps still reads one encoder tick for long stretches
(the real AgiBot arm's resting left joints: 75 % of the frames), fingers and grippers rest at a range end or stop on
the object they grasp while their command closes further (the real G1 Inspire thumbs: held on up to 58 % of the
moving frames while commanded). What tells a clamp from those is a held reading whose command moves away from it, at
a value away from the joint's limits (a joint held at a limit is the saturation check's), so only the description's
arm joints (limits in the decided unit) that an action column commands are judged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.canonical.validity import runs
from ingest.qa.explain import explain_all, explain_hold
from ingest.qa.signals import Channel
from schemas.behaviour import BehaviourConfig
from schemas.behaviour_record import Explained, Why
from schemas.canonical import CANONICAL_FPS


@dataclass(frozen=True)
class Plateau:
    """One channel's largest plateau."""

    signal: str
    fraction: float  # of the episode's moving frames
    value: float | None  # the value held, in the channel's unit (None: nothing held)
    frame: int | None  # the first frame of its longest held run
    seconds: float  # frames held in all its runs together, in seconds


def _min_command_move(ch: Channel, config: BehaviourConfig) -> float:
    """A command moves when its range over a held run exceeds a joint's `min_move_*` in its unit (a lerobot
    -100..100 joint: `moving_range_fraction` of its range)."""
    lo, hi = ch.limits or (0.0, 0.0)
    return {"rad": config.min_move_rad, "m": config.min_move_m}.get(ch.unit, config.moving_range_fraction * (hi - lo))


def channel_plateau(
    ch: Channel, moving: np.ndarray, config: BehaviourConfig, explained: list[Explained] | None = None
) -> Plateau | None:
    """The channel's largest plateau (None when it is not judged: no limits, no command, a rotation, not finite, or
    nothing moves): runs of one exact value at least `plateau_min_s` long, inside its limits by
    `saturation_tolerance` of their range, during which the command moved (`_min_command_move`) and that the command
    does not explain (`explain.explain_hold`: a servo in its deadband, contact); its frames that move, per held value,
    over the moving frames. The explained runs' share, per reason, is appended to `explained`."""
    if ch.limits is None or ch.command is None or ch.rotation or not moving.any():
        return None
    x, cmd = ch.values[:, 0], ch.command
    if not (np.isfinite(x).all() and np.isfinite(cmd).all()):
        return None
    lo, hi = ch.limits
    tol = config.saturation_tolerance * (hi - lo)
    need = max(2, round(config.plateau_min_s * CANONICAL_FPS))
    move = _min_command_move(ch, config)
    starts, ends = runs(x[1:] == x[:-1])  # pair runs: pairs s..e-1 -> frames s..e
    held: dict[float, list[tuple[int, int]]] = {}
    cleared: dict[str, int] = {}
    total = moving.sum()
    for s, e in zip(starts, ends, strict=True):
        a, b = int(s), int(e) + 1  # frames [a, b)
        v = float(x[a])
        if b - a < need or not (lo + tol < v < hi - tol) or np.ptp(cmd[a:b]) <= move:
            continue
        why = explain_hold(x, cmd, a, b, ch.limits, move, config)
        if why is not None:
            cleared[why] = cleared.get(why, 0) + int(moving[a:b].sum())
            continue
        held.setdefault(v, []).append((a, b))
    if explained is not None:
        check = "qa_plateau_fraction"
        explained += [Explained(check=check, why=w, signal=ch.name, value=n / total) for w, n in cleared.items()]  # type: ignore[arg-type]
    if not held:
        return Plateau(ch.name, 0.0, None, None, 0.0)

    def share(spans: list[tuple[int, int]]) -> int:
        return sum(int(moving[a:b].sum()) for a, b in spans)

    v, spans = max(held.items(), key=lambda kv: share(kv[1]))
    longest = max(spans, key=lambda ab: ab[1] - ab[0])
    return Plateau(ch.name, share(spans) / total, v, longest[0], sum(b - a for a, b in spans) / CANONICAL_FPS)


def worst_plateau(
    channels: list[Channel], moving: np.ndarray, config: BehaviourConfig, explained: list[Explained] | None = None
) -> Plateau | None:
    """The judged channel with the largest plateau fraction; None when no channel is judged. Explained runs go to
    `explained` (`channel_plateau`)."""
    found = [p for p in (channel_plateau(ch, moving, config, explained) for ch in channels) if p is not None]
    return max(found, key=lambda p: p.fraction, default=None)


@dataclass(frozen=True)
class FrozenStream:
    """A whole native stream (every column of one source stream) held at one row while its command moved."""

    signal: str  # the stream (`state.right_arm`); for arm joints of the description, the stream they are in
    seconds: float  # rows held, over the grid rate (as `state.frozen_rows` counts them)
    frame: int  # its first frame


def frozen_stream(
    channels: list[Channel], config: BehaviourConfig, explained: list[Explained] | None = None
) -> FrozenStream | None:
    """The longest stretch, not touching the first or last frame, over which one stream repeats its row while its
    command moves: one arm's driver stalled while the rest records (the whole state frozen is `state_frozen_s`).

    A stream is the columns of one source stream (the name before its last part), each repeating its value while
    one of its commanded columns moves (`_min_command_move`; a column without limits: `moving_range_fraction` of
    its command's range). The description's arm joints of a stream form one stream of their own, frozen where two
    or more of them repeat their value while each one's command moves: the real G1 records both arms and both hands
    in one stream, so a stalled arm is its joints held together, while one joint held alone is a plateau and a
    resting joint's command holds. A stretch where every other stream holds too is the whole state frozen
    (`state_frozen_s`), not counted here. A held column whose command explains the hold (`explain.explain_hold`:
    unused, a range end, a deadband, contact) does not freeze its stream; a stretch every moving column of which is
    explained is appended to `explained` (its longest per stream and reason). Rotations are left out. None when no
    stream has a commanded column; seconds 0 when none froze."""
    notes: dict[tuple[str, str], float] = {}
    streams: dict[str, list[Channel]] = {}
    for ch in channels:
        if not ch.rotation and np.isfinite(ch.values).all():
            key = stream_of(ch.name)
            streams.setdefault(key + ("/arm" if ch.limits is not None else ""), []).append(ch)
    best: FrozenStream | None = None
    for key, chans in streams.items():
        commanded = [c for c in chans if c.command is not None and np.isfinite(c.command).all()]
        if not commanded:
            continue
        best = best or FrozenStream(key.removesuffix("/arm"), 0.0, 0)
        arm = key.endswith("/arm")
        if arm:  # rows where two or more joints sit in a run held while its own command moved
            held = [_held_while_commanded(c, config, notes) for c in commanded]
            stalled = np.stack(held, axis=1).sum(axis=1) >= 2
        else:  # rows repeating the row before, every column of the stream
            v = np.concatenate([c.values for c in chans], axis=1)
            stalled = np.r_[False, (v[1:] == v[:-1]).all(axis=1)]
        starts, ends = runs(stalled)
        for s0, e0 in zip(starts, ends, strict=True):
            a, b = (int(s0), int(e0)) if arm else (int(s0) - 1, int(e0))  # rows [a, b)
            if a == 0 or b == len(stalled) or (b - a) / CANONICAL_FPS <= best.seconds:
                continue
            moved = [c for c in commanded if np.ptp(c.command[a:b]) > command_move(c, config)]
            if not arm and not moved:
                continue  # held while nothing was commanded: a resting stream
            others = [c.values[a:b] for k, cs in streams.items() if k != key for c in cs]
            if not any(np.ptp(o) > 0 for o in others):  # nothing else records either: the whole state froze
                continue
            if not arm:
                why = explain_all([hold_why(c, a, b, config) for c in moved])
                if why is not None:
                    k = (key, why)
                    notes[k] = max(notes.get(k, 0.0), (b - a) / CANONICAL_FPS)
                    continue
            best = FrozenStream(key.removesuffix("/arm"), (b - a) / CANONICAL_FPS, a)
    if explained is not None:
        explained += [
            Explained(check="qa_stream_frozen_s", why=w, signal=k.removesuffix("/arm"), value=v)  # type: ignore[arg-type]
            for (k, w), v in notes.items()
        ]
    return best


def hold_why(ch: Channel, a: int, b: int, config: BehaviourConfig) -> Why | None:
    """Why a commanded channel holds over frames [a, b) (`explain.explain_hold` against its command), or None."""
    assert ch.command is not None
    return explain_hold(ch.values[:, 0], ch.command, a, b, ch.limits, command_move(ch, config), config)


# Last name parts that say what a column measures, not which joint (lerobot's motor features `<motor>.pos`, the
# real two-hand rig's `left.joint_3.pos`): the stream is the name before the joint.
_MEASURES = frozenset({"pos", "position", "vel", "velocity", "effort", "torque", "angle", "current"})


def stream_of(name: str) -> str:
    """The source stream a native column belongs to: its name before its last part (`state.right_arm.3` ->
    `state.right_arm`), before the joint when the last part names a measure (`observation.state.elbow_flex.pos` ->
    `observation.state`; each joint its own stream would judge one held joint as a frozen stream)."""
    head, _, last = name.rpartition(".")
    return head.rpartition(".")[0] or head if last in _MEASURES else head or name


def _held_while_commanded(ch: Channel, config: BehaviourConfig, notes: dict[tuple[str, str], float]) -> np.ndarray:
    """(N,) bool: the frames of `ch`'s runs of one repeated value during which its command moved and that the
    command does not explain; the explained runs' longest, per reason, into `notes` (keyed by the column)."""
    assert ch.command is not None
    x, out = ch.values[:, 0], np.zeros(len(ch.values), bool)
    starts, ends = runs(x[1:] == x[:-1])
    for s0, e0 in zip(starts, ends, strict=True):
        a, b = int(s0), int(e0) + 1
        if not np.ptp(ch.command[a:b]) > command_move(ch, config):
            continue
        why = hold_why(ch, a, b, config) if a > 0 and b < len(x) else None
        if why is None:
            out[a:b] = True
        elif (b - a) / CANONICAL_FPS >= config.frozen_stream_s_low:
            notes[(ch.name, why)] = max(notes.get((ch.name, why), 0.0), (b - a) / CANONICAL_FPS)
    return out


def command_move(ch: Channel, config: BehaviourConfig) -> float:
    if ch.limits is not None or ch.unit != "span":
        return _min_command_move(ch, config)
    assert ch.command is not None
    return config.moving_range_fraction * float(np.ptp(ch.command))
