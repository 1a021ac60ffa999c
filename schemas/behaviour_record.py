"""One episode's measured behaviour (`BehaviourRecord`, the values `ingest.qa` measures; the thresholds they are
judged by are `schemas.behaviour.BehaviourConfig`), the holds explained by the robot's own signals (`Explained`), and
the copy columns of the verdict step (`CopyColumns`). A record is measured at ingest (`ingest.qa.phase`), kept in the
lineage (`EpisodeLineage.behaviour`, its thresholds in `behaviour_config`) and flattened into the catalog beside the
geometry QA as one nullable `qa_<field>` column per field (`schemas.qa.catalog_fields`); a field is None where its
check does not apply (no camera, no native state, no action)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.frozen import Frozen

# Why a held reading is the robot's own behaviour, not a defect (`ingest.qa.explain`): held at an end of its range,
# its command still as well (the actuator not used), its command pushing into the held value and not back across it
# (contact: a gripper on an object), or its command within the encoder's resolution of it (a servo's deadband).
Why = Literal["range_end", "unused", "contact", "deadband"]


class BehaviourRecord(BaseModel):
    """One episode's measured behaviour; None where a check does not apply. Unknown keys are ignored."""

    model_config = ConfigDict(extra="ignore")

    cam_frozen_s: float | None = Field(None, description="longest same-picture stretch while the state moves (s)")
    cam_frozen_fraction: float | None = Field(None, description="moving frames whose picture did not change")
    cam_repeat_period: int | None = Field(
        None, description="frames per new picture (2: a 15 Hz camera stored at 30 fps repeats every other frame)"
    )
    cam_dark_fraction: float | None = Field(None, description="near-black frames, worst camera")
    cam_bright_fraction: float | None = Field(None, description="near-white frames, worst camera")
    cam_flat_fraction: float | None = Field(None, description="flat (featureless) frames, worst camera")
    state_frozen_s: float | None = Field(None, description="longest stretch of identical state rows mid-episode (s)")
    dead_dims: list[int] | None = Field(None, description="dims in use that never move while another does")
    native_dead_dims: list[int] | None = Field(
        None,
        description="native state columns constant over the episode while another moves; dead when the dataset moves"
        " them in most other episodes (judged by `eidata verdicts`: no native limits exist per episode)",
    )
    saturated_dims: list[int] | None = Field(None, description="dims at a limit above saturated_fraction_low")
    saturated_fraction: float | None = Field(None, description="largest fraction of frames a dim sits at a limit")
    native_saturated_dims: list[int] | None = Field(
        None, description="native arm joint columns at a limit of their description above native_saturated_fraction_low"
    )
    native_saturated_signals: list[str] | None = Field(
        None, description="the names of the native_saturated_dims columns, in their order"
    )
    native_saturated_fraction: float | None = Field(
        None,
        description="largest fraction of frames a native arm joint sits at a limit of its description (in the unit"
        " joint_units decided; None without a description or a settled unit)",
    )
    jump_sigma: float | None = Field(None, description="largest step in robust sigmas of its dim's steps")
    jump_range_fraction: float | None = Field(None, description="largest step as a fraction of its dim's limit range")
    jump_rad_s: float | None = Field(None, description="largest radian step over the frame interval (rad/s)")
    jump_m_s: float | None = Field(None, description="largest metre step over the frame interval (m/s)")
    jump_frame: int | None = Field(None, description="frame the largest (sigma) step lands on")
    glitch_value: float | None = Field(
        None,
        description="the episode's worst excursion from its local trend (`ingest.qa.glitch`), in glitch_unit:"
        " rad (joints, rotations), m, or span (a share of the trend's range, for a column of unknown unit)",
    )
    glitch_unit: str | None = Field(None, description="rad, m or span: the unit of glitch_value and its bound")
    glitch_sigma: float | None = Field(None, description="that excursion in robust sigmas of its signal's steps")
    glitch_signal: str | None = Field(
        None, description="the signal it is in: a native state column, a canonical wrist part (`...right.wrist.rot6d`)"
    )
    glitch_frame: int | None = Field(None, description="frame farthest from the trend")
    glitch_s: float | None = Field(None, description="how long the excursion stays above half its peak (s)")
    plateau_fraction: float | None = Field(
        None,
        description="largest share of the moving frames an arm joint reads one value exactly, inside its limits,"
        " while its command moves (`ingest.qa.plateau`); None when no joint has limits and a command",
    )
    plateau_signal: str | None = Field(None, description="the native state column of that plateau")
    plateau_value: float | None = Field(None, description="the value it holds (rad or m, as its limits)")
    plateau_frame: int | None = Field(None, description="first frame of its longest held run")
    stream_frozen_s: float | None = Field(
        None,
        description="longest stretch one native stream repeats its row mid-episode while its command moves (s;"
        " `ingest.qa.plateau.frozen_stream`); None without a commanded stream or below the grid's rate",
    )
    stream_frozen_signal: str | None = Field(None, description="that stream (`state.right_arm`)")
    stream_frozen_frame: int | None = Field(None, description="its first frame")
    clamp_fraction: float | None = Field(
        None,
        description="largest share of the moving frames a commanded joint's state and command both sit at one value"
        " inside its limits, at the extreme of both (`ingest.qa.explain.channel_clamp`); None when no joint is judged",
    )
    clamp_signal: str | None = Field(None, description="the native state column of that clamp")
    clamp_value: float | None = Field(None, description="the value it is clamped at (its limits' unit)")
    explained_checks: list[str] | None = Field(
        None,
        description="per explained hold (`Explained`), the finding it would have been (qa_stream_frozen_s,"
        " qa_plateau_fraction, qa_state_frozen_s, qa_native_saturated_fraction, qa_native_dead_dims)",
    )
    explained_by: list[Why] | None = Field(None, description="per explained hold, why (`Why`)")
    explained_signals: list[str] | None = Field(None, description="per explained hold, the native column or stream")
    explained_values: list[float] | None = Field(
        None,
        description="per explained hold, what the check measured (seconds, a share of frames; for still columns, how"
        " many)",
    )
    nonfinite: int | None = Field(None, description="NaN/Inf values in the natives")
    idle_start_s: float | None = Field(None, description="seconds before the first motion")
    idle_end_s: float | None = Field(None, description="seconds after the last motion")
    idle_fraction: float | None = Field(
        None,
        description="share of the episode's frames idle, after the idle ends were cut to idle_keep_s (1.0: its state"
        " never moved); None where no state was measured (no dim in use, no native state column)",
    )
    trim_start: int | None = Field(None, description="first frame kept after trimming the idle start")
    trim_stop: int | None = Field(None, description="frame after the last kept one")
    tracking_corr: float | None = Field(
        None,
        description="action/state correlation at the best lag: the worst moving dim's (`measure_episode`), the median"
        " over the paired moving native columns at ingest (`ingest.qa.phase`)",
    )
    tracking_lag_s: float | None = Field(None, description="median best lag of the state behind the action (s)")
    fingerprint: list[int] | None = Field(None, description="min-hash content fingerprint (uint32 values)")


