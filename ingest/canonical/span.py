"""One time span of a raw episode on the 10 Hz grid, in named phases: the canonical episodes it keeps, or why not
(a `SpanRejection` value).

`canonicalize` finds the spans and builds the `EpisodeContext` every span shares; `canonicalize_span` runs the
phases, each filling the `Span` record, and cuts the kept frames into episodes (idle ends trimmed, each part saying
why it was cut), each with its source's default tier and the `Evidence` the judging step decides its tier on
(`ingest.qa.judge`; canonicalization never judges).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from adapters.base import CameraSource, HandSignals, RawEpisode, Stream
from ingest.canonical import resample as rs
from ingest.canonical.decouple import FORWARD_AXIS, as_opencv, decouple
from ingest.canonical.hand_state import (
    HandWindow,
    action_from_state,
    commanded_grippers,
    hand_block,
    hand_streams,
    in_window,
    streams_used,
    tracking_said,
    untracked_held,
    untracked_zero,
)
from ingest.canonical.idle import idle_cut
from ingest.canonical.joint_columns import NativeLimits
from ingest.canonical.natives import grid_natives, partial_windows
from ingest.canonical.posed import posed_camera
from ingest.canonical.validity import check_validity
from ingest.episode import CanonicalEpisode, Evidence, Natives, ResampledCamera, SpanRejection
from ingest.frames import pose_to_pos_rot6d
from schemas.canonical import CANONICAL_DIM, CANONICAL_FPS, NUM_KEYPOINTS, hand_dims
from schemas.canonicalize import CanonicalizeSpec, GapPolicy
from schemas.corpus import episode_uid
from schemas.lerobot import ActionSegment
from schemas.qa import ValidityReport
from schemas.robots.eef_offsets import eef_offset_for
from schemas.robots.joint_space import JointUnitsRecord
from schemas.robots.registry import Effector, Embodiment
from schemas.tiers import TierVerdict, source_default
from schemas.transform import RigidTransform


@dataclass(frozen=True)
class EpisodeContext:
    """What every span of one raw episode shares, built once by `canonicalize`."""

    raw: RawEpisode  # read only
    source: str  # the name the episodes are filed under
    spec: CanonicalizeSpec
    emb: Embodiment
    sig: HandSignals  # the hands as canonicalization evaluated them (FK, MANO, or the adapter's)
    wrists: dict[int, Stream]
    cams: dict[str, CameraSource]  # the cameras written, by their key in the dataset
    gaps: list[tuple[float, float]]
    reasons: tuple[TierVerdict, ...]  # the verdicts every episode carries: the raw episode's, then canonicalization's
    rows: np.ndarray | None = None  # a wall clock of rows with one camera frame each: sample at rows (`_grid`)
    joint_units: JointUnitsRecord | None = None  # the joint unit read and its fit (`ingest.canonical.joint_units`)
    native_limits: NativeLimits = field(default_factory=dict)  # the native arm joints' limits, for the behaviour QA
    hand_windows: dict[int, HandWindow] = field(default_factory=dict)  # human hands: each hand's own samples' window

    @property
    def human(self) -> bool:
        return self.emb.effector is Effector.human


@dataclass
class Span:
    """One span's arrays on the grid, filled phase by phase (`n` frames; dims per `schemas.canonical`)."""

    t_start: float
    t_end: float
    suffix: str  # `#span<k>` when the raw episode was split at gaps
    grid: np.ndarray  # seconds from t_start
    grid_abs: np.ndarray  # the source's own clock: where each frame samples the streams and cameras
    clock_abs: np.ndarray  # the grid's own times in the source's clock (`grid_abs` differs when it is at rows)
    row_clock: str | None  # why the grid is at rows (`grid_abs`), to each episode's lineage
    state: np.ndarray
    avail: np.ndarray  # (CANONICAL_DIM,) dims with a real value
    keypoints: np.ndarray
    tracked: np.ndarray  # (n, 2) bool: each hand tracked at the frame (`hand_state.hand_block`), NaN where not
    poses: dict[int, np.ndarray] = field(default_factory=dict)
    action: np.ndarray | None = None
    traj: np.ndarray | None = None  # ref_from_camera of a moving camera, OpenCV axes, as (n, 9) pos + rot6d
    mask: np.ndarray | None = None
    interp: np.ndarray | None = None
    validity: ValidityReport | None = None
    natives: Natives | None = None
    stream_windows: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # `natives.stream_window`
    cameras: dict[str, ResampledCamera] = field(default_factory=dict)
    eef_offset: str = ""  # which EEF offset moved the source's poses (`_hand_state`), or why none


