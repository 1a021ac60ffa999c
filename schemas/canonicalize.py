"""The configuration of canonicalization, as data: a job spec's `canonicalize:` block and the thresholds inside it.

The models only; the steps that read them live in `ingest/canonical/` (`resample`) and `ingest/qa/` (`validity`,
`quality`, `geometry`, `phase`). Kept here so a job spec validates without importing the numerical code (scipy, the
resampler): a no-op rerun and `eidata validate` load only this.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from schemas.behaviour import BehaviourConfig
from schemas.canonical import CANONICAL_FPS, Camera
from schemas.frozen import Frozen
from schemas.image_size import ImageSpec
from schemas.qa import QAConfig
from schemas.thresholds import Keyed, threshold_model


class GapPolicy(StrEnum):
    """What to do with an interval longer than `max_gap_s` between two samples of a stream."""

    split = "split"  # cut the episode there: each gap-free span becomes its own episode
    invalidate = "invalidate"  # keep one episode, flag the grid frames strictly inside the gap as invalid


class Workspace(Frozen):
    """Axis-aligned box in the dataset's canonical frame (metres) that every real wrist position lies in."""

    low: tuple[float, float, float]
    high: tuple[float, float, float]

    @model_validator(mode="after")
    def _ordered(self) -> Workspace:
        if not all(lo < hi for lo, hi in zip(self.low, self.high, strict=True)):
            raise ValueError(f"workspace low {self.low} must be below high {self.high} on every axis")
        return self


class KinematicLimits(Frozen):
    """Limits a recorded wrist trajectory of one embodiment can never exceed; beyond them the pose is a glitch."""

    max_wrist_speed_m_s: float = Field(
        3.0, gt=0, description="finite-difference wrist speed above which the frames of that step are invalid"
    )
    max_wrist_acc_m_s2: float = Field(
        30.0, gt=0, description="second-difference wrist acceleration above which the centre frame is invalid"
    )
    workspace: Workspace | None = Field(
        None, description="box the wrist must stay in (canonical frame, metres); None: not checked"
    )


# A 5 m cube around the canonical origin: no embodiment reaches beyond it, but millimetres stored as metres do.
_UNIT_SANITY = Workspace(low=(-5.0, -5.0, -5.0), high=(5.0, 5.0, 5.0))


def _default_limits() -> dict[str, KinematicLimits]:
    return {
        # Franka datasheet Cartesian limits (1.7 m/s, 13 m/s^2); reach 0.855 m from the base, box with margin.
        "franka": KinematicLimits(
            max_wrist_speed_m_s=1.7,
            max_wrist_acc_m_s2=13.0,
            workspace=Workspace(low=(-1.2, -1.2, -0.6), high=(1.2, 1.2, 1.6)),
        ),
        # Fast human hand motion peaks near 3-4 m/s; tracking jumps (identity swaps, re-detections) are faster or
        # show as accelerations no arm produces. The first-frame camera frame moves with the person: only a unit check.
        "human": KinematicLimits(max_wrist_speed_m_s=4.0, max_wrist_acc_m_s2=40.0, workspace=_UNIT_SANITY),
    }


class _Validity(Keyed, Frozen):
    """Thresholds of `check_validity` (the scalars in `schemas/validity.toml`). Limits are per embodiment name,
    `default_limits` for unnamed embodiments."""

    limits: dict[str, KinematicLimits] = Field(
        default_factory=_default_limits, description="embodiment name -> kinematic limits and workspace"
    )
    default_limits: KinematicLimits = Field(
        default_factory=lambda: KinematicLimits(workspace=_UNIT_SANITY),
        description="generous limits (3 m/s, 30 m/s^2, 5 m cube) that only catch teleports and unit errors",
    )
    policy: Literal["drop", "mask"] = Field(
        "drop",
        description="drop: invalid frames split the episode into valid spans (LDA discards them); mask: they stay"
        " inside spans with valid=False",
    )

    def keeping_short(self, why: str) -> _Validity:
        """This config for an episode its source keeps however short (`RawEpisode.keep_short`, `why` non-empty):
        `min_length_frames` 1; itself when `why` is empty."""
        return self.model_copy(update={"min_length_frames": 1}) if why else self

    def limits_for(self, embodiment: str) -> KinematicLimits:
        return self.limits.get(embodiment, self.default_limits)


class _Quality(Keyed, Frozen):
    """Thresholds of `assess_quality` (`schemas/quality.toml`). Defaults flag what LDA calls low quality: pauses,
    retries, failures."""


ValidityConfig = threshold_model("ValidityConfig", _Validity, "validity.toml", "canonicalize.validity")
QualityConfig = threshold_model("QualityConfig", _Quality, "quality.toml", "canonicalize.quality")


class CanonicalizeSpec(Keyed):
    """How raw episodes become canonical ones. Part of a job spec; every threshold is data."""

    model_config = ConfigDict(extra="forbid")
    SPEC_KEY: ClassVar[str] = "canonicalize"

    # One rate for every episode (DESIGN.md section 3): canonicalization reads `CANONICAL_FPS`; a spec may state it
    fps: Literal[10] = Field(
        CANONICAL_FPS,
        description="the canonical rate, fixed at 10 Hz (not a choice: every source is resampled to it from its own "
        "rate; output timestamps are frame_index / 10)",
    )
    max_gap_s: float = Field(0.5, gt=0, description="a pause longer than this between samples of a stream is a gap")
    gap_policy: GapPolicy = Field(GapPolicy.split, description="split the episode at gaps or invalidate frames")
    interpolation_tolerance_s: float = Field(
        0.02,
        ge=0,
        lt=0.5 / CANONICAL_FPS,
        description="a grid time within this of a native sample is not flagged as interpolated (below half a frame)",
    )
    min_episode_s: float = Field(1.0, ge=0, description="spans shorter than this after splitting are dropped")
    cameras: list[Camera] | None = Field(
        None,
        description="canonical cameras to keep (head, wrist_left, wrist_right, third_person), each source camera "
        "placed in one by its adapter (lerobot: the camera_map option, else its name; oxe: the subset table). Omitted: "
        "every placed camera, and a camera no slot fits kept under its own name (Bridge's image_1, image_2); listed: "
        "those slots only, the others left out. An export of sources with different cameras puts each dataset's main "
        "one in observation.images.primary",
    )
    validity: ValidityConfig = Field(default_factory=ValidityConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    qa: QAConfig = Field(default_factory=QAConfig, description="geometry QA thresholds (`ingest.qa.geometry`)")
    behaviour: BehaviourConfig = Field(
        default_factory=BehaviourConfig,
        description="behaviour QA thresholds (`ingest.qa`): which finding demotes to low, which quarantines",
    )
    image: ImageSpec = Field(
        default_factory=ImageSpec,
        description="stored camera size per source / camera (`schemas.image_size`): native, or e.g. 224x224 pad",
    )

    @field_validator("fps", mode="before")
    @classmethod
    def _fixed_rate(cls, v: object) -> object:
        if isinstance(v, int | float) and not isinstance(v, bool) and v != CANONICAL_FPS:
            raise ValueError(
                f"{v} Hz: the canonical rate is fixed at {CANONICAL_FPS} Hz, not a setting. Every source is read at "
                f"its own rate (a 15 or 30 Hz source too) and resampled to {CANONICAL_FPS} Hz; the rate of the data "
                f"you have needs no key here. Remove the line or write fps: {CANONICAL_FPS}"
            )
        return v
