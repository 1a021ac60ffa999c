"""A recorded pose's comparison with FK as its note's figures (`schemas.pose_agreement`): what the note carries is
what the lineage, the catalog and the ingest summary read back, and a note without figures is no comparison."""

from __future__ import annotations

from schemas.pose_agreement import FK_AGREEMENT, PoseAgreement, compared
from schemas.tiers import QualityTier, TierVerdict


def test_a_comparison_is_read_back_from_its_note_and_through_the_lineage_json() -> None:
    found = PoseAgreement(agree=False, rot_p50_deg=0.18, rot_p95_deg=0.26, pos_p50_mm=153.7, pos_p95_mm=239.9)
    note = found.note("recorded EEF vs FK (ur3e: ur3e), right: disagree")
    assert note.tier is QualityTier.high and note.code == FK_AGREEMENT and note.figures["agree"] == 0.0
    again = TierVerdict.model_validate_json(note.model_dump_json())  # as episodes.jsonl keeps it
    assert compared([again]) == [found]


def test_a_pose_not_compared_or_another_check_is_no_comparison() -> None:
    unmet = TierVerdict.note("recorded EEF vs FK (ur3e: ur3e), right: not compared (no FK wrist)", FK_AGREEMENT)
    other = TierVerdict(tier=QualityTier.low, reason="jerky", code="qa_jerk", figures={"agree": 1.0})
    assert compared([unmet, other]) == []