def _short_why(ctx: EpisodeContext, rejected: str) -> str:
    """A span of human hands rejected for its length says where the hands are tracked in the recording: the cause the
    user can look at is the source's hand tracking, not this check (`tracking_said`)."""
    if not ctx.hand_windows or "min_length_frames" not in rejected:
        return rejected
    recording = [c.timestamps for c in ctx.cams.values()] + [s.timestamps for s in ctx.raw.states.values()]
    recording += [ctx.sig.camera.timestamps] if ctx.sig.camera is not None else []
    return f"{rejected}; {tracking_said(ctx.sig, ctx.wrists, recording)}"


def canonicalize_span(
    ctx: EpisodeContext, t_start: float, t_end: float, suffix: str
) -> list[CanonicalEpisode] | SpanRejection:
    span = _grid(ctx, t_start, t_end, suffix)
    if ctx.sig.canonical:
        _given_state(ctx, span)
    else:
        _hand_state(ctx, span)
    _mask_and_action(ctx, span)
    report = _validity(ctx, span)
    if report.rejected:
        return SpanRejection(t_start, t_end, _short_why(ctx, report.rejected), suffix)
    span.natives, span.stream_windows = grid_natives(ctx.raw, ctx.sig, ctx.cams, span.grid_abs, span.traj)
    span.cameras = _cameras_on_grid(ctx, span)
    keep = report.keep if report.keep else [(0, len(span.grid))]
    tags = [span.suffix + (f"#keep{j}" if len(keep) > 1 else "") for j in range(len(keep))]
    return [_episode(ctx, span, a, b, tag) for (a, b), tag in zip(keep, tags, strict=True)]


def _cut_reasons(ctx: EpisodeContext, span: Span, a: int, b: int) -> list[str]:
    """Why this episode is a part of its raw episode: the gaps it was split at, the frames validity dropped."""
    assert span.validity is not None
    out = []
    if span.suffix:
        out.append(f"cut at gaps over {ctx.spec.max_gap_s:g} s (span_s: where it lies in the raw episode)")
    n = len(span.grid)
    if (a, b) != (0, n) and span.validity.keep:
        flagged = ", ".join(f"{k} {v}" for k, v in span.validity.reasons.items() if v) or "none flagged"
        out.append(f"cut by validity: frames {a}..{b - 1} of the span's {n} kept (frames flagged: {flagged})")
    return out


def _grid(ctx: EpisodeContext, t_start: float, t_end: float, suffix: str) -> Span:
    grid = rs.make_grid(t_start, t_end)
    n = len(grid)
    sample_abs, row_clock = t_start + grid, None
    if ctx.rows is not None:  # every frame at one row: its image and its state recorded together
        sample_abs = ctx.rows[rs.nearest_at_or_before(ctx.rows, t_start + grid)]
        steps = np.diff(ctx.rows)
        row_clock = (
            f"rows on a wall clock ({steps.min():.3f}..{steps.max():.3f} s steps) with one camera frame each: "
            "each frame's image and state from the row at or before its time, never between rows"
        )
    return Span(
        t_start,
        t_end,
        suffix,
        grid,
        sample_abs,
        t_start + grid,
        row_clock,
        state=np.zeros((n, CANONICAL_DIM)),
        avail=np.zeros(CANONICAL_DIM, dtype=bool),
        keypoints=np.zeros((n, 2, NUM_KEYPOINTS, 3)),
        tracked=np.zeros((n, 2), dtype=bool),
    )


