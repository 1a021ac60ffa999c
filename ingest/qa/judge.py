"""The judging step: each canonical episode's tier decided from what canonicalization measured of it (its
`Evidence`) and what the quality, geometry and behaviour checks find, each decision a `TierVerdict` appended to the
episode. Its tier is `schemas.tiers.tier_of` those verdicts, never assigned, so one function decides every tier.

Two moments, so no frame is decoded twice: the arrays when canonicalization hands the episodes over (`judge`), the
cameras while the stage step encodes them (`CameraJudge`, the tap the writer feeds each frame; its verdicts are
appended after the last frame, before the lineage is written). A behaviour finding that quarantines a part of a span
is named in the kept parts' reasons and gets its own quarantine row (`QuarantinedPart`); a span whose every part is
quarantined comes back as a `SpanRejection`, as validity's do.
"""

from __future__ import annotations

import numpy as np

from ingest.episode import CanonicalEpisode, Canonicalized, QuarantinedPart, SpanRejection
from ingest.qa.dataset import episode_verdicts
from ingest.qa.geometry import measure
from ingest.qa.phase import FrameTap, assess_arrays, assess_cameras
from ingest.qa.projection import CameraView
from ingest.qa.quality import assess_quality
from schemas.actions import ActionKind
from schemas.canonical import CANONICAL_FPS
from schemas.canonicalize import CanonicalizeSpec
from schemas.tiers import TierVerdict


def judge(result: Canonicalized, spec: CanonicalizeSpec) -> Canonicalized:
    """The episodes canonicalization kept, judged: verdicts appended, the quarantined parts of a span named in its
    kept parts, a span with no part left a rejection (after the short-part one, then in span order, as before)."""
    spans: dict[tuple[float, float, str], list[tuple[CanonicalEpisode, str | None]]] = {}
    for ep in result.episodes:
        assert ep.evidence is not None, f"{ep.uid}: no evidence to judge (not made by canonicalization)"
        spans.setdefault(ep.evidence.span, []).append((ep, judge_arrays(ep, spec)))
    kept: list[CanonicalEpisode] = []
    rejections = list(result.rejections)
    for (t0, t1, suffix), parts in spans.items():
        dropped, quarantined = [], []
        for ep, rejected in parts:
            if rejected is not None:
                assert ep.evidence is not None
                (a, b), tag = ep.evidence.part, ep.evidence.tag
                dropped.append(f"frames {a}..{b - 1} of the span rejected: {rejected}")
                quarantined.append(QuarantinedPart(tag, f"frames {a}..{b - 1} of the span: {rejected}"))
        survivors = [ep for ep, rejected in parts if rejected is None]
        if not survivors:
            rejections.append(SpanRejection(t0, t1, "; ".join(dropped), suffix, stage="judge"))
        for ep in survivors:
            ep.verdicts.extend(TierVerdict.note(d) for d in dropped)
            ep.quarantined_parts = tuple(quarantined)
        kept += survivors
    rejections.sort(key=lambda r: (r.tag != "#short", r.start_s))
    return Canonicalized(kept, rejections, result.reasons)


def judge_arrays(ep: CanonicalEpisode, spec: CanonicalizeSpec) -> str | None:
    """One episode's arrays judged: the quality verdicts (the source's default lowered by failure, missing actions
    (a native command that moves is an action: `schemas.actions`), idle and oscillation), geometry QA as a record
    (judged per dataset, `eidata validate`; its hand projection bounds also per episode), the idle cut as a note,
    then the behaviour findings. Why to quarantine it, or None."""
    ev = ep.evidence
    assert ev is not None
    quality = assess_quality(
        ep.default_tier,
        success=ep.success,
        has_action=ep.has_action,  # a robot without a description: its native command is its action
        native_action=ep.action_native_names if ep.action_kind is ActionKind.native else None,
        no_action_cause=next((v.reason for v in ep.verdicts if v.reason.startswith("no canonical dims")), None),
        state=ep.state,
        mask=ep.mask,
        validity=ev.validity,
        config=spec.quality,
        fps=CANONICAL_FPS,
    )
    ep.verdicts.extend(quality.verdicts)
    cam = ev.camera
    view = None if cam is None else CameraView.from_trajectory(cam.lens, cam.trajectory, cam.hands_past_video)
    ep.qa = measure(
        ep.state,
        ep.action,
        ep.keypoints,
        ep.mask,
        fps=CANONICAL_FPS,
        limits=ev.limits,
        config=spec.qa,
        camera=view,
        keypoint_slots=ev.keypoint_slots,
        hand_valid=ep.hand_valid,
    )
    ep.qa_config = spec.qa
    ep.verdicts.extend(episode_verdicts(ep.qa, spec.qa))  # hands out of the picture, hands past the video
    return assess_arrays(ep, CANONICAL_FPS, spec.behaviour, ev.limits.workspace, cut=ev.idle).rejected


class CameraJudge:
    """The camera checks as a tap on the frames the writer encodes (`ingest.canonical.store.FrameCheck`): a
    thumbnail of each frame as it passes, the checks after the last, their verdicts appended before the lineage is
    written; `finish` raises `BehaviourRejected` for a finding that quarantines."""

    def __init__(self, ep: CanonicalEpisode, fps: float = CANONICAL_FPS) -> None:
        self.ep, self.fps, self.tap = ep, fps, FrameTap()

    def add(self, camera: str, frame: np.ndarray) -> None:
        self.tap.add(camera, frame)

    def finish(self) -> None:
        assess_cameras(self.ep, self.tap, self.fps)


def camera_judge(ep: CanonicalEpisode) -> CameraJudge | None:
    """The tap for `ep`'s cameras, or None when the behaviour phase did not run on it (nothing to measure against)."""
    return CameraJudge(ep) if ep.camera_checks is not None else None
