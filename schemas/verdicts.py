"""Verdicts: why an episode has its tier, each finding with its value, its threshold and what it was compared with.

Two moments judge an episode. Ingest judges what one episode can say about itself (`ingest.qa`) with the thresholds of
its job, stored in its lineage (`EpisodeLineage.qa_config`, `behaviour_config`). The curation step `eidata verdicts`
judges what needs the whole corpus: an episode that is a copy of another (fingerprint candidates verified on the
signals, `ingest.qa.copies`) and dims dead against the rest of their dataset, each a `schemas.qa.Finding`. Its result is
written into each judged episode's lineage (`EpisodeLineage.verdicts`: the thresholds and the findings; each finding
also a `TierVerdict` of step `verdicts` among the lineage's `tier_verdicts`, its tier computed from them), so the
dataset a consumer reads and the catalog agree on one tier; the catalog build only indexes the lineage and never
rewrites a tier. Running the step again with other thresholds replaces the step's verdicts and keeps ingest's, so a
verdict is reversible without re-ingesting.

The catalog's `verdicts` view (`catalog/verdicts/*.parquet`, one `VERDICT_SCHEMA` row per finding, ingest's and the
step's) answers "why is this episode low or rejected" with numbers.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.arrow import arrow_schema
from schemas.qa import Finding
from schemas.tiers import QualityTier

VERDICTS_DIR = "catalog/verdicts"
STEP = "verdicts"  # the curation step's name, as `eidata verdicts` and the lineage give it

Stage = Literal["ingest", "verdicts"]


class CorpusVerdicts(BaseModel):
    """The step's judgment of one episode, in its lineage (`EpisodeLineage.verdicts`)."""

    model_config = ConfigDict(extra="forbid")

    step: str = STEP
    thresholds: dict[str, float] = Field(description="the `BehaviourConfig` thresholds the step judged with")
    # before issue 69 the lineage kept no verdict, so the step kept what ingest said to start a rerun from; since,
    # the lineage's `tier_verdicts` hold ingest's and the step's verdicts (a rerun replaces the step's) and these
    # stay unset
    tier_before: QualityTier | None = Field(None, description="the tier ingest gave (lineages before issue 69)")
    reasons_before: list[str] | None = Field(None, description="ingest's tier reasons (lineages before issue 69)")
    found: list[Finding] = Field(default_factory=list)


class VerdictRow(BaseModel):
    """One row of the catalog's `verdicts` view (`catalog/verdicts/*.parquet`): a `Finding` behind an episode's tier,
    with the episode and the moment that judged it."""

    model_config = ConfigDict(extra="forbid")

    episode_uid: str = Field(description="the episode judged")
    dataset: str = Field(description="its dataset, relative to the corpus root")
    stage: Stage = Field(
        description="ingest: the episode judged alone with its job's thresholds; verdicts: `eidata verdicts` against "
        "the rest of the corpus"
    )
    code: str = Field(description=Finding.model_fields["code"].description)
    tier: QualityTier = Field(description=Finding.model_fields["tier"].description)
    value: float = Field(description="what was measured, in the unit of the catalog column the code names")
    threshold: float = Field(description="the bound it crossed, in the same unit")
    compared_with: str | None = Field(None, description=Finding.model_fields["compared_with"].description)
    message: str = Field(description="the finding in words: value, threshold and what they mean")


VERDICT_SCHEMA = arrow_schema(VerdictRow)
