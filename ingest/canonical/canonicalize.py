"""`canonicalize_spans(raw, spec)`: one `RawEpisode` in, zero or more `CanonicalEpisode`s out (DESIGN.md sections 3-4).

Steps: build the wrist poses the adapter declared in `RawEpisode.hands`, find the common time span and its gaps,
resample onto the 10 Hz grid (positions linearly, rotations by SLERP, gripper by hold, video by the frame at or before),
move source EEF poses to the canonical wrist (embodiment offsets), decouple a moving camera, build the 50-dim state,
recompute deltas for the action, check validity and cut the kept spans into episodes (never judged here: each span's
phases and the evidence the judging step reads are in `span.py`). Native vectors (and a moving camera's trajectory,
`camera.{x,y,z,rot6d_*}` ref_from_camera in OpenCV axes) are kept beside the canonical ones; an episode whose canonical
dims cannot be filled is still written, natives and cameras, with the first specific cause as its first tier reason
(`_no_canonical_dims`); only an episode with nothing at all raises, saying what was looked for. Pure: no I/O beyond the
lazy camera reads the writer drives, and the raw episode is left as it came. A span validity rejects comes back as a
value (`Canonicalized.rejections`), as datatrove's filters answer keep or drop with a reason and leave the writing of
the rejects to the step around them (the ingest worker and its quarantine writer). No adapter is known by name here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

import numpy as np

from adapters.base import CameraSource, HandSignals, RawEpisode, Stream
from ingest.canonical import resample as rs
from ingest.canonical.eef_agreement import fk_agreement, reference_agreement
from ingest.canonical.family import resolve_family
from ingest.canonical.hand_state import HandWindow, hand_windows, streams_used, uncovered, wrist_poses
from ingest.canonical.joint_space import EvaluatedHands, joint_space_hands
from ingest.canonical.mano.evaluate import mano_hands
from ingest.canonical.natives import (
    MAX_NATIVE_STREAM_DIMS,
    MAX_NATIVE_VECTOR_DIMS,
    check_native_width,
    native_streams,
    stream_width,
    too_wide,
)
from ingest.canonical.span import EpisodeContext, canonicalize_span
from ingest.episode import CanonicalEpisode, Canonicalized, SpanRejection
from schemas.actions import NotCanonical
from schemas.canonical import IMAGE_PREFIX, Camera
from schemas.canonicalize import CanonicalizeSpec, GapPolicy
from schemas.robots.registry import JOINT_SPACE, Effector, EmbodimentRegistry, default_registry
from schemas.tiers import QualityTier, TierVerdict, reasons_of

NO_CANONICAL_DIMS = "no canonical dims"  # how the note on an episode without a canonical dim begins


def _notes(said: Iterable[str], code: str = "canonical_hands") -> list[TierVerdict]:
    """Canonicalization's sentences as notes (they lower nothing), each with the code of the check that gave it."""
    return [TierVerdict.note(r, code) for r in said]


def _left_out(raw: RawEpisode, reasons: list[TierVerdict]) -> TierVerdict | None:
    """Numeric streams too wide for `*.native`, named in a tier reason (nothing is dropped without a word)."""
    wide = [
        f"{k} ({stream_width(s)} dims)"
        for k, s in sorted({**raw.outcomes, **raw.signals, **raw.states, **raw.actions}.items())
        if k not in raw.derived and s.values.dtype.kind in "fiub" and too_wide(s)
    ]
    limits = f"vectors over {MAX_NATIVE_VECTOR_DIMS}, tensors over {MAX_NATIVE_STREAM_DIMS} dims"
    reason = f"not kept as natives ({limits}): "
    if wide and not any(r.reason.startswith(reason) for r in reasons):
        return TierVerdict.note(reason + ", ".join(wide), "canonical_too_wide")
    return None


def _cameras(raw: RawEpisode, spec: CanonicalizeSpec) -> dict[str, CameraSource]:
    """The cameras written: each in its canonical slot, a camera without one under its own name
    (`native_camera_name`) unless `spec.cameras` picks slots; never dropped without a word."""
    cams: dict[str, CameraSource] = {}
    for c in raw.cameras.values():
        if c.canonical is not None and (spec.cameras is None or c.canonical in spec.cameras) and len(c):
            cams[c.canonical.value] = c
    for c in raw.cameras.values():
        if c.canonical is None and spec.cameras is None and len(c):
            cams[native_camera_name(c.name, set(cams))] = c
    return cams


