"""Geometry QA: the thresholds (`QAConfig`, data in a job spec) and one episode's measured invariants (`QARecord`);
and what every QA moment decides, geometry's and behaviour's (`schemas.behaviour`): a `Finding` (a threshold an
episode crossed and the tier it lowers it to), a `Verdict` (the tier, its reasons, the findings), a `DatasetFinding`.

A `QARecord` is stored in the episode's lineage (`EpisodeLineage.qa`) and flattened into the catalog as one nullable
`qa_<field>` column per field (`catalog_fields`), so `eidata query ROOT "SELECT dataset, avg(qa_hands_in_front) FROM
episodes GROUP BY 1"` answers it. A field is absent (None) when its invariant does not apply to the episode: no camera
pose or intrinsics, no wrist rotation, no gripper, one hand only.

Frames: positions and axes are in the episode's canonical frame (robot base, or for a moving egocentric camera the
gravity-aligned first camera pose), both with z up and y to the left (`ingest.canonical.decouple`). The approach axis
is the canonical wrist frame's z axis (wrist -> fingertips, `robots.eef_offsets`); its angle from straight down is
0 deg for a top-down grasp, 90 deg for a side grasp and 180 deg for a gripper pointing up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.arrow import arrow_schema, arrow_type
from schemas.behaviour import BehaviourConfig
from schemas.frozen import Frozen
from schemas.thresholds import Keyed, threshold_model
from schemas.tiers import QualityTier, TierVerdict, VerdictStep

APPROACH_BIN_DEG = 10  # width of one bin of `QARecord.approach_hist`
APPROACH_BINS = 180 // APPROACH_BIN_DEG

# Adult hand length (distal wrist crease to the tip of the middle finger) averages 0.193 m for men and 0.173 m for
# women: NASA Man-Systems Integration Standards (NASA-STD-3000) Vol. I section 3, Anthropometry and Biomechanics,
# http://msis.jsc.nasa.gov/sections/section03.htm (7.6 in and 6.8 in). The band below is wide on purpose (0.8x the
# female mean to 1.25x the male mean): MANO's wrist joint is not the crease, the chain of bones sums a flexed finger's
# length, and trackers scale skeletons; a hand outside it is a unit or skeleton error, not a small or large person.
HUMAN_HAND_LENGTH_M = (0.14, 0.24)


class _QA(Keyed, Frozen):
    """Thresholds of the geometry QA (the scalars in `schemas/qa.toml`); a dataset whose measured value falls outside
    one gets a warning naming it."""

    hand_length_m: tuple[float, float] = Field(
        HUMAN_HAND_LENGTH_M, description="[low, high] of the median wrist -> middle fingertip bone chain (metres)"
    )

    @model_validator(mode="after")
    def _ordered(self) -> _QA:
        lo, hi = self.hand_length_m
        if not 0 < lo < hi:
            raise ValueError(f"hand_length_m must be [low, high] with 0 < low < high, got {list(self.hand_length_m)}")
        return self


QAConfig = threshold_model("QAConfig", _QA, "qa.toml", "canonicalize.qa")


class QARecord(BaseModel):
    """One episode's measured invariants; None where the invariant does not apply (see the module docstring).

    Unknown keys are ignored, so a lineage a newer version wrote (more invariants) still reads."""

    model_config = ConfigDict(extra="ignore")

    frames: int | None = Field(None, ge=0, description="frames of the episode")
    hands_in_front: float | None = Field(
        None,
        description="fraction of frames with hand keypoints and a posed camera whose keypoints are mostly in"
        " front of it",
    )
    hands_in_image: float | None = Field(
        None,
        description="fraction of those frames whose keypoints mostly project inside the image, through the camera's"
        " lens model (`schemas.camera_model`: pinhole, Kannala-Brandt, FISHEYE624)",
    )
    hands_past_video: float | None = Field(
        None,
        description="fraction of the raw episode's hand samples more than a frame period before the posed camera's"
        " first frame or after its last (left out of the episode: its span stops at the video's ends)",
    )
    hands_ahead: float | None = Field(
        None, description="egocentric: fraction of tracked wrists ahead of the wearer (x > 0 in the reference frame)"
    )
    hands_below_eyes: float | None = Field(
        None, description="egocentric: fraction of tracked wrists below the first camera position (z < 0)"
    )
    approach_down: float | None = Field(None, description="fraction of wrist frames whose approach axis is top-down")
    approach_side: float | None = Field(None, description="fraction of wrist frames approaching from the side")
    approach_up: float | None = Field(None, description="fraction of wrist frames whose approach axis points up")
    approach_hist: list[int] | None = Field(
        None, description=f"wrist frames per {APPROACH_BIN_DEG} deg bin of the approach axis's angle from straight down"
    )
    speed_p50: float | None = Field(None, description="median wrist speed (m/s)")
    speed_p95: float | None = Field(None, description="95th percentile wrist speed (m/s)")
    speed_p99: float | None = Field(None, description="99th percentile wrist speed (m/s)")
    speed_limit: float | None = Field(None, description="the embodiment's validity speed limit (m/s)")
    acc_p50: float | None = Field(None, description="median wrist acceleration (m/s^2)")
    acc_p95: float | None = Field(None, description="95th percentile wrist acceleration (m/s^2)")
    acc_p99: float | None = Field(None, description="99th percentile wrist acceleration (m/s^2)")
    acc_limit: float | None = Field(None, description="the embodiment's validity acceleration limit (m/s^2)")
    hand_length: float | None = Field(None, description="median wrist -> middle fingertip bone chain (m)")
    bone_length_cv: float | None = Field(None, description="median over bones of their length's std / mean")
    gripper_min: float | None = Field(None, description="smallest gripper opening (0 closed .. 1 open)")
    gripper_p5: float | None = Field(None, description="5th percentile gripper opening (0 closed .. 1 open)")
    gripper_p95: float | None = Field(None, description="95th percentile gripper opening (0 closed .. 1 open)")
    gripper_max: float | None = Field(None, description="largest gripper opening (0 closed .. 1 open)")
    action_pos_err: float | None = Field(None, description="p95 |state t + action delta - state t+1| (m)")
    action_rot_err: float | None = Field(None, description="p95 rotation angle between them (deg)")
    left_of_right: float | None = Field(
        None, description="fraction of two-handed frames with the left wrist to the left (+y) of the right one"
    )


CATALOG_PREFIX = "qa_"
R = TypeVar("R", bound=BaseModel)


def catalog_fields(record: type[BaseModel]) -> list[tuple[str, Any, pa.DataType, str | None]]:
    """(column, python type, arrow type, description) of the `qa_*` catalog column of each field of a QA record
    (`QARecord`, `schemas.behaviour.BehaviourRecord`), in field order."""
    return [
        (CATALOG_PREFIX + name, f.annotation, arrow_type(f.annotation), f.description)
        for name, f in record.model_fields.items()
    ]


def record_from_columns(row: dict[str, Any], record: type[R]) -> R | None:
    """The `record` of a catalog row's `qa_*` columns of its fields; None when none of them is measured."""
    n, names = len(CATALOG_PREFIX), set(record.model_fields)
    values = {k[n:]: v for k, v in row.items() if k.startswith(CATALOG_PREFIX) and k[n:] in names and v is not None}
    return record(**values) if values else None


