"""Idle stretches at the start and end of an episode: measured, and the frame range that trims them.

Teleoperated recordings start before the operator moves and stop after the robot settles; a policy trained on those
frames learns to wait. The robot is idle at the start until some dim in use leaves its first value by a tolerance of
its limit range, and idle at the end after the last frame that differs from the final value by as much. An idle end
longer than `idle_keep_s` is trimmed to that much (`idle_trim`), so each cut keeps a little settling context.

An episode with no canonical dim in use (natives only) is measured on its native state instead (`episode_idle`): each
column that moves, against its own range in the episode. Without this the whole episode was idle: issue 37 reports a
real Dobot CR5 set read 100 % idle in all 81 episodes while its joints moved throughout. Per-episode ranges make the
native reading cautious: a noisy column counts as motion, so idle ends are under-found, never a moving arm called idle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.canonical.limits import DimLimits, _finite_span, _in_use, canonical_limits
from schemas.behaviour import BehaviourConfig
from schemas.canonical import CANONICAL_FPS
from schemas.canonicalize import Workspace
from schemas.qa import IdleCut


@dataclass(frozen=True)
class IdleBehaviour:
    frames: int
    idle_start_frames: int  # frames before the first motion
    idle_end_frames: int  # frames after the last motion
    idle_start_s: float
    idle_end_s: float
    idle_fraction: float  # (start + end) / frames; 1.0 when nothing moves
    trim_start: int  # first frame kept
    trim_stop: int  # frame after the last kept one


def idle_behaviour(values: np.ndarray, fps: float, limits: DimLimits, config: BehaviourConfig) -> IdleBehaviour:
    """Measure the idle start and end of one (N, D) stream and the trim range (the whole episode without trimming)."""
    v = np.asarray(values, np.float64)
    n = len(v)
    use = _in_use(limits)
    x, tol = v[:, use], config.idle_range_fraction * _finite_span(limits)[use]
    left_start = (np.abs(x - x[0]) > tol).any(axis=1) if n and use.any() else np.zeros(n, bool)
    if not left_start.any():  # never moved (or nothing in use)
        return IdleBehaviour(n, n, 0, n / fps, 0.0, 1.0 if n else 0.0, 0, n)
    left_end = (np.abs(x - x[-1]) > tol).any(axis=1)
    onset = int(np.argmax(left_start))  # first frame away from the start pose
    last = int(n - 1 - np.argmax(left_end[::-1]))  # last frame away from the end pose
    idle_end = n - 1 - last
    keep = round(config.idle_keep_s * fps)
    start, stop = 0, n
    if config.idle_trim:
        start = max(0, onset - keep) if onset > keep else 0
        stop = min(n, last + 1 + keep) if idle_end > keep else n
    return IdleBehaviour(
        frames=n,
        idle_start_frames=onset,
        idle_end_frames=idle_end,
        idle_start_s=onset / fps,
        idle_end_s=idle_end / fps,
        idle_fraction=(onset + idle_end) / n,
        trim_start=start,
        trim_stop=stop,
    )


def episode_idle(
    state: np.ndarray, limits: DimLimits, natives: np.ndarray | None, config: BehaviourConfig
) -> IdleBehaviour:
    """Idle of one episode: on `state` with `limits` (the canonical dims in use); when no dim is in use, on the
    (N, D) native state columns `natives` that move, each against its range in this episode (`DimLimits.observed`);
    with neither, all of it idle as `idle_behaviour` says."""
    s = np.asarray(state, np.float64)
    s = np.where(np.isfinite(s), s, 0.0)
    if _in_use(limits).any() or natives is None or not np.asarray(natives).size:
        return idle_behaviour(s, CANONICAL_FPS, limits, config)
    v = np.asarray(natives, np.float64)
    v = v[:, np.isfinite(v).all(axis=0)]  # a column with NaN has no range to measure against
    return idle_behaviour(v, CANONICAL_FPS, DimLimits.observed(v), config)


def idle_cut(
    state: np.ndarray,
    mask: np.ndarray,
    config: BehaviourConfig,
    workspace: Workspace | None = None,
    natives: np.ndarray | None = None,
) -> IdleCut:
    """The idle ends of (N, 50) canonical frames and the range that keeps `idle_keep_s` of each (all of it unless
    `idle_trim`, or when less than two frames would remain): canonicalize cuts there before the tier is assessed.
    With no canonical dim in use, measured on the native state columns `natives` (`idle.episode_idle`)."""
    s = np.asarray(state, np.float64)
    ib = episode_idle(s, canonical_limits(mask, workspace), natives, config)
    start, stop = (
        (ib.trim_start, ib.trim_stop) if config.idle_trim and ib.trim_stop - ib.trim_start >= 2 else (0, len(s))
    )
    return IdleCut(len(s), start, stop, ib.idle_start_s, ib.idle_end_s)