def _given_state(ctx: EpisodeContext, span: Span) -> None:
    """Canonical state (and action, keypoints) the hands declared as such: resampled as they are."""
    assert ctx.sig.canonical is not None
    st, ac, kp = ctx.sig.canonical
    g = span.grid_abs
    span.state = rs.resample_linear(st.timestamps, st.values.astype(np.float64), g)
    # a dim is real when any of its values is (NaN frames stay visible to validity instead of masking the dim)
    span.avail = np.nanmax(np.where(np.isfinite(span.state), np.abs(span.state), 0.0), axis=0) > 0
    if ac is not None:
        span.action = rs.resample_linear(ac.timestamps, ac.values.astype(np.float64), g)
    if kp is not None:
        span.keypoints = rs.resample_linear(kp.timestamps, kp.values.astype(np.float64), g)


def _hand_state(ctx: EpisodeContext, span: Span) -> None:
    """Each hand's 25-dim block from its wrist poses: in the frame of a decoupled moving camera when there is one,
    moved to the canonical wrist by the embodiment's EEF offset."""
    sig, raw = ctx.sig, ctx.raw
    ref = None
    if sig.camera is not None:
        cam_poses = rs.resample_poses(sig.camera.timestamps, sig.camera.values.astype(np.float64), span.grid_abs)
        conv = sig.camera_convention  # the heading is where the camera looks: its forward axis is the source's
        _, ref_from_cam, ref = decouple(cam_poses, cam_poses, sig.up_world, FORWARD_AXIS[conv])
        span.traj = pose_to_pos_rot6d(as_opencv(ref_from_cam, conv)).astype(np.float32)
    offset, why = (
        eef_offset_for(ctx.emb.name, raw.ref.subset, raw.ref.source, sig.recorded_point)
        if sig.apply_offset and not sig.empty
        else (RigidTransform.identity(), "no source EEF pose to move (canonical already, or none): no offset")
    )
    span.eef_offset = why
    for hand in (0, 1):
        block, hav, kp, p, tracked = hand_block(sig, ctx.wrists, hand, span.grid_abs, offset, ref)
        span.state[:, hand_dims(hand, slice(0, 25))] = block
        span.avail[hand_dims(hand, slice(0, 25))] = hav
        span.keypoints[:, hand] = kp
        window = ctx.hand_windows.get(hand)  # outside it, its streams' values are clamped ends, never measured
        span.tracked[:, hand] = tracked if window is None else tracked & in_window(window, span.grid_abs)
        if p is not None:
            span.poses[hand] = p


def _mask_and_action(ctx: EpisodeContext, span: Span) -> None:
    """The embodiment's mask narrowed to the real dims, the action (state deltas unless given), the frames that were
    interpolated, and gaps made non-finite when the policy invalidates them."""
    mask = ctx.emb.mask() & span.avail
    span.state[:, ~mask] = 0.0  # only dims outside the mask: NaN inside it is left for validity to flag
    for hand in (0, 1):
        dims = mask[hand_dims(hand, slice(0, 25))]
        if ctx.sig.canonical:  # a given state: a hand is tracked where its dims are finite
            span.tracked[:, hand] = np.isfinite(span.state[:, hand_dims(hand, slice(0, 25))][:, dims]).all(axis=1)
        span.tracked[:, hand] &= dims.any()
    if span.action is None:  # state deltas; a gripper recorded only as its command: that command (`hand_state`)
        action = commanded_grippers(action_from_state(span.state, span.poses, span.tracked), ctx.sig, span.grid_abs)
    else:
        action = span.action
    action[:, ~mask] = 0.0
    interp = np.zeros(len(span.grid), dtype=bool)
    tol = ctx.spec.interpolation_tolerance_s
    per_hand = {id(s): h for h, streams in hand_streams(ctx.sig, ctx.wrists).items() for s in streams}
    for s in streams_used(ctx.sig, ctx.wrists):
        made_up = rs.interpolated_mask(s.timestamps, span.clock_abs, tol)
        hand = per_hand.get(id(s)) if ctx.hand_windows else None  # a hand outside its window makes up nothing
        interp |= made_up if hand is None else made_up & span.tracked[:, hand]
    if ctx.gaps and ctx.spec.gap_policy is GapPolicy.invalidate:
        # nothing was measured there: make the frames non-finite so validity drops (or masks) them like any glitch
        in_gap = rs.gap_mask(span.clock_abs, ctx.gaps)
        span.state[np.ix_(in_gap, mask)] = np.nan
        action[np.ix_(in_gap, mask)] = np.nan
        span.tracked[in_gap] = False
    span.mask, span.action, span.interp = mask, action, interp


