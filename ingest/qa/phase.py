"""Behaviour QA as an ingest phase: measured on a canonical episode, deciding its tier, cutting idle ends.

Two steps, so no frame is decoded twice:

1. `assess_arrays(ep, ...)` before the writer: the state checks on the canonical state, NaN/Inf counted in the
   natives, a frozen native state (when the source is at least as fast as the grid: a slower stream held on the grid
   repeats rows by design), action tracking when the action pairs with the state column by column, native arm joints
   held at a limit of their description, glitches, plateaus and frozen streams in every signal. Idle ends beyond
   `idle_keep_s` are cut by canonicalization before (`idle_cut`), the cut recorded as a reason. Each finding lowers
   the tier (`findings.route`) with its value and threshold; a quarantining finding rejects the episode.
2. While the writer encodes, `FrameTap.add` keeps a 32x32 grey thumbnail of each frame; after the last frame
   `assess_cameras` measures the cameras on them, raising `BehaviourRejected` for a quarantining finding.

Dead dims are measured here but not routed: whether a dim "in use" is dead needs the dataset (a planar robot's height
never moves in any episode), so the curation step `eidata verdicts` judges them over each dataset (`corpus`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.episode import CameraChecks, CanonicalEpisode
from ingest.lerobot.errors import EpisodeError
from ingest.qa.behaviour import MOVING_STEP, measure_episode, worst_camera
from ingest.qa.cameras import CameraBehaviour, camera_behaviour_thumbs, thumbnails
from ingest.qa.findings import episode_findings, route
from ingest.qa.glitch import worst_glitch
from ingest.qa.idle import episode_idle
from ingest.qa.limits import canonical_limits
from ingest.qa.plateau import frozen_stream, worst_plateau
from ingest.qa.signals import canonical_channels, native_channels
from ingest.qa.state import DimLimits, frozen_rows, moving_frames
from ingest.qa.tracking import tracking_behaviour
from schemas.behaviour import BehaviourConfig, BehaviourRecord
from schemas.canonical import image_key
from schemas.canonicalize import Workspace
from schemas.qa import Finding


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


def _component(name: str) -> str:
    """`state.right_arm.3` / `action.right_arm.3` -> `right_arm.3`, `observation.state.3` / `action.3` -> `3`: the
    stream's component, without its kind."""
    return name.removeprefix("observation.").split(".", 1)[-1]


def _pairs(ep: CanonicalEpisode) -> tuple[list[int], list[int]]:
    """(state columns, action columns) of the native state columns an action column commands, paired by name."""
    col = {_component(n): i for i, n in enumerate(ep.state_native_names)}
    pairs = [(col[_component(n)], j) for j, n in enumerate(ep.action_native_names) if _component(n) in col]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _native_tracking(ep: CanonicalEpisode, fps: float, config: BehaviourConfig) -> dict[str, float]:
    """Action tracking on the natives: action columns paired with the state columns of the same component name
    (`action.right_arm.3` with `state.right_arm.3`); nothing when none pairs or a paired column is not finite. The
    record's `tracking_corr` is then the median over the moving pairs (see below)."""
    s, a = ep.state_native, ep.action_native
    if s is None or a is None:
        return {}
    si, ai = _pairs(ep)
    if not si:
        return {}
    s64, a64 = np.asarray(s, np.float64)[:, si], np.asarray(a, np.float64)[:, ai]
    if not (np.isfinite(s64).all() and np.isfinite(a64).all()):
        return {}
    commanded = np.ptp(a64, axis=0) > 0  # a constant command says nothing of tracking (GR00T: 7 of 26 columns)
    s64, a64 = s64[:, commanded], a64[:, commanded]
    tb = tracking_behaviour(a64, s64, fps, DimLimits.observed(s64), config)
    # the median over the paired moving columns: without limits per native column, a hand's joint resting at its
    # range end while commanded (the real GR00T right thumb, correlation -0.05) is not told from an arm's joint
    return {} if tb.median_corr is None else {"tracking_corr": tb.median_corr, "tracking_lag_s": tb.median_lag_s}


def _native_still(ep: CanonicalEpisode) -> list[int]:
    """Commanded native state columns (an action column pairs with them) exactly constant over the episode while
    another moves (a disconnected motor reads one value); `eidata verdicts` calls them dead where the dataset moves
    them elsewhere. Signals (reward, done, labels) are not joints: a reward constant in a failed episode is not dead."""
    s = ep.state_native
    joints, _ = _pairs(ep)
    if s is None or len(s) < 2 or not joints:
        return []
    joints = sorted(set(joints))
    v = np.asarray(s, np.float64)[:, joints]
    finite = np.isfinite(v).all(axis=0)
    rng = np.ptp(np.where(np.isfinite(v), v, 0.0), axis=0)
    if not (finite & (rng > 0)).any():
        return []
    return [joints[k] for k in np.flatnonzero(finite & (rng == 0))]


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