def native_camera_name(name: str, taken: set[str]) -> str:
    """A camera's own key in the canonical dataset: its source name without `observation.images.`, in
    `[a-z0-9_]`, never a vocabulary slot's name nor one already taken."""
    base = re.sub(r"[^a-z0-9_]+", "_", name.removeprefix(IMAGE_PREFIX).lower()).strip("_") or "camera"
    out = base if base not in {c.value for c in Camera} else f"native_{base}"
    k = 1
    while out in taken:
        k += 1
        out = f"{base}_{k}"
    return out


def _no_canonical_dims(
    raw: RawEpisode,
    reasons: list[TierVerdict],
    sig: HandSignals,
    natives: list[tuple[str, Stream]],
    cams: dict[str, CameraSource],
) -> list[TierVerdict]:
    """`reasons` with why an episode has no canonical dim first: the first note naming a cause (`NotCanonical`: names
    that did not resolve, units that did not fit, an unknown robot, no observation), else the signals' note, said once
    (the cause's own verdict gives way to it, its code kept: the lineage, the catalog and the ingest summary read the
    cause by it). Raises ValueError, with the same cause and what was looked for, when there is nothing at all to
    write."""
    if reasons and reasons[0].reason.startswith(NO_CANONICAL_DIMS):
        return reasons
    # the cause is a note: a verdict that lowers (a source's default, a simulation) keeps its tier and its code; a note
    # of another check (a family member chosen, a cut) is no cause
    causes = {c.value for c in NotCanonical}
    said = next((r for r in reasons if r.tier is QualityTier.high and r.code in causes), None)
    code, cause = (said.code, said.reason) if said is not None else _no_signal(raw, sig, natives)
    if not natives and not cams:
        what = "no hand signals, no camera, no numeric state or action column"
        skipped = [k for k, s in [*raw.states.items(), *raw.actions.items()] if not len(s)]
        raise ValueError(
            f"{raw.ref.uid}: nothing to canonicalize ({what}{f'; empty: {skipped}' if skipped else ''}): {cause}"
        )
    kept = f"{sum(stream_width(s) for _, s in natives)} native dims and {len(cams)} camera(s) kept"
    first = f"{NO_CANONICAL_DIMS} ({kept}): {cause}"  # the cause in its recorder's words, said here once
    return [TierVerdict.note(first, code), *(r for r in reasons if r is not said)]


def _no_signal(raw: RawEpisode, sig: HandSignals, natives: list[tuple[str, Stream]]) -> tuple[str, str]:
    """(code, cause) of no canonical dim where no note named one: the signals' first note, else what the user can fix,
    a robot's natives whose robot has no description here (issue 79: Kuavo's joints, read with `joints: kuavo`, gave
    18 canonical dims once the source named `embodiment: kuavo_4pro_long`, yet the message said only that no hand
    signal was declared)."""
    if sig.notes:
        return NotCanonical.no_hand_signal.value, sig.notes[0]
    cause = "the source declares no hand signal"
    if natives and raw.embodiment not in JOINT_SPACE:
        known = ", ".join(sorted(JOINT_SPACE))
        cause += (
            f", and its robot (embodiment {raw.embodiment!r}) has no registered description: name it with the "
            f"source's `embodiment:` option (one of {known}) and its joints fill the canonical dims"
        )
        return NotCanonical.no_description.value, cause
    return NotCanonical.no_hand_signal.value, cause


def canonicalize_spans(
    raw: RawEpisode,
    spec: CanonicalizeSpec | None = None,
    registry: EmbodimentRegistry | None = None,
    *,
    source: str | None = None,
) -> Canonicalized:
    """Every span of `raw`, kept as canonical episodes or rejected with its reason.

    `source` is the name the episodes are filed under (a job's source name; default: the adapter's)."""
    ctx, (t0, t1) = _context(raw, spec or CanonicalizeSpec(), registry, source or raw.ref.source)
    spec = ctx.spec
    spans = [(t0, t1)]
    rejections: list[SpanRejection] = []
    if ctx.gaps and spec.gap_policy is GapPolicy.split:
        pieces = rs.segments_without_gaps(t0, t1, ctx.gaps)
        spans = [(a, b) for a, b in pieces if b - a >= spec.min_episode_s]
        if short := [(a, b) for a, b in pieces if b - a < spec.min_episode_s]:  # named, never dropped without a word
            longest = max(b - a for a, b in ctx.gaps)
            gaps = f"{len(ctx.gaps)} gap(s) longer than {spec.key('max_gap_s')} {spec.max_gap_s} s"
            gaps += f" (the longest {longest:.3f} s)"
            why = f"{len(short)} part(s) shorter than {spec.key('min_episode_s')} {spec.min_episode_s} s between {gaps}"
            rejections.append(SpanRejection(short[0][0], short[-1][1], why, "#short"))
    episodes: list[CanonicalEpisode] = []
    for k, (a, b) in enumerate(spans):
        out = canonicalize_span(ctx, a, b, f"#span{k}" if len(spans) > 1 else "")
        if isinstance(out, SpanRejection):
            rejections.append(out)
        else:
            episodes += out
    return Canonicalized(tuple(episodes), tuple(rejections), tuple(reasons_of(ctx.reasons)))


