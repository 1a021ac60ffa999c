"""The judging: each canonical episode's tier decided from what canonicalization measured of it (its `Evidence`) and
what the quality, geometry and behaviour checks find, each decision a `TierVerdict` added to a new record of the
episode (records are frozen). Its tier is `schemas.tiers.tier_of` those verdicts, never assigned, so one function
decides every tier.

Two moments, so no frame is decoded twice (both steps of `ingest.steps.STEPS`): the arrays when canonicalization
hands the episodes over (`judge`), the cameras on the thumbnails the write step took of each frame it encoded
(`judge_cameras`, before the lineage is written). A behaviour finding that quarantines a part of a span is named in
the kept parts' reasons and gets its own quarantine row (`QuarantinedPart`); a span whose every part is quarantined
comes back as a `SpanRejection`, as validity's do.
"""

from __future__ import annotations

from dataclasses import replace

from ingest.episode import (
    CameraChecks,
    CanonicalEpisode,
    Canonicalized,
    Judged,
    JudgedEpisode,
    QuarantinedPart,
    SpanRejection,
)
from ingest.qa.dataset import episode_verdicts
from ingest.qa.geometry import CameraView, measure
from ingest.qa.phase import Assessment, FrameTap, assess_arrays, assess_cameras
from ingest.qa.quality import assess_quality
from schemas.actions import ActionKind
from schemas.canonicalize import CanonicalizeSpec
from schemas.tiers import QualityTier, TierVerdict


def judge(result: Canonicalized, spec: CanonicalizeSpec) -> Judged:
    """The episodes canonicalization kept, judged: each a new record with its verdicts, the quarantined parts of a
    span named in its kept parts, a span with no part left a rejection (after the short-part one, then in span order,
    as before). `result` is left as it was."""
    spans: dict[tuple[float, float, str], list[Assessment]] = {}
    for ep in result.episodes:
        spans.setdefault(ep.evidence.span, []).append(judge_arrays(ep, spec))
    kept: list[JudgedEpisode] = []
    rejections = list(result.rejections)
    for (t0, t1, suffix), parts in spans.items():
        dropped, quarantined = [], []
        for part in parts:
            if part.rejected is not None:
                (a, b), tag = part.episode.evidence.part, part.episode.evidence.tag
                dropped.append(f"frames {a}..{b - 1} of the span rejected: {part.rejected}")
                quarantined.append(QuarantinedPart(tag, f"frames {a}..{b - 1} of the span: {part.rejected}"))
        survivors = [part.episode for part in parts if part.rejected is None]
        if not survivors:
            rejections.append(SpanRejection(t0, t1, "; ".join(dropped), suffix, stage="judge"))
        notes = tuple(TierVerdict.note(d) for d in dropped)
        kept += [replace(ep, verdicts=(*ep.verdicts, *notes), quarantined_parts=tuple(quarantined)) for ep in survivors]
    rejections.sort(key=lambda r: (r.tag != "#short", r.start_s))
    return Judged(tuple(kept), tuple(rejections), result.reasons)


def judge_arrays(ep: CanonicalEpisode, spec: CanonicalizeSpec) -> Assessment:
    """One episode's arrays judged: the quality verdicts (the source's default lowered by failure, missing actions
    (a native command that moves is an action: `schemas.actions`), idle and oscillation), geometry QA as a record
    (judged per dataset, `eidata validate`; its hand projection bounds also per episode), the idle cut as a note,
    then the behaviour findings. The judged episode (a new record), its findings, and why to quarantine it or None."""
    ev = ep.evidence
    quality = assess_quality(
        QualityTier.high,  # a source's default below it is one of the verdicts
        success=ep.success,
        has_action=ep.has_action,  # a robot without a description: its native command is its action
        native_action=ep.natives.action_names if ep.action_kind is ActionKind.native else None,
        no_action_cause=next((v.reason for v in ep.verdicts if v.reason.startswith("no canonical dims")), None),
        state=ep.state,
        mask=ep.mask,
        validity=ev.validity,
        config=spec.quality,
    )
    cam = ev.camera
    view = None if cam is None else CameraView.from_trajectory(cam.lens, cam.trajectory, cam.hands_past_video)
    qa = measure(
        ep.state,
        ep.action,
        ep.keypoints,
        ep.mask,
        limits=ev.limits,
        config=spec.qa,
        camera=view,
        keypoint_slots=ev.keypoint_slots,
        hand_valid=ep.hand_valid,
    )
    geometry = episode_verdicts(qa, spec.qa)  # hands out of the picture, hands past the video
    measured = replace(ep, verdicts=(*ep.verdicts, *quality.verdicts, *geometry))
    workspace = ev.limits.workspace
    found = assess_arrays(measured, spec.behaviour, workspace, cut=ev.idle)
    judged = JudgedEpisode.of(
        replace(measured, verdicts=(*measured.verdicts, *found.verdicts)),
        qa=qa,
        qa_config=spec.qa,
        behaviour=found.record,
        camera_checks=CameraChecks(spec.behaviour, workspace),
    )
    return Assessment(judged, found.found, found.rejected)


def judge_cameras(ep: JudgedEpisode, frames: FrameTap) -> JudgedEpisode:
    """`ep` (judged on its arrays) with its cameras judged on the thumbnails the writer took as it encoded them: a new
    record with their verdicts; raises `BehaviourRejected` for a finding that quarantines. `ep` as it is when nothing
    was tapped."""
    return assess_cameras(ep, frames).episode
