"""State behaviour of one episode: frozen rows mid-episode, dead and saturated dims, jumps, NaN/Inf.

Input: (N, D) values of one stream, a per-dim `DimLimits` (the embodiment's joint limits where known, else the
dataset's own min/max from its stats) and each dim's unit, so a jump is measured in the unit's own terms (rad/s, m/s)
and against the limit range.

A dim "in use" is one the dataset moves somewhere: an unused dim (a humanoid's legs in an arms-only dataset) is never
dead. A dead dim is one in use that does not move in this episode while another dim does. Rest dims (grippers,
fingers) are neither dead nor saturated nor jumping: fingers rest open or closed at a range end (the GR00T sample's
left thumb sits at its limit in 96 % of frames) and grippers snap open and shut. Jumps are one-frame acceleration
spikes (in, then out) in robust sigmas of the dim's own accelerations, so a fast but smooth reach is not one.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ingest.canonical.limits import DimLimits, finite_span, in_use
from ingest.canonical.validity import dilate_pairs, runs
from schemas.behaviour import BehaviourConfig


@dataclass(frozen=True)
class StateBehaviour:
    frames: int
    frozen_s: float  # longest run of identical rows not touching the start or end
    dead_dims: list[int]
    saturated_dims: list[int]
    saturated_fraction: float  # largest over dims in use
    jump_sigma: float
    jump_range_fraction: float
    jump_rad_s: float | None  # None without a radian dim
    jump_m_s: float | None
    jump_frame: int | None
    nonfinite: int


def moving_frames(values: np.ndarray, limits: DimLimits, tolerance: float) -> np.ndarray:
    """(N,) bool: a frame moves when a dim in use changed by more than `tolerance` x its span since the frame
    before or changes by that much to the next one (so both frames of a step move)."""
    v = np.asarray(values, np.float64)
    use = in_use(limits)
    if len(v) < 2 or not use.any():
        return np.zeros(len(v), bool)
    step = np.abs(np.diff(v[:, use], axis=0)) > tolerance * finite_span(limits)[use]
    return dilate_pairs(step.any(axis=1), len(v))


def min_move(limits: DimLimits, config: BehaviourConfig) -> np.ndarray:
    """Per dim, the smallest range that counts as motion in its unit (a stats range of a barely used dim is tiny)."""
    units = np.array(limits.units)
    return np.where(units == "rad", config.min_move_rad, np.where(units == "m", config.min_move_m, 0.0))


def frozen_rows(values: np.ndarray) -> int:
    """Rows in the longest run of identical consecutive rows that touches neither the first nor the last frame;
    settling at the start or end is idle, not a frozen recorder."""
    v = np.asarray(values)
    if len(v) < 3:
        return 0
    same = (v[1:] == v[:-1]).all(axis=1)
    starts, ends = runs(same)  # pair runs: pairs s..e-1 -> rows s..e
    inner = (starts > 0) & (ends < len(same))
    if not inner.any():
        return 0
    return int(np.where(inner, ends - starts + 1, 0).max())


def _robust_sigma(steps: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """Per dim, 1.4826 x the median absolute step over the frames where the dim moves (an idle stretch would shrink
    the scale to nothing); at least `floor`."""
    a = np.abs(steps)
    moving = a > floor
    with warnings.catch_warnings():  # a dim that never moves has an all-NaN column: its scale is the floor
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(np.where(moving, a, np.nan), axis=0)
    return np.maximum(np.nan_to_num(1.4826 * med, nan=0.0), floor)


def state_behaviour(values: np.ndarray, fps: float, limits: DimLimits, config: BehaviourConfig) -> StateBehaviour:
    """Measure one (N, D) stream against its limits."""
    v = np.asarray(values, np.float64)
    n, d = v.shape
    finite = np.isfinite(v)
    nonfinite = int(n * d - finite.sum())
    if nonfinite:  # a NaN frame is counted, then held from the previous finite value so the rest still measures
        from ingest.canonical.validity import fill_nonfinite

        v = fill_nonfinite(v)
        v = np.where(np.isfinite(v), v, 0.0)
    use = in_use(limits)
    span = finite_span(limits)
    frozen = frozen_rows(v[:, use]) if use.any() else 0

    rng = v.max(axis=0) - v.min(axis=0) if n else np.zeros(d)
    rel = np.where(span > 0, rng / np.where(span > 0, span, 1.0), 0.0)
    anything_moves = bool((use & (rel > config.moving_range_fraction) & (rng > min_move(limits, config))).any())
    still = use & ~limits.resting & (rel < config.dead_range_fraction)  # a gripper unused in a push task is fine
    still &= (np.array(limits.units) != "m") | (rng < config.dead_range_m)  # a resting arm's wrist drifts: not dead
    dead = np.flatnonzero(still) if anything_moves else np.zeros(0, int)

    tol = config.saturation_tolerance * span
    at_limit = (v <= limits.lower + tol) | (v >= limits.upper - tol)
    bounded = use & np.isfinite(limits.span) & ~limits.resting
    sat = np.where(bounded, at_limit.mean(axis=0), 0.0) if n else np.zeros(d)  # fingers rest at ends: not counted
    sat = np.where(np.isin(np.arange(d), dead), 0.0, sat)  # a dead dim is reported as dead, not saturated too

    jump_sigma = jump_frac = 0.0
    jump_rad = jump_m = None
    jump_frame = None
    arm = use & ~limits.resting  # a gripper snaps open and shut by design: its steps are not glitches
    if n >= 4 and arm.any():
        steps = np.diff(v[:, arm], axis=0)
        acc = np.diff(steps, axis=0)  # a one-frame jump is a pair of opposite acceleration spikes around its step
        spike = np.minimum(np.abs(acc[:-1]), np.abs(acc[1:]))  # step t+1 (frames t+1 -> t+2) in/out
        floor = config.dead_range_fraction * span[arm] + 1e-12
        z = spike / _robust_sigma(acc, floor)
        t, k = np.unravel_index(int(z.argmax()), z.shape) if z.size else (0, 0)
        jump_sigma, jump_frame = (float(z[t, k]), int(t) + 2) if z.size else (0.0, None)
        jump_frac = float((np.abs(steps) / span[arm]).max())
        units = np.array(limits.units)[arm]
        for unit in ("rad", "m"):
            cols = units == unit
            if cols.any():
                speed = float(np.abs(steps[:, cols]).max() * fps)
                jump_rad, jump_m = (speed, jump_m) if unit == "rad" else (jump_rad, speed)
    return StateBehaviour(
        frames=n,
        frozen_s=frozen / fps if frozen else 0.0,
        dead_dims=dead.tolist(),
        saturated_dims=np.flatnonzero(sat > config.saturated_fraction_low).tolist(),
        saturated_fraction=float(sat.max()) if d else 0.0,
        jump_sigma=jump_sigma,
        jump_range_fraction=jump_frac,
        jump_rad_s=jump_rad,
        jump_m_s=jump_m,
        jump_frame=jump_frame,
        nonfinite=nonfinite,
    )