def native_saturation(ep: CanonicalEpisode, config: BehaviourConfig) -> dict[str, object]:
    """The native arm joint columns against the description's limits in the decided unit (`native_limits`, from
    `ingest.canonical.joint_space`): per column the share of frames within `saturation_tolerance` of its
    range from a limit, either side (a joint read past a copied limit, the real GR1 wrist at 1.1 rad against the
    MJCF's 0.61, is a limit that is wrong, not a joint held at it). Hands and grippers get no limits here: they rest
    at a range end by design. Nothing without the limits (no description, unit not settled)."""
    limits = ep.native_limits
    cols = [i for i, n in enumerate(ep.state_native_names) if n in limits]
    if ep.state_native is None or not cols or not len(ep.state_native):
        return {}
    lo, hi = np.array([limits[ep.state_native_names[i]] for i in cols], np.float64).T
    v = np.asarray(ep.state_native, np.float64)[:, cols]
    tol = config.saturation_tolerance * (hi - lo)
    with np.errstate(invalid="ignore"):
        frac = ((np.abs(v - lo) <= tol) | (np.abs(v - hi) <= tol)).mean(axis=0)
    return {
        "native_saturated_fraction": float(frac.max()),
        "native_saturated_dims": [cols[k] for k in np.flatnonzero(frac > config.native_saturated_fraction_low)],
    }


def measure_arrays(ep: CanonicalEpisode, fps: float, config: BehaviourConfig, workspace: Workspace | None = None):
    """The episode's `BehaviourRecord` without the cameras: canonical state checks plus the natives'."""
    limits = canonical_limits(ep.mask, workspace)
    rec = measure_episode(np.asarray(ep.state, np.float64), fps, limits, config)
    extra: dict[str, object] = {"nonfinite": (rec.nonfinite or 0) + _native_nonfinite(ep)}
    native_frozen = _native_frozen_s(ep, fps)
    if native_frozen > (rec.state_frozen_s or 0.0):
        extra["state_frozen_s"] = native_frozen
    extra.update(_native_tracking(ep, fps, config))
    if ep.state_native is not None:
        extra["native_dead_dims"] = _native_still(ep)
    extra.update(native_saturation(ep, config))
    extra.update(signal_checks(ep, fps, config, workspace))
    return rec.model_copy(update=extra)


def signal_checks(
    ep: CanonicalEpisode, fps: float, config: BehaviourConfig, workspace: Workspace | None = None
) -> dict[str, object]:
    """The record's glitch fields (the worst excursion over every signal: the canonical wrists and each native state
    column that is a position, `ingest.qa.signals`), plateau fields (the worst held reading of a commanded
    arm joint of the description) and frozen-stream fields (one native stream held while its command moved; when
    the source is at least as fast as the grid, as for `state_frozen_s`); nothing for what is not measured."""
    natives = native_channels(ep, _pairs(ep))
    out: dict[str, object] = {}
    g = worst_glitch([*canonical_channels(ep), *natives], fps, config)
    if g is not None:
        out |= dict(glitch_value=g.value, glitch_unit=g.unit, glitch_sigma=g.sigma, glitch_signal=g.signal)
        out |= dict(glitch_frame=g.frame, glitch_s=g.seconds)
    p = worst_plateau(natives, fps, _moving(ep, workspace), config)
    if p is not None:
        out |= dict(plateau_fraction=p.fraction, plateau_signal=p.signal, plateau_value=p.value, plateau_frame=p.frame)
    f = frozen_stream(natives, fps, config) if ep.native_fps and ep.native_fps >= fps else None
    if f is not None:
        out |= dict(stream_frozen_s=f.seconds, stream_frozen_signal=f.signal, stream_frozen_frame=f.frame)
    return out


def _apply(ep: CanonicalEpisode, found: list[Finding]) -> tuple[CanonicalEpisode, str | None]:
    verdict = route(ep.tier, found)
    ep.tier, ep.tier_reasons = verdict.tier, [*ep.tier_reasons, *verdict.reasons]
    return ep, verdict.rejected()