def _context(
    raw: RawEpisode, spec: CanonicalizeSpec, registry: EmbodimentRegistry | None, source: str
) -> tuple[EpisodeContext, tuple[float, float]]:
    """What every span shares, and the time span the spans are cut from (`_core`)."""
    raw, member = resolve_family(raw, registry or default_registry())  # a family's member from the recording
    emb = (registry or default_registry()).get(raw.embodiment)
    # joint angles -> wrists by FK; declared MANO parameters -> keypoints
    hands = joint_space_hands(raw, emb) if raw.hands.empty else EvaluatedHands(mano_hands(raw))
    sig = hands.signals
    reasons = [*raw.verdicts, *_notes(member, "canonical_family"), *_notes(hands.reasons, hands.code)]
    wrists = {hand: w for hand, track in sig.hands.items() if (w := wrist_poses(track)) is not None}
    # a recorded pose and a description: do they tell the same motion (a reference: a pose not read as the wrist)
    reasons += [*fk_agreement(raw, emb, wrists), *reference_agreement(raw.hands.references, wrists)]
    cams = _cameras(raw, spec)
    state_natives = native_streams({**raw.signals, **raw.states}, raw.derived)
    action_natives = native_streams(raw.actions, raw.derived)
    outcome_natives = native_streams({k: s for k, s in raw.outcomes.items() if k not in raw.states}, raw.derived)
    check_native_width("state", state_natives)
    check_native_width("action", action_natives)
    check_native_width("outcome", outcome_natives)
    natives = state_natives + action_natives + outcome_natives
    if sig.empty and sig.camera is None and (natives or not cams):  # video-only sources: nothing was lost
        reasons = _no_canonical_dims(raw, reasons, sig, natives, cams)
    wide = _left_out(raw, reasons)
    reasons = reasons if wide is None else [*reasons, wide]
    # human hands each over their own window (a hand seen late or lost a while cuts nothing of the other's)
    windows = hand_windows(sig, wrists, spec.max_gap_s) if emb.effector is Effector.human else {}
    cam_t = [c.timestamps for c in cams.values()]
    if windows:
        rig = [sig.camera.timestamps] if sig.camera is not None else []
        (t0, t1), gaps = _hands_span(windows, rig + cam_t, spec.max_gap_s)
    else:
        hand_t = [s.timestamps for s in streams_used(sig, wrists)]
        states_t = [s.timestamps for k, s in state_natives if k in raw.states] or None
        (t0, t1), gaps = _core(hand_t, states_t, cam_t, [s.timestamps for _, s in natives], spec.max_gap_s)
        recording = [*cam_t, *(s.timestamps for _, s in natives)]
        reasons += _notes(_span_cut((t0, t1), recording, _core_said(hand_t, states_t, cam_t), spec), "canonical_span")
    rows = _row_clock([*streams_used(sig, wrists), *(s for _, s in natives)], cams)
    ctx = EpisodeContext(
        raw, source, spec, emb, sig, wrists, cams, gaps, tuple(reasons), rows, hands.joint_units, hands.native_limits
    )
    return replace(ctx, hand_windows=windows), (t0, t1)


def _hands_span(
    windows: dict[int, HandWindow], rig: list[np.ndarray], max_gap_s: float
) -> tuple[tuple[float, float], list[tuple[float, float]]]:
    """The span of human hands: from the first hand's first sample to the last hand's last, within the span the
    moving camera's poses and the cameras cover together; cut where no hand has a sample for over `max_gap_s` or the
    camera has a gap. A hand outside its own window or in its own gap is untracked there (`span._hand_state`)."""
    start, end = min(w[0] for w in windows.values()), max(w[1] for w in windows.values())
    if rig:
        a, b = rs.common_span(rig)
        if max(start, a) > min(end, b):
            raise ValueError(f"the hands' samples ({start}..{end} s) and the camera's ({a}..{b} s) do not overlap")
        start, end = max(start, a), min(end, b)
    gaps = {g for g in uncovered(windows, start, end) if g[1] - g[0] > max_gap_s}
    gaps |= {g for t in rig for g in rs.find_gaps(t, max_gap_s)}
    return (start, end), sorted(gaps)


