"""One episode's behaviour QA: every check run on its arrays, the measured values as one `BehaviourRecord`.

Called where canonicalize builds an episode (or by `eidata validate` on a dataset's files): `state` and `action` are
the native streams (dims paired by position, `limits` their embodiment's joint limits or the dataset's stats range),
`cameras` the decoded frames per camera on the same frame grid. The camera's frozen check only counts frames where the
state moves, so a still robot in a still scene is idle, not a frozen camera.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ingest.canonical.idle import idle_behaviour
from ingest.canonical.limits import DimLimits
from ingest.qa.cameras import CameraBehaviour, camera_behaviour
from ingest.qa.duplicates import fingerprint
from ingest.qa.state import moving_frames, state_behaviour
from ingest.qa.tracking import tracking_behaviour
from schemas.behaviour import BehaviourConfig
from schemas.behaviour_record import BehaviourRecord

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