@dataclass(frozen=True)
class IdleCut:
    """Where idle ends cut a stretch of canonical frames: keep [start, stop) of its `frames`."""

    frames: int
    start: int
    stop: int
    idle_start_s: float
    idle_end_s: float

    @property
    def cuts(self) -> bool:
        return (self.start, self.stop) != (0, self.frames)

    def reason(self, config: BehaviourConfig) -> str:
        parts = []
        if self.start:
            parts.append(f"idle start {self.idle_start_s:.1f} s: frames 0..{self.start - 1} cut")
        if self.stop < self.frames:
            parts.append(f"idle end {self.idle_end_s:.1f} s: frames {self.stop}..{self.frames - 1} cut")
        return f"qa_idle trimmed ({'; '.join(parts)}; {config.idle_keep_s:g} s kept beside the motion)"

    def record(self) -> dict[str, float | int]:
        return dict(
            idle_start_s=self.idle_start_s, idle_end_s=self.idle_end_s, trim_start=self.start, trim_stop=self.stop
        )


def idle_cut(
    state: np.ndarray,
    mask: np.ndarray,
    fps: float,
    config: BehaviourConfig,
    workspace: Workspace | None = None,
    natives: np.ndarray | None = None,
) -> IdleCut:
    """The idle ends of (N, 50) canonical frames and the range that keeps `idle_keep_s` of each (all of it unless
    `idle_trim`, or when less than two frames would remain): canonicalize cuts there before the tier is assessed.
    With no canonical dim in use, measured on the native state columns `natives` (`idle.episode_idle`)."""
    s = np.asarray(state, np.float64)
    ib = episode_idle(s, canonical_limits(mask, workspace), natives, fps, config)
    start, stop = (
        (ib.trim_start, ib.trim_stop) if config.idle_trim and ib.trim_stop - ib.trim_start >= 2 else (0, len(s))
    )
    return IdleCut(len(s), start, stop, ib.idle_start_s, ib.idle_end_s)


def assess_arrays(
    ep: CanonicalEpisode,
    fps: float,
    config: BehaviourConfig,
    workspace: Workspace | None,
    cut: IdleCut,
) -> Assessment:
    """Step 1 (before the writer): measure, lower the tier; `rejected` says why to quarantine. `cut`: the idle ends
    canonicalization already cut from `ep` (`idle_cut`, before its tier was assessed), recorded as measured."""
    if cut.cuts:
        ep.tier_reasons.append(cut.reason(config))
    rec = measure_arrays(ep, fps, config, workspace).model_copy(update=cut.record())  # what is written, idle as cut
    found = [f for f in episode_findings(rec, config) if not f.code.startswith("qa_cam_")]
    ep.behaviour = BehaviourRecord(**rec.model_dump(exclude_none=True))
    ep.camera_checks = CameraChecks(config, workspace)
    ep, rejected = _apply(ep, found)
    return Assessment(ep, found, rejected)


class FrameTap:
    """Thumbnails of the frames the writer encodes, per camera, taken as they pass (no second decode)."""

    def __init__(self) -> None:
        self.thumbs: dict[str, list[np.ndarray]] = {}

    def add(self, camera: str, frame: np.ndarray) -> None:
        self.thumbs.setdefault(camera, []).append(thumbnails(frame[None])[0])

    def cameras(
        self, fps: float, config: BehaviourConfig, moving: np.ndarray, indices: dict[str, np.ndarray]
    ) -> dict[str, CameraBehaviour]:
        """Each camera measured over its source frames: a grid frame that shows the same source frame as the one
        before (`indices`: a camera slower than the grid, the real 3 Hz fractal camera on the 10 Hz grid) repeats
        it by design, so only each source frame's first grid frame counts, at the camera's own rate; a source frame
        moves when any grid frame showing it does."""
        out = {}
        for name, th in self.thumbs.items():
            n = min(len(th), len(moving))
            idx = np.asarray(indices.get(name, np.arange(n)))[:n]
            first = np.r_[True, idx[1:] != idx[:-1]] if len(idx) == n else np.ones(n, bool)
            starts = np.flatnonzero(first)
            moved = np.logical_or.reduceat(moving[:n], starts) if n else moving[:0]
            rate = fps * len(starts) / n if n else fps
            out[name] = camera_behaviour_thumbs(np.stack(th[:n])[first], rate, config, moved)
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
    indices = {image_key(k): c.indices for k, c in ep.cameras.items()}
    cams = tap.cameras(fps, checks.config, _moving(ep, checks.workspace), indices)
    ep.behaviour = ep.behaviour.model_copy(update=worst_camera(list(cams.values())))
    found = [f for f in episode_findings(ep.behaviour, checks.config) if f.code.startswith("qa_cam_")]
    ep, rejected = _apply(ep, found)
    if rejected:
        worst = max(cams, key=lambda k: (cams[k].frozen_fraction, cams[k].dark_fraction + cams[k].flat_fraction))
        raise BehaviourRejected(rejected, episode=ep.uid, feature=worst)
    return found
