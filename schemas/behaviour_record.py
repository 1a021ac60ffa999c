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
from schemas.thresholds import TYPES, record_model

# Why a held reading is the robot's own behaviour, not a defect (`ingest.qa.explain`): held at an end of its range,
# its command still as well (the actuator not used), its command pushing into the held value and not back across it
# (contact: a gripper on an object), or its command within the encoder's resolution of it (a servo's deadband).
Why = Literal["range_end", "unused", "contact", "deadband"]


class _Record(BaseModel):
    """One episode's measured behaviour; None where a check does not apply. Unknown keys are ignored."""

    model_config = ConfigDict(extra="ignore")


# its fields, each what a check measures: schemas/behaviour_record.toml
BehaviourRecord = record_model("BehaviourRecord", _Record, "behaviour_record.toml", {**TYPES, "list[Why]": list[Why]})


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
