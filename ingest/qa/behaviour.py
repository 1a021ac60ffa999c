"""One episode's behaviour QA: every check run on its arrays, the measured values as one `BehaviourRecord`.

Called where canonicalize builds an episode (or by `eidata validate` on a dataset's files): `state` and `action` are
the native streams (dims paired by position, `limits` their embodiment's joint limits or the dataset's stats range),
`cameras` the decoded frames per camera on the same frame grid. The camera's frozen check only counts frames where the
state moves, so a still robot in a still scene is idle, not a frozen camera.

Action-to-state tracking: does the measured state follow the commanded action?

For absolute position commands the state follows the action a few frames later; a follower whose calibration differs
from the leader's, a torque-limited joint, or an action column that belongs to another stream does not. Per moving
dim, the Pearson correlation of action[t] and state[t + lag] at the best lag in 0..`tracking_max_lag_s`; the worst
moving dim's is the episode's. lerobot-lint's
ACTION_STATE_DIVERGENCE takes lag 0 only, which a real follower's lag of a few frames lowers on fast moves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ingest.canonical.idle import idle_behaviour
from ingest.canonical.limits import DimLimits, finite_span, in_use
from ingest.qa.cameras import CameraBehaviour, camera_behaviour
from ingest.qa.duplicates import fingerprint
from ingest.qa.state import min_move, moving_frames, state_behaviour
from schemas.behaviour import BehaviourConfig
from schemas.behaviour_record import BehaviourRecord


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


MOVING_STEP = 1e-3  # a frame moves when a dim in use stepped by this fraction of its limit range

CAMERA_FIELDS = ("frozen_s", "frozen_fraction", "repeat_period", "dark_fraction", "bright_fraction", "flat_fraction")
# the record's fields `state_behaviour` measures under the same names
STATE_FIELDS = ("dead_dims", "saturated_dims", "saturated_fraction", "jump_sigma", "jump_range_fraction", "jump_rad_s",
                "jump_m_s", "jump_frame")  # fmt: skip


def worst_camera(cams: list[CameraBehaviour]) -> dict[str, float | int | None]:
    """The record's camera fields (`cam_<CameraBehaviour field>`): the worst value over the cameras."""
    return {f"cam_{k}": max(getattr(c, k) for c in cams) for k in CAMERA_FIELDS} if cams else {}


def measure_episode(
    state: np.ndarray,
    fps: float,
    limits: DimLimits,
    config: BehaviourConfig,
    *,
    action: np.ndarray | None = None,
    cameras: Mapping[str, np.ndarray] | None = None,
) -> BehaviourRecord:
    """Every behaviour check of one episode. NaN/Inf in the action are counted with the state's."""
    s = np.asarray(state, np.float64)
    sb = state_behaviour(s, fps, limits, config)
    ib = idle_behaviour(np.where(np.isfinite(s), s, 0.0), fps, limits, config)
    moving = moving_frames(np.where(np.isfinite(s), s, 0.0), limits, MOVING_STEP)
    cams = [camera_behaviour(f[: len(moving)], fps, config, moving[: len(f)]) for f in (cameras or {}).values()]
    nonfinite = sb.nonfinite
    tracking = {}
    if action is not None:
        a = np.asarray(action, np.float64)
        nonfinite += int(a.size - np.isfinite(a).sum())
        if a.shape[1:] == s.shape[1:]:
            tb = tracking_behaviour(a, s, fps, limits, config)
            tracking = {"tracking_corr": tb.worst_corr, "tracking_lag_s": tb.median_lag_s}
    return BehaviourRecord(
        **worst_camera(cams),
        state_frozen_s=sb.frozen_s,
        **{k: getattr(sb, k) for k in STATE_FIELDS},
        nonfinite=nonfinite,
        **{k: getattr(ib, k) for k in ("idle_start_s", "idle_end_s", "idle_fraction", "trim_start", "trim_stop")},
        **tracking,
        fingerprint=fingerprint(np.where(np.isfinite(s), s, 0.0), fps, limits, config).tolist(),
    )