def _core(
    hands: list[np.ndarray],
    states: list[np.ndarray] | None,
    cams: list[np.ndarray],
    natives: list[np.ndarray],
    max_gap_s: float,
) -> tuple[tuple[float, float], list[tuple[float, float]]]:
    """The span an episode's core streams set, and their gaps longer than `max_gap_s` (where it is cut).

    The core: the streams the hands are built from (with the cameras: their common span, as every row of such a
    source holds both); else the source's state natives (the robot's own state), over the span any of them covers,
    a gap where none has a sample; else the cameras' common span; else every native, as the states. A stream that is
    not core never narrows nor cuts the span: it is written over its own window (`natives.partial_windows`). So a
    controller that hands over from one JointState topic to another midway, or a status topic at 1 Hz beside joint
    states at 100 Hz, keeps the recording whole, where the common span of every topic left nothing or a part (a real
    ROS bag: /parameter_events only in its first 0.3 s, /rosout at 8.7..9.3 s; the real sample rosbag_ats)."""
    if hands or (cams and not states):
        core = hands + cams
        return rs.common_span(core), sorted({g for t in core for g in rs.find_gaps(t, max_gap_s)})
    pool = states or natives
    if not pool:
        return rs.common_span(pool), []  # raises: nothing sets a span
    merged = np.sort(np.concatenate([rs.validate_timestamps(t) for t in pool]))
    return (float(merged[0]), float(merged[-1])), rs.find_gaps(merged, max_gap_s)


def _core_said(hands: list[np.ndarray], states: list[np.ndarray] | None, cams: list[np.ndarray]) -> str:
    """What set the span, in `_core`'s order."""
    if hands:
        cameras = " and the cameras" if cams else ""
        return f"the common span of the streams the hands are built from{cameras} (the joint space notes name them)"
    if cams and not states:
        return "the cameras' common span"
    return "the span the state streams cover" if states else "the span the natives cover"


def _span_cut(span: tuple[float, float], recording: list[np.ndarray], core: str, spec: CanonicalizeSpec) -> list[str]:
    """Why the span is shorter than the recording, in seconds (issue 97: a real Franka bag's 59.5 s were cut to the
    22 s of the JointState its forward kinematics followed, and nothing said so): said where the span (`_core`, set
    by `core`) leaves more than `max_gap_s` of the recording's streams (natives and cameras) out at an end; a shorter
    margin is within what canonicalization counts as continuous."""
    seen = [t for t in recording if len(t)]
    if not seen:
        return []
    r0, r1 = min(float(t[0]) for t in seen), max(float(t[-1]) for t in seen)
    t0, t1 = span
    if t0 - r0 <= spec.max_gap_s and r1 - t1 <= spec.max_gap_s:
        return []
    return [
        f"span cut: {t0:.2f}..{t1:.2f} s kept of the recording's {r0:.2f}..{r1:.2f} s ({t1 - t0:.1f} of {r1 - r0:.1f} "
        f"s): {core}; the other streams are written over it only"
    ]


ROW_JITTER_S = 1e-3  # row steps that differ by more are a wall clock (frame_index / fps steps differ by float noise)


def _row_clock(streams: list[Stream], cams: dict[str, CameraSource]) -> np.ndarray | None:
    """The rows' timestamps when a camera holds one frame per row of a stream (the hands' or a native) and those
    rows run on a wall clock (steps that jitter: a recorder writing time.time() with each image, the real bimanual
    SO-101 set's 0.050..0.063 s): each grid frame then takes its image and its state from one row, the row at or
    before it (`span._grid`), where interpolating the state between rows would pair it with the earlier row's image.
    Regular rows (frame_index / fps) keep the interpolation: their grid times fall on rows or evenly between them."""
    for c in cams.values():
        for s in streams:
            if len(s) == len(c) > 2 and np.array_equal(s.timestamps, c.timestamps):
                steps = np.diff(s.timestamps)
                if steps.max() - steps.min() > ROW_JITTER_S:
                    return np.asarray(s.timestamps, np.float64)
    return None
