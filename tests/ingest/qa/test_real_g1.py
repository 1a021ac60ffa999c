"""The real Unitree G1 Inspire teleoperation set (`real_signals.G1_ROOT`, not redistributable: skipped without it)
through canonicalization: clean demonstrations keep their tier with every signal far below the glitch and plateau
bounds; the issue's planted defects are demoted with their reason (a +0.8 rad jump of three wrist joints for 0.1 s,
which the one-frame jump check scored 17 sigmas and kept high; an arm joint clipped at one value on 35 % of its
frames, which nothing saw). The whole set: `benchmarks/behaviour_real.py` (0 of 100 demoted; 200/200 jumps, 100/100
clamps)."""

from __future__ import annotations

import numpy as np

from schemas.canonicalize import CanonicalizeSpec
from schemas.tiers import QualityTier
from tests.ingest.qa.real_signals import G1_STATE, canonical, clamp, g1_raws, wrist_jump

SPEC = CanonicalizeSpec()
CFG = SPEC.behaviour


def codes(ep) -> list[str]:
    return [r.split(":", 1)[0] for r in ep.tier_reasons if r.startswith("qa_") and not r.startswith("qa_idle trimmed")]


def test_clean_g1_demonstrations_keep_their_tier() -> None:
    for raw in g1_raws(range(0, 100, 10)):
        ep = canonical(raw, SPEC)
        b = ep.behaviour
        assert ep.tier == QualityTier.high and codes(ep) == [], (raw.ref.raw_id, ep.tier_reasons)
        score = min(b.glitch_value / CFG.glitch_bound(b.glitch_unit), b.glitch_sigma / CFG.glitch_sigma_low)
        assert score < 0.7 and b.plateau_fraction == 0.0, (raw.ref.raw_id, b)


def test_planted_wrist_jump_and_clamp_are_demoted_with_their_reason() -> None:
    for k, raw in enumerate(g1_raws(range(3, 100, 25))):
        n = len(raw.states[G1_STATE])
        wrist = [11, 12, 13] if k % 2 == 0 else [4, 5, 6]  # right (the task's arm), left (resting)
        ep = canonical(wrist_jump(raw, G1_STATE, wrist, n // 2), SPEC)
        assert ep.tier == QualityTier.low and "qa_glitch_value" in codes(ep), (raw.ref.raw_id, ep.tier_reasons)
        v = raw.states[G1_STATE].values
        joint = max(range(7, 14), key=lambda c: np.ptp(v[:, c]))  # the right arm's most moving joint
        planted, top = clamp(raw, G1_STATE, joint)
        ep = canonical(planted, SPEC)
        assert ep.tier == QualityTier.low and codes(ep) == ["qa_plateau_fraction"], (raw.ref.raw_id, ep.tier_reasons)
        assert ep.behaviour.plateau_signal == ep.natives.state_names[joint] and ep.behaviour.plateau_value == top
