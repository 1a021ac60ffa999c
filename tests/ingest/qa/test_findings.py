"""Findings name value and threshold and route to the right tier; no finding, no change."""

from __future__ import annotations

from ingest.qa.findings import dataset_findings, findings, route
from schemas.behaviour import BehaviourConfig, BehaviourRecord, catalog_fields
from schemas.qa import catalog_fields as qa_catalog_fields
from schemas.tiers import QualityTier

CFG = BehaviourConfig()


def test_clean_record_keeps_the_tier() -> None:
    rec = BehaviourRecord(cam_frozen_s=0.1, state_frozen_s=0.0, nonfinite=0, jump_sigma=30.0, tracking_corr=0.96)
    assert findings(rec, CFG) == [] and route(QualityTier.high, []) == (QualityTier.high, [])


def test_low_and_quarantine_routing_with_value_and_threshold() -> None:
    rec = BehaviourRecord(cam_frozen_s=2.0, nonfinite=3)
    found = findings(rec, CFG)
    assert [(f.code, f.tier) for f in found] == [
        ("qa_nonfinite", QualityTier.rejected),
        ("qa_cam_frozen_s", QualityTier.low),
    ]
    tier, reasons = route(QualityTier.high, found)
    assert tier == QualityTier.rejected
    assert reasons[1] == "qa_cam_frozen_s: camera frozen 2.00 s while the robot moves > 1.00 s"
    assert route(QualityTier.actionless, [found[1]])[0] == QualityTier.actionless  # never raised


def test_catalog_columns_do_not_collide_with_the_geometry_qa() -> None:
    ours = {name for name, *_ in catalog_fields()}
    assert all(n.startswith("qa_") for n in ours) and not ours & {name for name, *_ in qa_catalog_fields()}


def test_dataset_findings_name_the_episodes() -> None:
    found = dataset_findings(["a"] * 30 + ["b"] * 2, [40, 10, 40, 40], CFG)
    by = {f.code: f for f in found}
    assert set(by) == {"qa_task_imbalance", "qa_short_episodes"}  # copies: the verdict step, on the signals
    assert by["qa_task_imbalance"].value == 15.0 and by["qa_short_episodes"].episodes == (1,)
    assert dataset_findings(["a", "b"], [40, 40], CFG) == []
