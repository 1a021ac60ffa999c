"""The QA record as lineage stores it (measured keys only, through a real episodes.jsonl line) and as the catalog
flattens it (one nullable qa_* column per field, with its arrow type)."""

from __future__ import annotations

import json

import pyarrow as pa

from schemas.catalog import CATALOG_SCHEMA, CatalogRow
from schemas.corpus import LINEAGE_KEY, EpisodeLineage
from schemas.qa import Finding, QAConfig, QARecord, Verdict, catalog_fields, record_from_columns
from schemas.tiers import QualityTier


def test_lineage_keeps_only_the_measured_invariants() -> None:
    rec = QARecord(frames=12, approach_down=1.0, approach_hist=[12] + [0] * 17, speed_p99=0.3)
    line = json.loads(
        json.dumps({"episode_index": 0, LINEAGE_KEY: EpisodeLineage(episode_uid="a/b/c", qa=rec).to_json()})
    )
    assert set(line[LINEAGE_KEY]["qa"]) == {"frames", "approach_down", "approach_hist", "speed_p99"}
    back = EpisodeLineage.of(line)
    assert back.qa == rec and back.to_json() == line[LINEAGE_KEY]  # read and written back: the same keys
    assert "qa" not in EpisodeLineage(episode_uid="a/b/c").to_json()  # no QA: no key at all


def test_a_newer_lineage_with_more_invariants_still_reads() -> None:
    assert EpisodeLineage.of({LINEAGE_KEY: {"qa": {"frames": 3, "hands_in_mirror": 0.5}}}).qa == QARecord(frames=3)


def test_catalog_has_one_typed_nullable_column_per_field() -> None:
    cols = {name: arrow for name, _, arrow, _ in catalog_fields(QARecord)}
    assert len(cols) == len(QARecord.model_fields)
    assert cols["qa_hands_in_front"] == pa.float64() and cols["qa_frames"] == pa.int64()
    assert cols["qa_approach_hist"] == pa.list_(pa.int64())
    assert all(CATALOG_SCHEMA.field(n).type == t and CATALOG_SCHEMA.field(n).nullable for n, t in cols.items())
    assert all(CatalogRow.model_fields[n].default is None for n in cols)


def test_catalog_columns_back_to_a_record() -> None:
    row = {"dataset": "d", "qa_frames": 4, "qa_speed_p99": 0.5, "qa_hands_in_front": None}
    assert record_from_columns({**row, "qa_cam_frozen_s": 1.0}, QARecord) == QARecord(frames=4, speed_p99=0.5)
    assert record_from_columns({"dataset": "d", "qa_frames": None}, QARecord) is None


def test_the_thresholds_ride_with_the_episode() -> None:
    """The geometry thresholds an episode's dataset is judged with, every field as set (defaults included), read back
    as they were written."""
    config = QAConfig(min_in_image_fraction=0.8)
    line = {LINEAGE_KEY: EpisodeLineage(episode_uid="a/b/c", qa_config=config.model_dump()).to_json()}
    assert set(json.loads(json.dumps(line))[LINEAGE_KEY]["qa_config"]) == set(QAConfig.model_fields)
    assert EpisodeLineage.of(json.loads(json.dumps(line))).qa_config == config


def test_a_verdict_says_why_to_quarantine() -> None:
    low = Finding(code="qa_x", tier=QualityTier.low, value=2.0, threshold=1.0, message="x 2 > 1")
    rejected = low.model_copy(update={"code": "qa_y", "tier": QualityTier.rejected})
    assert Verdict(tier=QualityTier.low, reasons=[low.reason()], findings=[low]).rejected() is None
    assert Verdict(tier=QualityTier.rejected, findings=[low, rejected]).rejected() == "qa_y: x 2 > 1"
