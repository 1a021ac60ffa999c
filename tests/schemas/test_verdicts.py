"""`schemas.verdicts`: a verdict's reason is its code and message; the lineage record round-trips; the catalog's
`verdicts` rows carry every field of a verdict beside the episode, its dataset and the stage that judged it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.qa import Finding
from schemas.tiers import QualityTier
from schemas.verdicts import VERDICT_SCHEMA, CorpusVerdicts

V = Finding(
    code="qa_duplicate",
    tier=QualityTier.rejected,
    value=0.01,
    threshold=0.1,
    compared_with="s/a/0",
    message="copy of s/a/0",
)


def test_reason_and_round_trip() -> None:
    assert V.reason() == "qa_duplicate: copy of s/a/0"
    rec = CorpusVerdicts(thresholds={"copy_tolerance": 0.1}, tier_before=QualityTier.high, found=[V])
    assert CorpusVerdicts.model_validate(rec.model_dump(mode="json")) == rec
    with pytest.raises(ValidationError):
        Finding.model_validate({**V.model_dump(), "extra": 1})


def test_catalog_rows_hold_every_verdict_field() -> None:
    assert set(VERDICT_SCHEMA.names) == {"episode_uid", "dataset", "stage", *Finding.model_fields}
