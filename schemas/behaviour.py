"""Behaviour QA: the thresholds (`BehaviourConfig`, data in a job spec); one episode's values are `BehaviourRecord`
(`schemas.behaviour_record`).

The geometry QA (`schemas.qa`) asks whether the numbers are physically right; behaviour QA asks whether the recording
behaved: a camera that froze, a state that stopped updating, a joint that never moves or sits at its limit, a jump no
motor makes, idle stretches at the start and end, actions the state does not follow, NaN/Inf, the same demonstration
stored twice. Every check measures a value (`ingest.qa.*`); `ingest.qa.findings` compares the record with
the config and says which finding demotes the episode to `low` and which quarantines it, naming value and threshold.

At ingest (`ingest.qa.phase`, `CanonicalizeSpec.behaviour`) the record is measured on each canonical episode
and its natives, the cameras on the frames the writer encodes, and stored in the lineage (`EpisodeLineage.behaviour`,
the thresholds beside it in `behaviour_config`).
A `BehaviourRecord` is flattened into the catalog beside the geometry QA as one nullable `qa_<field>` column per field
(`schemas.qa.catalog_fields`); a field is None where its check does not apply (no camera, no native state, no
action). The verdict step (`eidata verdicts`) adds the copy columns (`CopyColumns`); the catalog build indexes
them (`jobs.catalog.rows`).

Default thresholds were measured on real samples: the GR00T PickNPlace episodes (tests/REAL_SAMPLES.md, tested in
`tests/ingest/qa/test_planted.py` on the natives and `test_phase.py` through ingest), the Bridge debug shard
and a real AgiBot arm log (soul667/DatasetTools @ 8971d93, not redistributable: `test_real_agibot.py` skips without
it); each default sits clear of what the clean episodes give (the figures are in the field descriptions,
`schemas/behaviour.toml`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from schemas.thresholds import threshold_model


class _Behaviour(BaseModel):
    """Thresholds of the behaviour checks (`schemas/behaviour.toml`, which says what each one is and the figures
    behind its default). `*_low` demotes the episode to `low`; `*_quarantine` quarantines it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def glitch_bound(self, unit: str | None) -> float:
        """The physical bound of a glitch in `unit` (rad, m, else span)."""
        values = {"rad": self.glitch_rad_low, "m": self.glitch_m_low}
        return values.get(unit or "span", self.glitch_span_low)


BehaviourConfig = threshold_model("BehaviourConfig", _Behaviour, "behaviour.toml")
