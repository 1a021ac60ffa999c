"""Findings name value and threshold and route to the right tier in one `Verdict`; no finding, no change."""

from __future__ import annotations

from typing import get_args

from ingest.qa.findings import BOUNDS, IDLE_BOUNDS, LAST_BOUNDS, WHY_TEXT, episode_findings, findings, route
from schemas.behaviour import BehaviourConfig
from schemas.behaviour_record import BehaviourRecord, Why
from schemas.qa import QARecord, Verdict, catalog_fields
from schemas.tiers import QualityTier

CFG = BehaviourConfig()


def test_clean_record_keeps_the_tier() -> None:
    rec = BehaviourRecord(cam_frozen_s=0.1, state_frozen_s=0.0, nonfinite=0, jump_sigma=30.0, tracking_corr=0.96)
    assert findings(rec, CFG) == [] and route(QualityTier.high, []) == Verdict(tier=QualityTier.high)


def test_low_and_quarantine_routing_with_value_and_threshold() -> None:
    rec = BehaviourRecord(cam_frozen_s=2.0, nonfinite=3)
    found = findings(rec, CFG)
    assert [(f.code, f.tier) for f in found] == [
        ("qa_nonfinite", QualityTier.rejected),
        ("qa_cam_frozen_s", QualityTier.low),
    ]
    verdict = route(QualityTier.high, found)
    assert verdict.tier == QualityTier.rejected and verdict.findings == found
    assert verdict.reasons[1] == "qa_cam_frozen_s: camera frozen 2.00 s while the robot moves > 1.00 s"
    assert verdict.rejected() == (
        "qa_nonfinite: 3 NaN/Inf values in the natives (quarantine at canonicalize.behaviour.nonfinite_quarantine 1+)"
    )
    assert route(QualityTier.actionless, [found[1]]).tier == QualityTier.actionless  # never raised
    assert route(QualityTier.high, [found[1]]).rejected() is None


def test_ingest_routes_its_own_bounds_and_leaves_dead_dims_to_the_verdict_step() -> None:
    rec = BehaviourRecord(jump_sigma=30.0, dead_dims=[3], tracking_corr=0.6)
    assert {f.code for f in findings(rec, CFG)} == {"qa_dead_dims"}  # the per-dataset bounds: 150 sigmas, 0.5
    found = episode_findings(rec, CFG)  # ingest's: the canonical wrists' 20 sigmas, the natives' median 0.8
    assert [(f.code, f.threshold) for f in found] == [("qa_jump_sigma", 20.0), ("qa_tracking_corr", 0.8)]


def test_catalog_columns_do_not_collide_with_the_geometry_qa() -> None:
    ours = {name for name, *_ in catalog_fields(BehaviourRecord)}
    assert all(n.startswith("qa_") for n in ours) and not ours & {name for name, *_ in catalog_fields(QARecord)}


def test_saturation_and_dead_dims_name_their_columns() -> None:
    """A finding names the columns it is about (newcomer review 5: "native columns [4]" told a curator nothing): the
    native ones by the names the record keeps, the canonical ones by the canonical state's names."""
    rec = BehaviourRecord(
        native_saturated_fraction=0.55,
        native_saturated_dims=[4],
        native_saturated_signals=["observation.state:joint_5.pos"],
        saturated_fraction=0.95,
        saturated_dims=[0],
        dead_dims=[1],
    )
    by = {f.code: f.message for f in findings(rec, CFG)}
    assert by["qa_native_saturated_fraction"].endswith("(observation.state:joint_5.pos [4])")
    assert by["qa_saturated_fraction"].endswith("(left.wrist.x [0])")
    assert by["qa_dead_dims"].startswith("dead dims left.wrist.y [1]:")
    old = rec.model_copy(update={"native_saturated_signals": None})  # a record made before names were kept
    assert next(f.message for f in findings(old, CFG) if f.code == "qa_native_saturated_fraction").endswith("([4])")


def test_the_bounds_table_names_fields_that_exist_and_says_every_why() -> None:
    """behaviour_bounds.toml: each bound reads a record field (or a value `findings` derives) against a config
    threshold, and every explanation of a hold (`Why`) has its sentence."""
    derived = {"degenerate", "dead_dim_count", "nonfinite_limit", "zero", "idle_held"}
    for code, value, threshold, tier, message, setting in (*BOUNDS, *IDLE_BOUNDS, *LAST_BOUNDS):
        assert code.startswith("qa_") and QualityTier(tier) in (QualityTier.low, QualityTier.rejected)
        assert value in BehaviourRecord.model_fields or value in derived, code
        assert threshold in BehaviourConfig.model_fields or threshold in derived, code
        if QualityTier(tier) is QualityTier.rejected:  # a quarantine names the setting to relax (issue 97 item 5)
            assert setting in BehaviourConfig.model_fields and "{key}" in message, code
    assert set(WHY_TEXT) == set(get_args(Why))