# -- what canonicalization measures for the judging step --------------------------------------------------


@dataclass(frozen=True)
class ValidityReport:
    valid: np.ndarray  # (N,) bool: passed every per-frame check
    reasons: dict[str, int]  # check name -> frames flagged (a frame may count under several)
    keep: list[tuple[int, int]]  # [start, end) spans to keep; empty when rejected
    rejected: str | None = None  # why the whole episode is rejected
    static: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # (N,) human frames cropped as idle

    @property
    def n_frames(self) -> int:
        return len(self.valid)

    @property
    def invalid_fraction(self) -> float:
        """Fraction of frames failing a per-frame check (crops of motionless fragments do not count)."""
        return float(1.0 - self.valid.mean()) if len(self.valid) else 0.0


@dataclass(frozen=True)
class IdleCut:
    """Where idle ends cut a stretch of canonical frames: keep [start, stop) of its `frames`."""

    frames: int
    start: int
    stop: int
    idle_start_s: float
    idle_end_s: float
    # idle share of the kept frames (`ingest.canonical.idle.idle_cut`): 1.0 for a state that never moved, None when no
    # state was measured (no dim in use, no native column: a camera-only source)
    idle_fraction: float | None = None

    @property
    def cuts(self) -> bool:
        return (self.start, self.stop) != (0, self.frames)

    def reason(self, config: BehaviourConfig) -> str:
        parts = []
        if self.start:
            parts.append(f"idle start {self.idle_start_s:.1f} s: frames 0..{self.start - 1} cut")
        if self.stop < self.frames:
            parts.append(f"idle end {self.idle_end_s:.1f} s: frames {self.stop}..{self.frames - 1} cut")
        return f"qa_idle trimmed ({'; '.join(parts)}; {config.idle_keep_s:g} s kept beside the motion)"

    def record(self) -> dict[str, float | int | None]:
        return dict(
            idle_start_s=self.idle_start_s,
            idle_end_s=self.idle_end_s,
            idle_fraction=self.idle_fraction,
            trim_start=self.start,
            trim_stop=self.stop,
        )


