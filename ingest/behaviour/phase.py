"""Behaviour QA as an ingest phase: measured on a canonical episode, deciding its tier, cutting idle ends.

Two steps, so no frame is decoded twice:

1. `assess_arrays(ep, config)` before the writer: the state checks on the canonical state (units and limits by
   `canonical.canonical_limits`), NaN/Inf counted in the natives, a frozen native state (when the source is at least
   as fast as the grid: a slower stream held on the grid repeats rows by design), action tracking on the natives when
   the action pairs with the state column by column. Idle ends beyond `idle_keep_s` are trimmed (`trim_episode`), the
   cut recorded as a reason. Each finding lowers the tier (`findings.route`) with its value and threshold; a
   quarantining finding rejects the episode (the caller quarantines it, the reason naming value and threshold).
2. While the writer encodes, `FrameTap.add` keeps a 32x32 grey thumbnail of each frame as it passes
   (`ingest.canonical.store.fill`); after the last frame `assess_cameras` measures the cameras on the thumbnails and
   routes their findings, raising `BehaviourRejected` for a quarantining one (the staged episode is discarded).

Dead dims are measured here but not routed: whether a dim "in use" is dead needs the dataset (a planar robot's height
never moves in any episode), so the catalog build judges them over each dataset (`jobs.catalog.behaviour`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ingest.behaviour.cameras import CameraBehaviour, camera_behaviour_thumbs, thumbnails
from ingest.behaviour.canonical import canonical_limits
from ingest.behaviour.episode import MOVING_STEP, measure_episode, worst_camera
from ingest.behaviour.findings import Finding, findings, route
from ingest.behaviour.state import DimLimits, frozen_rows, moving_frames
from ingest.behaviour.tracking import tracking_behaviour
from ingest.canonical.episode import CameraChecks, CanonicalEpisode, ResampledCamera
from ingest.lerobot.errors import EpisodeError
from schemas.behaviour import BehaviourConfig, BehaviourRecord
from schemas.canonicalize import Workspace
from schemas.lerobot import ActionSegment
from schemas.tiers import QualityTier

DATASET_CODES = frozenset({"qa_dead_dims"})  # routed by the catalog build over the dataset, not per episode


class BehaviourRejected(EpisodeError):
    """A behaviour finding that quarantines the episode (its message names the value and the threshold)."""


@dataclass(frozen=True)
class Assessment:
    """What the behaviour phase decided about one episode."""

    episode: CanonicalEpisode  # trimmed, tier lowered, reasons appended, `behaviour` set
    found: list[Finding]
    rejected: str | None  # the quarantining findings' reasons, None when the episode is kept


def _native_nonfinite(ep: CanonicalEpisode) -> int:
    return sum(int(x.size - np.isfinite(x).sum()) for x in (ep.state_native, ep.action_native) if x is not None)


def _native_tracking(ep: CanonicalEpisode, fps: float, config: BehaviourConfig) -> dict[str, float]:
    """Action tracking on the natives, when the action's columns pair with the state's by name (`action.x` with
    `observation.state.x` or the same component name) or the two have one width and unnamed columns."""
    s, a = ep.state_native, ep.action_native
    if s is None or a is None or s.shape[1] != a.shape[1]:
        return {}
    tail = [n.split(".", 1)[-1] for n in ep.state_native_names], [n.split(".", 1)[-1] for n in ep.action_native_names]
    if tail[0] != tail[1] and not all(t.isdigit() for t in tail[0] + tail[1]):
        return {}
    s64, a64 = np.asarray(s, np.float64), np.asarray(a, np.float64)
    if not (np.isfinite(s64).all() and np.isfinite(a64).all()):
        return {}
    lim = DimLimits.observed(s64)
    tb = tracking_behaviour(a64, s64, fps, lim, config)
    return {} if tb.worst_corr is None else {"tracking_corr": tb.worst_corr, "tracking_lag_s": tb.median_lag_s}


def _native_frozen_s(ep: CanonicalEpisode, fps: float) -> float:
    """Longest identical-row stretch mid-episode in the native state over its moving columns; 0 unless the source
    is sampled at least as fast as the grid (a slower stream held on the grid repeats rows by design)."""
    s = ep.state_native
    if s is None or not ep.native_fps or ep.native_fps < fps or len(s) < 3:
        return 0.0
    v = np.asarray(s, np.float64)
    moves = np.isfinite(v).all(axis=0) & (np.ptp(np.where(np.isfinite(v), v, 0.0), axis=0) > 0)
    if not moves.any():
        return 0.0
    rows, _ = frozen_rows(v[:, moves])
    return rows / fps


def measure_arrays(ep: CanonicalEpisode, fps: float, config: BehaviourConfig, workspace: Workspace | None = None):
    """The episode's `BehaviourRecord` without the cameras: canonical state checks plus the natives'."""
    limits = canonical_limits(ep.mask, workspace)
    rec = measure_episode(np.asarray(ep.state, np.float64), fps, limits, config)
    extra: dict[str, object] = {"nonfinite": (rec.nonfinite or 0) + _native_nonfinite(ep)}
    native_frozen = _native_frozen_s(ep, fps)
    if native_frozen > (rec.state_frozen_s or 0.0):
        extra["state_frozen_s"] = native_frozen
    extra.update(_native_tracking(ep, fps, config))
    return rec.model_copy(update=extra)


def _shift_segments(segments: list[ActionSegment] | None, start: int, stop: int) -> list[ActionSegment] | None:
    out = []
    for seg in segments or []:
        a, b = max(seg.start_frame, start) - start, min(seg.end_frame, stop) - start
        if b > a:
            out.append(seg.model_copy(update={"start_frame": a, "end_frame": b}))
    return out or None


def trim_episode(ep: CanonicalEpisode, start: int, stop: int, fps: float) -> CanonicalEpisode:
    """Frames [start, stop) of `ep`: every per-frame array, camera indices, natives and segments cut, timestamps
    from 0 again and the span moved to where the kept frames lie in the raw episode's clock."""
    if (start, stop) == (0, ep.num_frames):
        return ep
    cut = slice(start, stop)
    t0 = ep.span_s[0] + start / fps
    return replace(
        ep,
        timestamps=np.arange(stop - start) / fps,
        state=ep.state[cut],
        action=ep.action[cut],
        keypoints=ep.keypoints[cut],
        interpolated=ep.interpolated[cut],
        cameras={k: ResampledCamera(c.source, c.indices[cut], c.fit) for k, c in ep.cameras.items()},
        state_native=None if ep.state_native is None else ep.state_native[cut],
        action_native=None if ep.action_native is None else ep.action_native[cut],
        action_config=_shift_segments(ep.action_config, start, stop),
        span_s=(t0, t0 + (stop - start - 1) / fps),
        tier_reasons=list(ep.tier_reasons),
    )


