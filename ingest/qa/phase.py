"""Behaviour QA for the judging step (`ingest.qa.judge`, which says when each moment runs): measured on a canonical
episode, its findings added as verdicts (`findings.route`, value and threshold) to a new record; a quarantining finding
rejects the episode.

1. `assess_arrays` before the writer: the checks of the canonical state and the natives (`measure_arrays`). Idle ends
   beyond `idle_keep_s` are cut by canonicalization before (`ingest.canonical.idle.idle_cut`), the cut recorded as a
   note.
2. `FrameTap.add` keeps a 32x32 grey thumbnail of each frame the writer encodes; `assess_cameras` measures them.

Dead dims are measured here but not routed: whether a dim "in use" is dead needs the dataset (a planar robot's height
never moves in any episode), so the curation step `eidata verdicts` judges them over each dataset (`corpus`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ingest.canonical.limits import DimLimits, canonical_limits, in_use
from ingest.episode import CanonicalEpisode, JudgedEpisode
from ingest.lerobot.errors import EpisodeError
from ingest.qa.behaviour import MOVING_STEP, measure_episode, tracking_behaviour, worst_camera
from ingest.qa.cameras import CameraBehaviour, camera_behaviour_thumbs, thumbnails
from ingest.qa.explain import Clamp, channel_clamp, explain_all, frozen_windows
from ingest.qa.findings import episode_findings, route
from ingest.qa.glitch import worst_glitch
from ingest.qa.plateau import command_move, frozen_stream, hold_why, worst_plateau
from ingest.qa.signals import Channel, canonical_channels, native_channels
from ingest.qa.state import moving_frames
from schemas.behaviour import BehaviourConfig
from schemas.behaviour_record import BehaviourRecord, Explained
from schemas.canonical import CANONICAL_FPS, image_key
from schemas.canonicalize import Workspace
from schemas.qa import Finding, IdleCut
from schemas.tiers import TierVerdict


class BehaviourRejected(EpisodeError):
    """A behaviour finding that quarantines the episode (its message names the value and the threshold)."""


@dataclass(frozen=True)
class Assessment:
    """What the behaviour phase decided about one episode."""

    episode: JudgedEpisode  # a new record: its verdicts added, `behaviour` set
    found: list[Finding]
    rejected: str | None  # the quarantining findings' reasons, None when the episode is kept


def _native_nonfinite(ep: CanonicalEpisode) -> int:
    natives = (ep.natives.state, ep.natives.action, ep.natives.outcome)
    return sum(int(x.size - np.isfinite(x).sum()) for x in natives if x is not None)


def _component(name: str) -> str | None:
    """`state.right_arm.3` / `action.right_arm.3` -> `right_arm.3`, `observation.state.shoulder_pan` /
    `action.shoulder_pan` -> `shoulder_pan`: the stream's component, without its kind; None where the name is only
    the column's index (`observation.state.3`, `states.3`): an index says nothing of which joint a command drives."""
    component = name.removeprefix("observation.").split(".", 1)[-1]
    return None if component.isdigit() else component


def _pairs(ep: CanonicalEpisode) -> tuple[list[int], list[int]]:
    """(state columns, action columns): the native state column each action column drives, as the source's own names
    map them (a named joint, or the same index within the same named group: the robot description's and the maker's
    controller's names as the adapter reads them). Unmapped columns pair with nothing, and no check pairs them (issue
    79: raw robosuite's `states.k` is MuJoCo qpos, its `actions.k` an OSC pose delta; paired by index, all 4 real
    demos were lowered for a correlation of unrelated signals)."""
    col = {c: i for i, n in enumerate(ep.natives.state_names) if (c := _component(n)) is not None}
    pairs = [(col[c], j) for j, n in enumerate(ep.natives.action_names) if (c := _component(n)) in col]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _native_tracking(ep: CanonicalEpisode, config: BehaviourConfig) -> dict[str, float]:
    """Action tracking on the natives: action columns paired with the state columns of the same component name
    (`action.right_arm.3` with `state.right_arm.3`); nothing when none pairs or a paired column is not finite. The
    record's `tracking_corr` is then the median over the moving pairs (see below)."""
    s, a = ep.natives.state, ep.natives.action
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
    tb = tracking_behaviour(a64, s64, CANONICAL_FPS, DimLimits.observed(s64), config)
    # the median over the paired moving columns: without limits per native column, a hand's joint resting at its
    # range end while commanded (the real GR00T right thumb, correlation -0.05) is not told from an arm's joint
    return {} if tb.median_corr is None else {"tracking_corr": tb.median_corr, "tracking_lag_s": tb.median_lag_s}


