"""The judging step (`ingest.qa.judge`) on a real GR00T episode: canonicalization hands over episodes with notes and
evidence only, judging appends the verdicts (notes first, in order), a finding that quarantines one part of a span is
named in the kept part and filed as its own part, a span with no part left is rejected by the judge, and the cameras
are judged on the thumbnails the write took, in a new record whose lineage holds their verdicts."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

import tests.fixtures.behaviour_defects as plant
from ingest.canonical.canonicalize import canonicalize_spans
from ingest.canonical.store import lineage
from ingest.episode import JudgedEpisode
from ingest.qa.judge import judge, judge_cameras
from ingest.qa.phase import FrameTap
from schemas.canonicalize import CanonicalizeSpec
from schemas.tiers import QualityTier
from tests.ingest.qa.planted_raw import ELBOW, gr00t_raws, planted
from tests.jobs.ingest.test_quarantine import elbow_span

SPEC = CanonicalizeSpec()


def _two_parts(nan_in: slice):
    """A real GR00T episode cut in two by a planted encoder wrap-around, a NaN planted in a native signal."""
    raw, _ = planted(gr00t_raws()[1], plant.wraparound, ELBOW, 0.8 * elbow_span())
    done = raw.outcomes["next.done"]
    values = done.values.astype(np.float64)
    values[nan_in] = np.nan
    raw.outcomes["next.done"] = replace(done, values=values)
    return raw


def test_canonicalization_hands_over_notes_and_judging_appends_verdicts() -> None:
    raw = gr00t_raws()[0]
    made = canonicalize_spans(raw, SPEC)
    notes = {ep.uid: ep.verdicts for ep in made.episodes}
    assert not any(isinstance(ep, JudgedEpisode) for ep in made.episodes)  # measured, not judged
    judged = judge(made, SPEC)
    for ep in judged.episodes:
        assert ep.verdicts[: len(notes[ep.uid])] == notes[ep.uid]  # notes first, as the lineage lists reasons
        assert isinstance(ep, JudgedEpisode)
        assert ep.tier == QualityTier.high and lineage(ep).tier == ep.tier


def test_a_part_quarantined_beside_a_kept_part_is_named_and_filed_by_the_judge() -> None:
    result = judge(canonicalize_spans(_two_parts(slice(-30, -28)), SPEC), SPEC)
    [kept] = result.episodes
    [part] = kept.quarantined_parts
    assert kept.uid.endswith("#keep0") and part.tag == "#keep1" and "qa_nonfinite" in part.message
    assert kept.tier_reasons[-1].endswith(part.message.split(": ", 1)[1]) and kept.tier == QualityTier.high
    assert not result.rejections


def test_a_span_whose_every_part_is_quarantined_is_the_judges_rejection() -> None:
    result = judge(canonicalize_spans(_two_parts(slice(None)), SPEC), SPEC)  # NaN in both parts
    assert not result.episodes
    [rejection] = result.rejections
    assert rejection.stage == "judge" and rejection.reason.count("qa_nonfinite") == 2
    assert "qa_nonfinite" in result.rejection_message()


def test_the_cameras_are_judged_on_what_the_write_measured() -> None:
    [ep] = judge(canonicalize_spans(gr00t_raws()[0], SPEC), SPEC).episodes
    frames = FrameTap()
    dark = np.zeros((64, 64, 3), np.uint8)  # a camera that shows nothing: the dark-frame check lowers it
    for _ in range(ep.num_frames):
        for key in ep.cameras:
            frames.add(f"observation.images.{key}", dark)
    try:
        judged = judge_cameras(ep, frames)
    except Exception as e:  # a quarantining camera finding is raised (the worker files it)
        assert type(e).__name__ == "BehaviourRejected"
    else:
        assert len(judged.verdicts) > len(ep.verdicts) and judged.tier != QualityTier.high
        assert judged.behaviour is not None and judged.behaviour.cam_dark_fraction == 1.0
        assert lineage(judged).tier == judged.tier
    assert ep.behaviour is not None and ep.behaviour.cam_dark_fraction is None  # the judged record left as it was
    assert judge_cameras(ep, FrameTap()) is ep  # nothing tapped, nothing measured