def _trim_reason(rec: BehaviourRecord, n: int, fps: float, config: BehaviourConfig) -> str:
    parts = []
    if rec.trim_start:
        parts.append(f"idle start {rec.idle_start_s:.1f} s: frames 0..{rec.trim_start - 1} cut")
    if rec.trim_stop is not None and rec.trim_stop < n:
        parts.append(f"idle end {rec.idle_end_s:.1f} s: frames {rec.trim_stop}..{n - 1} cut")
    return f"qa_idle trimmed ({'; '.join(parts)}; {config.idle_keep_s:g} s kept beside the motion)"


def _apply(ep: CanonicalEpisode, found: list[Finding]) -> tuple[CanonicalEpisode, str | None]:
    tier, reasons = route(ep.tier, found)
    rejected = [r for f, r in zip(found, reasons, strict=True) if f.tier == QualityTier.rejected]
    ep.tier, ep.tier_reasons = tier, [*ep.tier_reasons, *reasons]
    return ep, "; ".join(rejected) or None


def assess_arrays(
    ep: CanonicalEpisode, fps: float, config: BehaviourConfig, workspace: Workspace | None = None
) -> Assessment:
    """Step 1 (before the writer): measure, trim idle ends, lower the tier; `rejected` says why to quarantine."""
    rec = measure_arrays(ep, fps, config, workspace)
    n = ep.num_frames
    start, stop = rec.trim_start or 0, rec.trim_stop if rec.trim_stop is not None else n
    if config.idle_trim and (start, stop) != (0, n) and stop - start >= 2:
        ep = trim_episode(ep, start, stop, fps)
        ep.tier_reasons.append(_trim_reason(rec, n, fps, config))
    found = [f for f in findings(rec, config) if f.code not in DATASET_CODES and not f.code.startswith("qa_cam_")]
    ep.behaviour = BehaviourRecord(**rec.values())
    ep.camera_checks = CameraChecks(config, workspace)
    ep, rejected = _apply(ep, found)
    return Assessment(ep, found, rejected)


class FrameTap:
    """Thumbnails of the frames the writer encodes, per camera, taken as they pass (no second decode)."""

    def __init__(self) -> None:
        self.thumbs: dict[str, list[np.ndarray]] = {}

    def add(self, camera: str, frame: np.ndarray) -> None:
        self.thumbs.setdefault(camera, []).append(thumbnails(frame[None])[0])

    def cameras(self, fps: float, config: BehaviourConfig, moving: np.ndarray) -> dict[str, CameraBehaviour]:
        out = {}
        for name, th in self.thumbs.items():
            n = min(len(th), len(moving))
            out[name] = camera_behaviour_thumbs(np.stack(th[:n]), fps, config, moving[:n])
        return out


def _moving(ep: CanonicalEpisode, workspace: Workspace | None) -> np.ndarray:
    """Frames where the robot moves: by the canonical state, else by the native state (an episode whose canonical
    dims could not be filled); none without either (a still scene in a video-only episode is not a frozen camera)."""
    state = np.asarray(ep.state, np.float64)
    moving = moving_frames(np.where(np.isfinite(state), state, 0.0), canonical_limits(ep.mask, workspace), MOVING_STEP)
    if not ep.mask.any() and ep.state_native is not None:
        v = np.asarray(ep.state_native, np.float64)
        v = np.where(np.isfinite(v), v, 0.0)
        moving = moving_frames(v, DimLimits.observed(v), MOVING_STEP)
    return moving


def assess_cameras(ep: CanonicalEpisode, tap: FrameTap, fps: float) -> list[Finding]:
    """Step 2 (after the writer's last frame): the camera checks on the tapped thumbnails, merged into
    `ep.behaviour` and routed; raises `BehaviourRejected` when one quarantines. No-op without step 1."""
    checks = ep.camera_checks
    if checks is None or ep.behaviour is None or not tap.thumbs:
        return []
    cams = tap.cameras(fps, checks.config, _moving(ep, checks.workspace))
    ep.behaviour = ep.behaviour.model_copy(update=worst_camera(list(cams.values())))
    found = [f for f in findings(ep.behaviour, checks.config) if f.code.startswith("qa_cam_")]
    ep, rejected = _apply(ep, found)
    if rejected:
        worst = max(cams, key=lambda k: (cams[k].frozen_fraction, cams[k].dark_fraction + cams[k].flat_fraction))
        raise BehaviourRejected(rejected, episode=ep.uid, feature=worst)
    return found