def _native_still(ep: CanonicalEpisode, config: BehaviourConfig, explained: list[Explained] | None = None) -> list[int]:
    """Commanded native state columns (an action column pairs with them) exactly constant over the episode while
    another moves (a disconnected motor reads one value); `eidata verdicts` calls them dead where the dataset moves
    them elsewhere. Signals (reward, done, labels) are not joints: a reward constant in a failed episode is not dead.
    A column whose command is still too is not used in this episode, not dead (the real Bridge shard's gripper held
    open, command 1.0 throughout, in tasks that do not grasp; a command given only in the episode's last
    `explain_lag_s` is not followed yet): listed in `explained` (`unused`); with `explained` None kept."""
    s = ep.natives.state
    joints, commands = _pairs(ep)
    if s is None or len(s) < 2 or not joints:
        return []
    command = dict(zip(joints, commands, strict=True))
    joints = sorted(set(joints))
    v = np.asarray(s, np.float64)[:, joints]
    finite = np.isfinite(v).all(axis=0)
    rng = np.ptp(np.where(np.isfinite(v), v, 0.0), axis=0)
    if not (finite & (rng > 0)).any():
        return []
    still = [joints[k] for k in np.flatnonzero(finite & (rng == 0))]
    if explained is None or ep.natives.action is None or not config.explain_holds:
        return still
    a = np.asarray(ep.natives.action, np.float64)
    units = list(ep.natives.state_units) or [""] * len(ep.natives.state_names)
    # a command in the last lag is not followed yet
    told = a[: max(2, len(a) - round(config.explain_lag_s * CANONICAL_FPS))]
    unused = [k for k in still if _command_still(told[:, command[k]], units[k], config)]
    if unused:
        names = [ep.natives.state_names[k] for k in unused]
        signal = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        explained.append(Explained(check="qa_native_dead_dims", why="unused", signal=signal, value=float(len(unused))))
    return [k for k in still if k not in unused]


def _command_still(cmd: np.ndarray, unit: str, config: BehaviourConfig) -> bool:
    """A command that does not move over the episode: within `min_move_*` in a joint's or a point's unit, else
    exactly constant (float rounding aside)."""
    if not np.isfinite(cmd).all():
        return False
    move = {"rad": config.min_move_rad, "joint_rad": config.min_move_rad, "deg": np.degrees(config.min_move_rad)}
    move |= {"m": config.min_move_m, "mm": 1e3 * config.min_move_m}
    return float(np.ptp(cmd)) <= move.get(unit, 1e-6 * max(1.0, float(np.abs(cmd).max())))