class Explained(Frozen):
    """One hold a behaviour check would have lowered a tier for, explained by the robot's own signals: recorded as a
    note (a finding of tier high, `qa_explained_<why>`), never a demotion. Stored flat in the record's `explained_*`
    lists (the catalog has one column per field)."""

    check: str = Field(description="the finding it would have been, e.g. qa_stream_frozen_s")
    why: Why
    signal: str = Field(description="the native state column (or stream) held")
    value: float = Field(
        description="what the check measured: seconds held, a share of frames; for still columns, how many"
    )

    @staticmethod
    def of(record: BehaviourRecord) -> list[Explained]:
        """The explained holds a record lists."""
        cols = (record.explained_checks, record.explained_by, record.explained_signals, record.explained_values)
        if cols[0] is None:
            return []
        return [Explained(check=c, why=w, signal=s, value=v) for c, w, s, v in zip(*cols, strict=True)]  # type: ignore[arg-type]

    @staticmethod
    def columns(found: list[Explained]) -> dict[str, list]:
        """The record's `explained_*` fields of `found` (empty lists: measured, nothing explained)."""
        return {
            "explained_checks": [e.check for e in found],
            "explained_by": [e.why for e in found],
            "explained_signals": [e.signal for e in found],
            "explained_values": [float(e.value) for e in found],
        }


class CopyColumns(BaseModel):
    """Columns of the verdict step (`eidata verdicts`, `EpisodeLineage.verdicts`), indexed by the catalog build."""

    duplicate_of: str | None = Field(
        None, description="episode_uid of the earlier episode this one is a verified copy of"
    )
    duplicate_residual: float | None = Field(
        None, description="the copy's residual against it (`ingest.qa.copies`; at most copy_tolerance)"
    )