def _validity(ctx: EpisodeContext, span: Span) -> ValidityReport:
    assert span.mask is not None and span.action is not None
    confidence = None
    if any(h.confidence is not None for h in ctx.sig.hands.values()):
        confidence = np.ones((len(span.grid), 2))
        for hand, h in ctx.sig.hands.items():
            if h.confidence is not None:
                confidence[:, hand] = rs.resample_linear(h.confidence.timestamps, h.confidence.values, span.grid_abs)
    report = check_validity(
        span.state.astype(np.float32),
        mask=span.mask,
        timestamps=span.grid,
        embodiment=ctx.emb.name,
        config=ctx.spec.validity.keeping_short(ctx.raw.keep_short),
        action=span.action.astype(np.float32),
        keypoints=span.keypoints if ctx.human else None,
        confidence=confidence,
        human=ctx.human,
        # a human hand untracked in a frame leaves the other hand's; a robot's non-finite arm is a defect of its frame
        hand_valid=span.tracked if ctx.human else None,
    )
    span.validity = report
    return report


def _cameras_on_grid(ctx: EpisodeContext, span: Span) -> dict[str, ResampledCamera]:
    """Each camera's frame at or before each grid time, and how its frames are fitted to the stored size."""
    return {
        name: ResampledCamera(
            c,
            rs.nearest_at_or_before(c.timestamps, span.grid_abs),
            ctx.spec.image.resolve(ctx.source, name).plan((c.height, c.width)),
        )
        for name, c in ctx.cams.items()
    }