def _frozen_s(
    ep: CanonicalEpisode,
    config: BehaviourConfig,
    workspace: Workspace | None,
    natives: list[Channel],
    explained: list[Explained],
) -> float:
    """The longest stretch of identical rows mid-episode, in the canonical state's used dims or (when the source is
    sampled at least as fast as the grid: a slower stream held on the grid repeats rows by design) in the native
    state's moving columns, that the native commands do not explain: a stretch during which no command moved is a
    robot told to stay (`unused`), one whose every moving command explains its column's hold (`explain.explain_hold`)
    is the robot's own; the longest explained one is appended to `explained`."""
    limits = canonical_limits(ep.mask, workspace)
    state = np.asarray(ep.state, np.float64)
    tables = [np.where(np.isfinite(state), state, 0.0)[:, in_use(limits)]] if in_use(limits).any() else []
    s = ep.natives.state
    if s is not None and ep.native_fps and ep.native_fps >= CANONICAL_FPS and len(s) >= 3:
        v = np.asarray(s, np.float64)
        moves = np.isfinite(v).all(axis=0) & (np.ptp(np.where(np.isfinite(v), v, 0.0), axis=0) > 0)
        tables += [v[:, moves]] if moves.any() else []
    windows = sorted({w for t in tables for w in frozen_windows(t)}, key=lambda w: w[0] - w[1])
    commanded = [c for c in natives if c.command is not None and not c.rotation and np.isfinite(c.command).all()]
    note: tuple[float, str] | None = None
    for a, b in windows:
        if not commanded or not config.explain_holds:
            return (b - a) / CANONICAL_FPS
        moved = [c for c in commanded if np.ptp(c.command[a:b]) > command_move(c, config)]
        why = "unused" if not moved else explain_all([hold_why(c, a, b, config) for c in moved])
        if why is None:
            return (b - a) / CANONICAL_FPS
        if note is None and (b - a) / CANONICAL_FPS > config.frozen_state_s_low:
            note = ((b - a) / CANONICAL_FPS, why)
    if note is not None:
        explained.append(Explained(check="qa_state_frozen_s", why=note[1], signal="state", value=note[0]))  # type: ignore[arg-type]
    return 0.0


def native_saturation(
    ep: CanonicalEpisode, config: BehaviourConfig, explained: list[Explained] | None = None
) -> dict[str, object]:
    """The native arm joint columns against the description's limits in the decided unit (`native_limits`, from
    `ingest.canonical.joint_space`): per column the share of frames within `saturation_tolerance` of its
    range from a limit, either side (a joint read past a copied limit, the real GR1 wrist at 1.1 rad against the
    MJCF's 0.61, is a limit that is wrong, not a joint held at it). Hands and grippers get no limits here: they rest
    at a range end by design. A column whose command sits at (or past) the same limit on most of those frames was
    told to be there (`range_end`), one whose command never moves is not used (`unused`): neither is counted, each
    appended to `explained`. Nothing without the limits (no description, unit not settled)."""
    limits = ep.native_limits
    cols = [i for i, n in enumerate(ep.natives.state_names) if n in limits]
    if ep.natives.state is None or not cols or not len(ep.natives.state):
        return {}
    lo, hi = np.array([limits[ep.natives.state_names[i]] for i in cols], np.float64).T
    v = np.asarray(ep.natives.state, np.float64)[:, cols]
    tol = config.saturation_tolerance * (hi - lo)
    with np.errstate(invalid="ignore"):
        at_lo, at_hi = np.abs(v - lo) <= tol, np.abs(v - hi) <= tol
        frac = (at_lo | at_hi).mean(axis=0)
    state_cols, action_cols = _pairs(ep)
    command = dict(zip(state_cols, action_cols, strict=True))
    a = None if ep.natives.action is None else np.asarray(ep.natives.action, np.float64)
    judged = explained is not None and config.explain_holds
    for k in np.flatnonzero(frac > config.native_saturated_fraction_low) if judged else ():
        j = command.get(cols[k])
        if a is None or j is None or not np.isfinite(a[:, j]).all():
            continue
        c = a[:, j]
        with np.errstate(invalid="ignore"):
            told = (at_lo[:, k] & (c <= lo[k] + tol[k])) | (at_hi[:, k] & (c >= hi[k] - tol[k]))
        at = at_lo[:, k] | at_hi[:, k]
        why = "unused" if np.ptp(c) <= config.min_move_rad else "range_end" if told[at].mean() >= 0.9 else None
        if why is not None:
            name = ep.natives.state_names[cols[k]]
            check = "qa_native_saturated_fraction"
            explained.append(Explained(check=check, why=why, signal=name, value=float(frac[k])))  # type: ignore[arg-type]
            frac[k] = 0.0
    over = [cols[k] for k in np.flatnonzero(frac > config.native_saturated_fraction_low)]
    return {
        "native_saturated_fraction": float(frac.max()),
        "native_saturated_dims": over,
        "native_saturated_signals": [ep.natives.state_names[d] for d in over],
    }