# -- what QA decides --------------------------------------------------------------------------------------------


class Finding(Frozen):
    """One threshold an episode's measured value crossed, and the tier that lowers it to: a behaviour finding at
    ingest (`ingest.qa.findings`) or a corpus-level one (`eidata verdicts`: a copy, dead dims, with the episode it was
    compared with)."""

    code: str = Field(description="qa_<the record field it reads>, e.g. qa_cam_frozen_s, qa_duplicate")
    tier: QualityTier = Field(
        description="the tier this finding lowers the episode to (low or rejected; high: a note that lowers nothing,"
        " qa_duplicate_unjudged)"
    )
    value: float = Field(description="the measured value (a copy's residual, the share of the dataset moving a dim)")
    threshold: float
    compared_with: str | None = Field(None, description="episode_uid of the episode it was compared with")
    message: str

    def reason(self) -> str:
        """The finding as a tier reason (`EpisodeLineage.tier_reasons`)."""
        return f"{self.code}: {self.message}"

    def verdict(self, step: VerdictStep = "ingest") -> TierVerdict:
        """The finding as the verdict the lineage keeps: its code, tier, sentence and figures (value, threshold)."""
        figures = {"value": self.value, "threshold": self.threshold}
        return TierVerdict(tier=self.tier, reason=self.reason(), code=self.code, figures=figures, step=step)


class Verdict(BaseModel):
    """What one moment of QA decided about an episode: its tier (only ever lowered, `schemas.tiers.tier_of`), one
    reason per demotion as the lineage records it, and the findings behind those that crossed a threshold."""

    model_config = ConfigDict(frozen=True)

    tier: QualityTier
    reasons: list[str] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    verdicts: list[TierVerdict] = Field(default_factory=list)  # what the episode's record appends (`reasons` theirs)

    def rejected(self) -> str | None:
        """Why the episode is quarantined (its rejecting findings' reasons), None when it is kept."""
        return "; ".join(f.reason() for f in self.findings if f.tier == QualityTier.rejected) or None


class DatasetFinding(Frozen):
    """One threshold a dataset crossed, informative (it lowers no tier): a geometry invariant its pooled episodes
    fail (`ingest.qa.dataset.geometry_findings`), task imbalance, episodes shorter than the policy window."""

    code: str = Field(description="qa_<invariant>")
    value: float
    threshold: float
    message: str
    episodes: tuple[int, ...] = Field((), description="the episodes it names (positions in the dataset)")


class DatasetFindingRow(BaseModel):
    """One row of the catalog's `findings` view (`catalog/findings/*.parquet`, written by the catalog build:
    `jobs.catalog.behaviour`): a `DatasetFinding` of a dataset, with the episodes it names by uid."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(description="the dataset, relative to the corpus root")
    code: str = Field(description="what was found: qa_task_imbalance, qa_short_episodes")
    value: float = Field(
        description="what was measured: the largest task's episodes over the smallest's (x), or the number of short "
        "episodes"
    )
    threshold: float = Field(description="the bound it crossed, in the same unit")
    message: str = Field(description="the finding in words")
    episodes: list[str] = Field(default_factory=list, description="episode_uid of the episodes it names")


FINDINGS_DIR = "catalog/findings"
FINDINGS_SCHEMA = arrow_schema(DatasetFindingRow)
