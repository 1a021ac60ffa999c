"""Idle stretches at the start and end of an episode: measured, and the frame range that trims them.

Teleoperated recordings start before the operator moves and stop after the robot settles; a policy trained on those
frames learns to wait. The robot is idle at the start until some dim in use leaves its first value by a tolerance of
its limit range, and idle at the end after the last frame that differs from the final value by as much. An idle end
longer than `idle_keep_s` is trimmed to that much (`idle_trim`), so each cut keeps a little settling context.

An episode with no canonical dim in use (natives only) is measured on its native state instead (`episode_idle`): each
column that moves, against its own range in the episode. Without this the whole episode was idle: issue 37 reports a
real Dobot CR5 set read 100 % idle in all 81 episodes while its joints moved throughout. Per-episode ranges make the
native reading cautious: a noisy column counts as motion, so idle ends are under-found, never a moving arm called idle.
A native column constant over the episode is measured too (it never moved); an episode with neither a dim in use nor a
finite native column has no state measured (a camera-only source): its idle fraction is None, not 1 (nothing says it
stood still), and nothing is cut.

The idle fraction the judging step holds to `idle_fraction_quarantine` is that of the frames kept after the cut
(`IdleCut.idle_fraction`): an episode that never moves stays all idle, one that moves keeps at most `idle_keep_s` of
idle each side of its motion, so a short grasp in a long recording is cut to it, not called idle.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ingest.canonical.limits import DimLimits, canonical_limits, finite_span, in_use
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
    idle_fraction: float | None  # (start + end) / frames; 1.0 when nothing moves, None when nothing is measured
    trim_start: int  # first frame kept
    trim_stop: int  # frame after the last kept one


def idle_behaviour(values: np.ndarray, fps: float, limits: DimLimits, config: BehaviourConfig) -> IdleBehaviour:
    """Measure the idle start and end of one (N, D) stream and the trim range (the whole episode without trimming)."""
    v = np.asarray(values, np.float64)
    n = len(v)
    use = in_use(limits)
    x, tol = v[:, use], config.idle_range_fraction * finite_span(limits)[use]
    if not n or not use.any():  # no state measured: not idle, nothing cut
        return IdleBehaviour(n, 0, 0, 0.0, 0.0, None, 0, n)
    left_start = (np.abs(x - x[0]) > tol).any(axis=1)
    if not left_start.any():  # never moved
        return IdleBehaviour(n, n, 0, n / fps, 0.0, 1.0, 0, n)
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
    (N, D) finite native state columns `natives`, each against its range in this episode (`DimLimits.observed`; a
    constant column is measured and never moves); with neither, nothing measured (`idle_fraction` None)."""
    s = np.asarray(state, np.float64)
    s = np.where(np.isfinite(s), s, 0.0)
    if in_use(limits).any() or natives is None or not np.asarray(natives).size:
        return idle_behaviour(s, CANONICAL_FPS, limits, config)
    v = np.asarray(natives, np.float64)
    v = v[:, np.isfinite(v).all(axis=0)]  # a column with NaN has no range to measure against
    seen = DimLimits.observed(v)
    # a constant column never leaves its value by any tolerance: a unit span keeps it measured (a still robot is idle)
    limits = replace(seen, upper=np.where(seen.span > 0, seen.upper, seen.lower + 1))
    return idle_behaviour(v, CANONICAL_FPS, limits, config)


def idle_cut(
    state: np.ndarray,
    mask: np.ndarray,
    config: BehaviourConfig,
    workspace: Workspace | None = None,
    natives: np.ndarray | None = None,
) -> IdleCut:
    """The idle ends of (N, 50) canonical frames and the range that keeps `idle_keep_s` of each (all of it unless
    `idle_trim`, or when less than two frames would remain): canonicalize cuts there before the tier is assessed.
    With no canonical dim in use, measured on the native state columns `natives` (`idle.episode_idle`). Its
    `idle_fraction` is that of the kept frames (None: no state measured)."""
    s = np.asarray(state, np.float64)
    n = len(s)
    ib = episode_idle(s, canonical_limits(mask, workspace), natives, config)
    start, stop = (ib.trim_start, ib.trim_stop) if config.idle_trim and ib.trim_stop - ib.trim_start >= 2 else (0, n)
    kept = None
    if ib.idle_fraction is not None and stop > start:
        idle_start = min(ib.idle_start_frames, stop) - start  # the idle frames left each side of the motion
        idle_end = max(0, ib.idle_end_frames - (n - stop))
        kept = min(1.0, (max(0, idle_start) + idle_end) / (stop - start))
    return IdleCut(n, start, stop, ib.idle_start_s, ib.idle_end_s, kept)