def measure_arrays(ep: CanonicalEpisode, config: BehaviourConfig, workspace: Workspace | None = None):
    """The episode's `BehaviourRecord` without the cameras: the canonical state's checks, NaN/Inf counted in the
    natives, a frozen state, native tracking, still and saturated native joints, and `signal_checks`."""
    limits = canonical_limits(ep.mask, workspace)
    rec = measure_episode(np.asarray(ep.state, np.float64), CANONICAL_FPS, limits, config)
    explained: list[Explained] = []
    natives = native_channels(ep, _pairs(ep))
    extra: dict[str, object] = {"nonfinite": (rec.nonfinite or 0) + _native_nonfinite(ep)}
    extra["state_frozen_s"] = _frozen_s(ep, config, workspace, natives, explained)
    extra.update(_native_tracking(ep, config))
    if ep.natives.state is not None:
        extra["native_dead_dims"] = _native_still(ep, config, explained)
    extra.update(native_saturation(ep, config, explained))
    extra.update(signal_checks(ep, config, workspace, explained))
    return rec.model_copy(update=extra | Explained.columns(explained))


def signal_checks(
    ep: CanonicalEpisode,
    config: BehaviourConfig,
    workspace: Workspace | None = None,
    explained: list[Explained] | None = None,
) -> dict[str, object]:
    """The record's glitch fields (the worst excursion over every signal: the canonical wrists and each native state
    column that is a position, `ingest.qa.signals`), plateau fields (the worst held reading of a commanded
    arm joint of the description), clamp fields (the worst arm joint whose state and command sit together at one
    value inside its limits, `explain.channel_clamp`) and frozen-stream fields (one native stream held while its
    command moved; when the source is at least as fast as the grid, as for `state_frozen_s`); nothing for what is not
    measured. Holds the commands explain go to `explained`."""
    natives = native_channels(ep, _pairs(ep))
    out: dict[str, object] = {}
    g = worst_glitch([*canonical_channels(ep), *natives], config)
    if g is not None:
        out |= dict(glitch_value=g.value, glitch_unit=g.unit, glitch_sigma=g.sigma, glitch_signal=g.signal)
        out |= dict(glitch_frame=g.frame, glitch_s=g.seconds)
    moving = _moving(ep, workspace)
    p = worst_plateau(natives, moving, config, explained)
    if p is not None:
        out |= dict(plateau_fraction=p.fraction, plateau_signal=p.signal, plateau_value=p.value, plateau_frame=p.frame)
    c = worst_clamp(natives, moving, config)
    if c is not None:
        out |= dict(clamp_fraction=c.fraction, clamp_signal=c.signal, clamp_value=c.value)
    f = frozen_stream(natives, config, explained) if ep.native_fps and ep.native_fps >= CANONICAL_FPS else None
    if f is not None:
        out |= dict(stream_frozen_s=f.seconds, stream_frozen_signal=f.signal, stream_frozen_frame=f.frame)
    return out


def worst_clamp(channels: list[Channel], moving: np.ndarray, config: BehaviourConfig) -> Clamp | None:
    """The largest clamp (`explain.channel_clamp`) over the commanded joints with limits; None when none is judged."""
    found = [
        channel_clamp(ch.name, ch.values[:, 0], ch.command, ch.limits, moving, config)
        for ch in channels
        if ch.limits is not None and ch.command is not None and not ch.rotation
    ]
    return max((c for c in found if c is not None), key=lambda c: c.fraction, default=None)


def _routed(ep: CanonicalEpisode, found: list[Finding]) -> tuple[tuple[TierVerdict, ...], str | None]:
    """The findings' verdicts on `ep` (its tier follows from them), and why to quarantine it, or None."""
    verdict = route(ep.tier, found)
    return tuple(verdict.verdicts), verdict.rejected()


