"""The catalog row (DESIGN.md section 6): one per episode across every dataset of a corpus.

Beside the episode's identity, tier and readiness, one nullable `qa_<field>` column per `schemas.qa.QARecord` field
carries its geometry QA (null where an invariant does not apply, or for episodes ingested before QA existed), then
one per `schemas.behaviour.BehaviourRecord` field (behaviour QA) and the near-duplicate columns the build fills."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, create_model

from schemas.arrow import arrow_schema
from schemas.behaviour import BehaviourRecord, CopyColumns
from schemas.qa import QARecord, catalog_fields
from schemas.tiers import QualityTier


class _CatalogCore(BaseModel):
    model_config = ConfigDict(extra="forbid")

    episode_uid: str = Field(description="stable id: source/subset/raw id")
    source: str
    subset: str
    dataset: str = Field(description="dataset path relative to the corpus root")
    episode_index: int = Field(ge=0)
    embodiment: str
    tier: QualityTier
    tier_reasons: list[str] = Field(default_factory=list)
    ingest_tier: QualityTier | None = Field(
        None,
        description="the tier before the corpus-level verdicts (`eidata verdicts`, view `verdicts`): what `curate"
        " --include-verdict` starts from; = tier for an episode no verdict judged",
    )
    task: str | None = None
    caption: str | None = None
    num_frames: int = Field(ge=0)
    duration_s: float = Field(ge=0)
    has_action: bool
    has_hands: bool = Field(description="the episode has tracked human hand keypoints (MANO-21); see hand_keypoints")
    hand_keypoints: str | None = Field(
        None,
        description="whose keypoints observation.hand_keypoints holds in this episode: human (tracked MANO-21, "
        "= has_hands), robot (a dexterous robot hand's links by FK, masked slots in the feature info) or none; null "
        "for episodes cataloged before robot keypoints existed",
    )
    cameras: list[str] = Field(default_factory=list)
    success: bool | None = None
    raw_path: str
    raw_fps: float | None = None
    content_hash: str
    pipeline_version: str
    latents_ready: bool = False
    caption_ready: bool = False
    ingested_at: datetime


QA_COLUMNS = [  # geometry, then behaviour, then the verdict step's
    *catalog_fields(QARecord),
    *catalog_fields(BehaviourRecord),
    *catalog_fields(CopyColumns),
]

CatalogRow = create_model(
    "CatalogRow",
    __base__=_CatalogCore,
    __module__=__name__,
    **{name: (py | None, Field(None, description=doc)) for name, py, _, doc in QA_COLUMNS},  # type: ignore[call-overload]
)


CATALOG_SCHEMA = arrow_schema(CatalogRow)
