"""Behaviour QA's thresholds (`BehaviourConfig`, data in a job spec); one episode's values are `BehaviourRecord`
(`schemas.behaviour_record`, which says how they reach the lineage and the catalog).

The geometry QA (`schemas.qa`) asks whether the numbers are physically right; behaviour QA asks whether the recording
behaved: a camera that froze, a state that stopped updating, a joint that never moves or sits at its limit, a jump no
motor makes, idle ends, actions the state does not follow, NaN/Inf, the same demonstration stored twice.
`ingest.qa.findings` compares a record with the config, naming value and threshold.

Default thresholds were measured on real samples: the GR00T PickNPlace episodes (tests/REAL_SAMPLES.md, tested in
`tests/ingest/qa/test_planted.py` on the natives and `test_phase.py` through ingest), the Bridge debug shard
and a real AgiBot arm log (soul667/DatasetTools @ 8971d93, not redistributable: `test_real_agibot.py` skips without
it); each default sits clear of what the clean episodes give (the figures are in `schemas/behaviour.toml`).
"""

from __future__ import annotations

from schemas.frozen import Frozen
from schemas.thresholds import Keyed, threshold_model


class _Behaviour(Keyed, Frozen):
    """Thresholds of the behaviour checks (`schemas/behaviour.toml`, which says what each one is and the figures
    behind its default). `*_low` demotes the episode to `low`; `*_quarantine` quarantines it."""

    def glitch_bound(self, unit: str | None) -> float:
        """The physical bound of a glitch in `unit` (rad, m, else span)."""
        values = {"rad": self.glitch_rad_low, "m": self.glitch_m_low}
        return values.get(unit or "span", self.glitch_span_low)


BehaviourConfig = threshold_model("BehaviourConfig", _Behaviour, "behaviour.toml", "canonicalize.behaviour")