@dataclass(frozen=True)
class ArraysAssessed:
    """What step 1 found of one episode's arrays: its behaviour record (the cameras not yet in it), the verdicts it
    adds (the idle cut's note, then the findings'), the findings, and why to quarantine it or None."""

    record: BehaviourRecord
    verdicts: tuple[TierVerdict, ...]
    found: list[Finding]
    rejected: str | None


def assess_arrays(
    ep: CanonicalEpisode, config: BehaviourConfig, workspace: Workspace | None, cut: IdleCut
) -> ArraysAssessed:
    """Step 1 (before the writer): measure, lower the tier; `rejected` says why to quarantine. `cut`: the idle ends
    canonicalization already cut from `ep` (`idle_cut`, before its tier was assessed), recorded as measured."""
    notes = (TierVerdict.note(cut.reason(config), "qa_idle_cut"),) if cut.cuts else ()
    rec = measure_arrays(ep, config, workspace).model_copy(update=cut.record())  # what is written, idle as cut
    found = [f for f in episode_findings(rec, config) if not f.code.startswith("qa_cam_")]
    routed, rejected = _routed(replace(ep, verdicts=(*ep.verdicts, *notes)), found)
    return ArraysAssessed(BehaviourRecord(**rec.model_dump(exclude_none=True)), (*notes, *routed), found, rejected)


class FrameTap:
    """Thumbnails of the frames the writer encodes, per camera, taken as they pass (no second decode)."""

    def __init__(self) -> None:
        self.thumbs: dict[str, list[np.ndarray]] = {}

    def add(self, camera: str, frame: np.ndarray) -> None:
        self.thumbs.setdefault(camera, []).append(thumbnails(frame[None])[0])

    def cameras(
        self, config: BehaviourConfig, moving: np.ndarray, indices: dict[str, np.ndarray]
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
            rate = CANONICAL_FPS * len(starts) / n if n else CANONICAL_FPS
            out[name] = camera_behaviour_thumbs(np.stack(th[:n])[first], rate, config, moved)
        return out


def _moving(ep: CanonicalEpisode, workspace: Workspace | None) -> np.ndarray:
    """Frames where the robot moves: by the canonical state, else by the native state (an episode whose canonical
    dims could not be filled); none without either (a still scene in a video-only episode is not a frozen camera)."""
    state = np.asarray(ep.state, np.float64)
    moving = moving_frames(np.where(np.isfinite(state), state, 0.0), canonical_limits(ep.mask, workspace), MOVING_STEP)
    if not ep.mask.any() and ep.natives.state is not None:
        v = np.asarray(ep.natives.state, np.float64)
        v = np.where(np.isfinite(v), v, 0.0)
        moving = moving_frames(v, DimLimits.observed(v), MOVING_STEP)
    return moving


def assess_cameras(ep: JudgedEpisode, tap: FrameTap) -> Assessment:
    """Step 2 (after the writer's last frame): the camera checks on the tapped thumbnails, merged into `behaviour`
    and routed, in a new record; raises `BehaviourRejected` when one quarantines. `ep` as it is when nothing was
    tapped."""
    checks = ep.camera_checks
    if not tap.thumbs:
        return Assessment(ep, [], None)
    indices = {image_key(k): c.indices for k, c in ep.cameras.items()}
    cams = tap.cameras(checks.config, _moving(ep, checks.workspace), indices)
    behaviour = ep.behaviour.model_copy(update=worst_camera(list(cams.values())))
    found = [f for f in episode_findings(behaviour, checks.config) if f.code.startswith("qa_cam_")]
    routed, rejected = _routed(ep, found)
    if rejected:
        worst = max(cams, key=lambda k: (cams[k].frozen_fraction, cams[k].dark_fraction + cams[k].flat_fraction))
        raise BehaviourRejected(rejected, episode=ep.uid, feature=worst)
    return Assessment(replace(ep, behaviour=behaviour, verdicts=(*ep.verdicts, *routed)), found, None)
