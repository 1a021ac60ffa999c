"""Is a held reading the robot's own behaviour? The command and the range judge a hold before it lowers a tier.

A frozen sensor is a stream that does not follow its command back and forth. Four things hold a reading still that
are not defects, each read from the episode's own signals (`schemas.behaviour.Why`):

- `unused`: the command is still too (over the hold, less the last `explain_lag_s`: the state follows its command a
  frame or two later, so a command leaving at the very end is the state about to follow);
- `range_end`: the reading sits at an end of its range and the command stays at or beyond that end: a hand held open
  (the real two-hand LeRobot v3.0 rig's `right_hand.joint_9`, state and command at 127 for 11 s), a gripper closed.
  The range is the description's joint limits, else one of the encodings' ends (`ENDS`) that the column never passes;
- `deadband`: the reading is quantised (its smallest step is one encoder tick) and the command stays within
  `deadband_quanta` ticks of it: a position servo does not move for an error inside its deadband, while the leader
  arm that commands it jitters by a tick or two (Feetech and Dynamixel servos: 4096 ticks a turn);
- `contact`: the command stays on one side of the held value, pushing into it and never back across it, and the hold
  ends with the reading leaving back towards where it came from (or the episode ends): a gripper closed on an object
  while its command keeps closing, or a joint held short of its command by its compliance (its command within
  `contact_error_fraction` of the column's travel over the episode, whichever way it then leaves: the real two-hand
  rig's arm joints, in degrees, hold a few tenths short under gravity). A stalled sensor instead ends its hold by
  jumping to where the command went. An arm joint of a description (joint limits) is explained so only where its
  reading is quantised (`quantum` > 0) and held within the compliance bound: an encoder that counts whole ticks reads
  one exact value while a servo is pressed against something (the real SO-101 follower's elbow, Feetech ticks, held
  2-6 % of its travel short of the leader), while a continuous reading held bit-exact as its command pushes past is a
  software clamp or a stall (`plateau`): a loaded joint read by a continuous encoder still moves by its noise (the
  planted clamps in the real G1 set, float radians, stay found).

Pure functions of arrays; the checks that call them (`plateau`, `phase`) record each explained hold as an
`schemas.behaviour.Explained` note, a finding of tier high (`findings`), never a demotion. `channel_clamp` is the
other side: a joint whose state AND command sit at one value inside its limits, the extreme of both (a software
limit set narrower than the robot's), which no hold check sees (the command does not move while held).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ingest.canonical.validity import runs
from schemas.behaviour import BehaviourConfig
from schemas.behaviour_record import Why
from schemas.canonical import CANONICAL_FPS

# The ends of the ranges recorders encode positions in, when no description gives limits: 0..1 (a gripper opening,
# Bridge's `gripper_open`), -1..1, 0..100 and -100..100 (lerobot's motor normalisations RANGE_0_100 for grippers and
# RANGE_M100_100 for arm joints), 0..127 and 0..255 (byte-scaled hand joints: the real two-hand rig's hand joints
# stop at 127 and 250), 0..1000 (Inspire hands' angle units), 0..4095 (a 12-bit servo's ticks: Feetech STS3215,
# Dynamixel XL330). An end counts only where the column never passes it in the episode.
ENDS = (0.0, 1.0, -1.0, 100.0, -100.0, 127.0, 255.0, 1000.0, 4095.0)


def quantum(x: np.ndarray) -> float:
    """The column's encoder step, where its values are quantised: the smallest difference between two distinct values
    it holds over two or more frames (on the grid a moving reading is interpolated between recorded ticks; a held one
    is a tick) or a whole fraction of it down to a quarter, when at least four are held and every difference between
    them is a whole number of that step (a lattice); 0 otherwise (a continuous reading, or too few to tell)."""
    x = np.asarray(x, np.float64)
    x = x[np.isfinite(x)]
    held = np.unique(x[1:][x[1:] == x[:-1]])
    if len(held) < 4:
        return 0.0
    d = np.diff(held)
    d = d[d > 1e-6 * max(float(np.ptp(held)), 1e-12)]
    if not len(d):
        return 0.0
    for m in range(1, 5):  # the smallest held difference may be several ticks (the real SO-101 gripper: 2)
        q = float(d.min()) / m
        ratio = (held - held[0]) / q
        if np.abs(ratio - np.round(ratio)).max() < 0.1:
            return q
    return 0.0


def range_end(v: float, x: np.ndarray, limits: tuple[float, float] | None, tolerance: float) -> int:
    """+1 when `v` sits at the top of the column's range, -1 at its bottom, 0 inside: the description's `limits`
    (within `tolerance` x their span), else an encoding end of `ENDS` that `x` (the whole column) never passes."""
    if limits is not None:
        lo, hi = limits
        tol = tolerance * (hi - lo)
        return 1 if v >= hi - tol else -1 if v <= lo + tol else 0
    lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
    tol = max(tolerance * (hi - lo), 1e-6 * max(1.0, abs(v)))
    at = [e for e in ENDS if abs(v - e) <= tol]
    if not at:
        return 0
    return 1 if v >= hi - tol else -1 if v <= lo + tol else 0


def explain_hold(
    x: np.ndarray,
    command: np.ndarray,
    a: int,
    b: int,
    limits: tuple[float, float] | None,
    move: float,
    config: BehaviourConfig,
) -> Why | None:
    """Why the column `x` (N,) held `x[a]` over frames [a, b) while `command` (N,) moved more than `move` is not a
    defect, or None when nothing explains it (the module doc gives the rules, in the order they are tried)."""
    if not config.explain_holds:
        return None
    v = float(x[a])
    stop = max(a + 1, b - round(config.explain_lag_s * CANONICAL_FPS))
    c = np.asarray(command[a:stop], np.float64) - v
    if np.ptp(c) <= move:
        return "unused"
    q = quantum(x)
    band = config.deadband_quanta * q
    back = max(move, band)
    end = range_end(v, x, limits, config.saturation_tolerance)
    if end and (c * end >= -back).all():
        return "range_end"
    if q > 0 and np.abs(c).max() <= band:
        return "deadband"
    side = float(np.sign(np.median(c)))
    if side and (c * side >= -back).all() and (c * side).max() > move:
        travel = max(float(np.ptp(x)), float(np.ptp(command)))
        compliant = (c * side).max() <= config.contact_error_fraction * travel  # held short by its compliance
        if limits is not None:  # an arm joint of a description: a continuous reading held bit-exact is a clamp
            return "contact" if q > 0 and compliant else None
        if compliant:
            return "contact"
        after = x[b:]
        left = after[after != v]
        if not len(left) or np.sign(left[0] - v) != side:
            return "contact"
    return None


def explain_all(whys: Sequence[Why | None]) -> Why | None:
    """One explanation for a hold of several columns: every column's must exist; the most common one is named."""
    if not whys or any(w is None for w in whys):
        return None
    return max(set(whys), key=list(whys).count)  # type: ignore[arg-type]


