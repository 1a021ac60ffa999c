"""Action-to-state tracking: does the measured state follow the commanded action?

For absolute position commands the state follows the action a few frames later; a follower whose calibration differs
from the leader's, a torque-limited joint, or an action column that belongs to another stream does not. Per moving
dim, the Pearson correlation of action[t] and state[t + lag] at the best lag in 0..`tracking_max_lag_s`; the worst
moving dim's is the episode's. lerobot-lint's
ACTION_STATE_DIVERGENCE takes lag 0 only, which a real follower's lag of a few frames lowers on fast moves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.canonical.limits import DimLimits, finite_span, in_use
from ingest.qa.state import min_move
from schemas.behaviour import BehaviourConfig


@dataclass(frozen=True)
class TrackingBehaviour:
    dims: int  # moving dims measured
    worst_corr: float | None  # None without a moving dim
    median_lag_s: float | None
    median_corr: float | None = None  # over the moving dims: one joint resting at its limit while commanded does not
    # drag it down (the real GR00T right thumb: its command moves, the joint sits at its range end)


def _corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Column-wise Pearson correlation of two (T, D) arrays; NaN where a column is constant."""
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    den = np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a * b).sum(axis=0) / den


def tracking_behaviour(
    action: np.ndarray, state: np.ndarray, fps: float, limits: DimLimits, config: BehaviourConfig
) -> TrackingBehaviour:
    """Measure how the (N, D) state follows the (N, D) action, dims paired by position."""
    a, s = np.asarray(action, np.float64), np.asarray(state, np.float64)
    n = min(len(a), len(s))
    a, s = a[:n], s[:n]
    rng = s.max(axis=0) - s.min(axis=0) if n else np.zeros(s.shape[1])
    moving = in_use(limits) & ~limits.resting & (rng > min_move(limits, config))
    moving &= rng > config.moving_range_fraction * finite_span(limits)
    moving &= np.isfinite(a).all(axis=0) & np.isfinite(s).all(axis=0)
    cols = np.flatnonzero(moving)
    max_lag = max(0, min(round(config.tracking_max_lag_s * fps), n // 4))
    if not len(cols) or n < config.tracking_min_frames:
        return TrackingBehaviour(0, None, None)
    a, s = a[:, cols], s[:, cols]
    best = np.full(len(cols), -np.inf)
    lag = np.zeros(len(cols))
    for k in range(max_lag + 1):
        m = len(s) - k
        c = np.nan_to_num(_corr(a[:m], s[k : k + m]), nan=0.0)  # a constant action does not follow
        better = c > best
        best, lag = np.where(better, c, best), np.where(better, k, lag)
    return TrackingBehaviour(len(cols), float(best.min()), float(np.median(lag)) / fps, float(np.median(best)))
