"""The catalog row (DESIGN.md section 6): one per episode across every dataset of a corpus.

Beside the episode's identity, tier and readiness, one nullable `qa_<field>` column per `schemas.qa.QARecord` field
carries its geometry QA (null where an invariant does not apply, or for episodes ingested before QA existed), then
one per `schemas.behaviour.BehaviourRecord` field (behaviour QA) and the near-duplicate columns the build fills."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, create_model

from schemas.actions import ActionKind
from schemas.arrow import arrow_schema
from schemas.behaviour_record import BehaviourRecord, CopyColumns
from schemas.qa import QARecord, catalog_fields
from schemas.tiers import QualityTier


class _CatalogCore(BaseModel):
    model_config = ConfigDict(extra="forbid")

    episode_uid: str = Field(description="stable id: source/subset/raw id")
    source: str = Field(description="the job spec's source name (sources[].name)")
    subset: str = Field(description="the dataset within the source (a split, a task folder, a robot)")
    dataset: str = Field(description="dataset path relative to the corpus root")
    episode_index: int = Field(ge=0, description="its position in the dataset (episode_index in LeRobot's files)")
    embodiment: str = Field(description="the robot or human setup, a name of the embodiment registry (widowx, human)")
    tier: QualityTier = Field(
        description="high: trains every task, the policy too; low: lowered by a finding (reason in tier_reasons), "
        "trains no policy; actionless: no action, visual forecasting only; rejected: never selected by curate"
    )
    tier_reasons: list[str] = Field(
        default_factory=list,
        description="why the tier is what it is: the verdicts that set it, one sentence each, its figures as # so that "
        "episodes group by it (GROUP BY tier_reasons[1]); the figures are in tier_details",
    )
    tier_notes: list[str] = Field(
        default_factory=list,
        description="what ingest noted that lowers nothing (a unit read, a cut, the native action), figures as #",
    )
    tier_details: list[str] = Field(
        default_factory=list,
        description="every reason and note as the lineage records it, with its figures (value, bound, frames)",
    )
    tier_codes: list[str] = Field(
        default_factory=list,
        description="the code of each entry of tier_details, in its order: the check that gave it (qa_tracking_corr, "
        "source_simulation; where a verdict has none, its sentence with its figures as #), so that reasons group by "
        "it (GROUP BY tier_codes[1]: the reason that set the tier) and keep their figures in tier_details; `eidata "
        "curate --include-verdict CODE` overrules one",
    )
    tier_levels: list[QualityTier] = Field(
        default_factory=list,
        description="the tier each entry of tier_details allows, in its order (high: a note); the episode's tier is "
        "default_tier lowered by them (`schemas.tiers.tier_of`)",
    )
    default_tier: QualityTier | None = Field(
        None,
        description="the tier its verdicts lower: high since issue 77 (a source's default below high is its verdict, "
        "source_default or source_no_action, which --include-verdict overrules); before, its source's default",
    )
    ingest_tier: QualityTier | None = Field(
        None,
        description="the tier before the corpus-level verdicts (`eidata verdicts`, view `verdicts`): default_tier "
        "lowered by ingest's verdicts alone; = tier for an episode no verdict of the step judged",
    )
    task: str | None = Field(None, description="the task text the source gives ('; ' between several)")
    caption: str | None = Field(None, description="the instruction `eidata caption` wrote (VLM or rules)")
    num_frames: int = Field(ge=0, description="frames as stored, at the canonical rate (10 Hz)")
    duration_s: float = Field(ge=0, description="num_frames / fps")
    has_action: bool = Field(
        description="it has an action to train on: canonical, or its robot's native command (action_kind != 'none')"
    )
    action_kind: ActionKind = Field(
        ActionKind.none,
        description="canonical: the action mask fills at least one canonical dim (action.info.mask); native: none "
        "does (a robot eidata has no description of) and its command, action.native at 10 Hz, is its action (an "
        "export puts it in `action`); none: no action, visual forecasting only",
    )
    has_hands: bool = Field(description="the episode has tracked human hand keypoints (MANO-21); see hand_keypoints")
    hand_keypoints: str | None = Field(
        None,
        description="whose keypoints observation.hand_keypoints holds in this episode: human (tracked MANO-21, "
        "= has_hands), robot (a dexterous robot hand's links by FK, masked slots in the feature info) or none; null "
        "for episodes cataloged before robot keypoints existed",
    )
    cameras: list[str] = Field(
        default_factory=list, description="its videos: observation.images.<name> without the prefix (head, wrist)"
    )
    camera_models: list[str] = Field(
        default_factory=list,
        description="each camera's lens model, in the order of cameras (`schemas.camera_model`): kannala_brandt or "
        "fisheye624 (fisheyes, their coefficients in the lineage's camera_models), pinhole, or none (the source gave "
        "no intrinsics)",
    )
    success: bool | None = Field(None, description="whether the source marks the demonstration a success; null: unsaid")
    raw_path: str = Field(description="the raw file or folder it was read from (as the spec's root names it)")
    raw_fps: float | None = Field(None, description="the source's own frame rate before resampling to 10 Hz")
    content_hash: str = Field(
        description="sha256 over its files' paths, sizes and sha256 (data parquet, then each video): changes when a "
        "file does"
    )
    pipeline_version: str = Field(description="the eidata version that wrote it; external: another tool's dataset")
    reading: str | None = Field(
        None,
        description="the fingerprint of how its source was read: adapter, options, settings, code (`schemas.reading`; "
        "job/readings.jsonl holds each in full); null for episodes written before issue 98 or by another tool",
    )
    latents_ready: bool = Field(False, description="a DINOv3 latents file exists for a camera (`eidata latents`)")
    caption_ready: bool = Field(False, description="caption is set")
    ingested_at: datetime = Field(description="when its data file was written (its modification time, UTC)")
    plan_line: str | None = Field(
        None,
        description="what an export's plan and train's index read of its episodes.jsonl line besides episode_index, "
        "num_frames and episode_uid (`schemas.episode_lines.shared_fields`: tasks; of the lineage source, subset, "
        "embodiment, mask, action_kind, caption), as JSON: they plan from this column, not from every dataset's meta "
        "(issue 99); null for episodes cataloged before it",
    )
    native_moves: list[bool] | None = Field(
        None,
        description="per dim of action.native, whether the command takes more than one value over the episode (its "
        "episodes_stats max above its min): an export in the native or joints space leaves out an episode whose "
        "command moves in no dim it takes; null without a command or its stats",
    )
    latents_keys: list[str] | None = Field(
        None,
        description="the video keys (info.json order) whose DINOv3 latents file the dataset holds, each with the "
        "`frame_index` `eidata latents` writes (`schemas.image_latents.latent_frame_indices` of num_frames, the "
        "dataset's fps and the file's rate_hz): train's index and `latents` plan from it, not from the files (issue "
        "99); null where the rebuild did not read them (a bucket's, a file unreadable or written otherwise, episodes "
        "cataloged before it): those read the files",
    )
    latents_files: list[str] | None = Field(
        None,
        description="per key of latents_keys, what a plan reads of its file (`schemas.image_latents.cataloged`): its "
        "safetensors metadata (encoder, rate_hz, dtype, size) and the shape of its latents past the rows, as JSON",
    )


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