def frozen_windows(values: np.ndarray) -> list[tuple[int, int]]:
    """[a, b) of each run of identical consecutive rows of (N, D) `values` that touches neither the first nor the
    last frame (settling at the ends is idle), as `state.frozen_rows` counts them (b - a rows)."""
    v = np.asarray(values)
    if len(v) < 3:
        return []
    starts, ends = runs((v[1:] == v[:-1]).all(axis=1))
    return [(int(s), int(e) + 1) for s, e in zip(starts, ends, strict=True) if s > 0 and e < len(v) - 1]


@dataclass(frozen=True)
class Clamp:
    """One channel's clamp: state and command held together at one value inside its limits."""

    signal: str
    fraction: float  # of the episode's moving frames
    value: float


def channel_clamp(
    name: str,
    x: np.ndarray,
    command: np.ndarray,
    limits: tuple[float, float],
    moving: np.ndarray,
    config: BehaviourConfig,
) -> Clamp | None:
    """A joint whose state and command both sit at one value `v` together over runs of at least `plateau_min_s`,
    where `v` is the extreme (on one side) of the state AND of the command over the episode (two signals of
    continuous values sharing their extreme exactly: both were cut there), inside the joint's `limits` by
    `saturation_tolerance` of their span, the command reaching it at speed (its step onto `v` at least a quarter of its
    median moving step, on one of the runs at least: a software limit cuts a motion, a hand stopping decelerates; or
    held together there in two runs or more: state and command returning to one exact shared value is a cut, the
    real G1 teleop operator passing the 65th percentile slowly): a software limit narrower than the robot's. None when
    nothing is judged (not finite, nothing moves)."""
    x, cmd = np.asarray(x, np.float64), np.asarray(command, np.float64)
    if not (np.isfinite(x).all() and np.isfinite(cmd).all()) or not moving.any() or len(x) < 3:
        return None
    lo, hi = limits
    tol = config.saturation_tolerance * (hi - lo)
    steps = np.abs(np.diff(cmd))
    typical = float(np.median(steps[steps > 0])) if (steps > 0).any() else 0.0
    best = Clamp(name, 0.0, float("nan"))
    for v, c_end in ((x.max(), cmd.max()), (x.min(), cmd.min())):
        eps = 1e-9 * max(1.0, abs(v))
        if not lo + tol < v < hi - tol or abs(c_end - v) > eps:
            continue  # at a limit (the saturation check's), or the command's extreme is elsewhere: no cut of both
        at_cmd = np.abs(cmd - v) <= eps
        both = (np.abs(x - v) <= eps) & at_cmd
        starts, ends = runs(both)
        need = max(2, round(config.plateau_min_s * CANONICAL_FPS))
        spans = [(a, b) for a, b in zip(starts.tolist(), ends.tolist(), strict=True) if b - a >= need]
        cut = False
        for a, _ in spans:
            k = a - int(np.argmin(at_cmd[a::-1])) + 1 if not at_cmd[: a + 1].all() else 0  # the command reached v
            cut |= k > 0 and steps[k - 1] >= 0.25 * typical
        if not cut and len(spans) < 2:  # a continuous pair back at one exact shared value twice: cut there too
            continue
        share = sum(int(moving[a:b].sum()) for a, b in spans) / int(moving.sum())
        if share > best.fraction:
            best = Clamp(name, share, float(v))
    return best