def _episode(ctx: EpisodeContext, span: Span, a: int, b: int, tag: str) -> CanonicalEpisode:
    """Frames [a, b) of the span as an episode (`tag` names it among the raw episode's), its idle ends cut (a cut,
    like validity's: `ingest.canonical.idle.idle_cut`), with its source's default tier, the notes of how it was made,
    and what the judging step decides its tier on (`Evidence`): canonicalization measures, it never judges."""
    raw, spec, mask, nat, ref = ctx.raw, ctx.spec, span.mask, span.natives, ctx.raw.ref
    assert mask is not None and span.action is not None and span.interp is not None and nat is not None
    assert span.validity is not None
    part, cuts = (a, b), _cut_reasons(ctx, span, a, b)
    workspace = spec.validity.limits_for(ctx.emb.name).workspace
    held = untracked_held(span.state, span.tracked)  # a hand's untracked frames hold its last values, for the QA
    idle = idle_cut(held[a:b], mask, spec.behaviour, workspace, _state_natives(ctx, span, a, b))
    a, b = a + idle.start, a + idle.stop
    m = b - a
    sub_t0 = span.t_start + a / CANONICAL_FPS
    state = held[a:b].astype(np.float32)
    return CanonicalEpisode(
        uid=episode_uid(ctx.source, raw.ref.subset, raw.ref.raw_id) + tag,
        source=ctx.source,
        subset=raw.ref.subset,
        raw_id=raw.ref.raw_id + tag,
        raw_path=raw.ref.paths[0] if raw.ref.paths else "",
        embodiment=ctx.emb.name,
        mask=mask,
        timestamps=(np.arange(m) / CANONICAL_FPS),
        state=state,
        action=untracked_zero(span.action[a:b], span.tracked[a:b]).astype(np.float32),
        keypoints=untracked_zero(span.keypoints[a:b], span.tracked[a:b]).astype(np.float32),
        hand_valid=span.tracked[a:b].copy(),
        interpolated=span.interp[a:b],
        task=_task_text(raw),
        # every lowering a verdict with its code: the adapter's verdicts as it gave them (a simulation lowers its
        # default), then canonicalization's notes (units read, hands built, cuts: issue 59, notes kept apart from the
        # reasons), then a default below high (an adapter's option `tier`) as its verdict, so a curator overrules it
        # by its code (issue 77)
        verdicts=(
            *ctx.reasons,
            *(TierVerdict.note(c, "canonical_cut") for c in cuts),
            *source_default(raw.tier, f"source default {raw.tier.value}: its adapter's option `tier`"),
        ),
        native_fps=raw.native_fps,
        success=raw.success,
        cameras={k: ResampledCamera(c.source, c.indices[a:b], c.fit) for k, c in span.cameras.items()},
        natives=nat.frames(a, b),
        action_config=_segments(raw, raw.native_fps, sub_t0, m) or None,
        span_s=(sub_t0, sub_t0 + (m - 1) / CANONICAL_FPS),
        validity=dict(span.validity.reasons),
        joint_units=ctx.joint_units,
        native_limits=ctx.native_limits,
        annotation=raw.annotation,
        source_findings=[f.line() for f in raw.findings if f.concerns(ref.subset, ref.raw_id)],
        notes=list(ctx.sig.notes),
        eef_offset=span.eef_offset,
        row_clock=span.row_clock,
        native_windows=partial_windows(span.clock_abs, span.stream_windows, a, b),
        clock=raw.clock,
        evidence=Evidence(
            validity=span.validity,
            idle=idle,
            span=(span.t_start, span.t_end, span.suffix),
            part=part,
            tag=tag,
            limits=spec.validity.limits_for(ctx.emb.name),
            keypoint_slots=None if ctx.human else ctx.emb.keypoint_slots(mask),
            camera=posed_camera(
                ctx.raw, ctx.sig, ctx.wrists, span.cameras, None if span.traj is None else span.traj[a:b]
            ),
        ),
    )


def _state_natives(ctx: EpisodeContext, span: Span, a: int, b: int) -> np.ndarray | None:
    """Frames [a, b) of the native columns of the raw episode's states (its signals, a reward or a done flag, are
    no motion): what idle is measured on when no canonical dim is in use."""
    nat = span.natives
    if nat is None or nat.state is None:
        return None
    keys = tuple(f"{k}." for k in ctx.raw.states)
    cols = [i for i, n in enumerate(nat.state_names) if n.startswith(keys)]
    return nat.state[a:b, cols] if cols else None


def _task_text(raw: RawEpisode) -> str:
    kinds = ("instruction", "narration", "description", "summary")  # the first kind with a text wins
    return next((x.text.strip() for k in kinds for x in raw.language if x.kind == k and x.text.strip()), "")


def _segments(raw: RawEpisode, native_fps: float | None, start_s: float, n: int) -> list[ActionSegment]:
    out = []
    for seg in raw.action_config or []:
        if not native_fps:
            break
        a = max(0, round((seg.start_frame / native_fps - start_s) * CANONICAL_FPS))
        b = min(n, round((seg.end_frame / native_fps - start_s) * CANONICAL_FPS))
        if b > a:
            extra = seg.model_extra or {}
            out.append(ActionSegment(start_frame=a, end_frame=b, action_text=seg.action_text, **extra))
    return out
