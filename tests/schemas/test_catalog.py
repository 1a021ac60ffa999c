"""The catalog's row model and its Arrow schema (schemas/catalog.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest
from pydantic import ValidationError

from schemas.catalog import CATALOG_SCHEMA, QA_COLUMNS, CatalogRow
from schemas.tiers import QualityTier


def rows_to_table(rows: list[CatalogRow]) -> pa.Table:
    return pa.Table.from_pylist([r.model_dump() for r in rows], schema=CATALOG_SCHEMA)


def test_catalog_schema_matches_row_model() -> None:
    assert CATALOG_SCHEMA.names == list(CatalogRow.model_fields)


def _row(**update: object) -> dict:
    row = {
        "episode_uid": "oxe/bridge/ep-1",
        "source": "oxe",
        "subset": "bridge",
        "dataset": "datasets/oxe/bridge",
        "episode_index": 3,
        "embodiment": "widowx",
        "tier": "low",
        "tier_reasons": ["gripper never moves"],
        "num_frames": 40,
        "duration_s": 8.0,
        "has_action": True,
        "has_hands": False,
        "raw_path": "raw/bridge/ep-1",
        "content_hash": "ab" * 16,
        "pipeline_version": "eidata-canon-1",
        "ingested_at": datetime(2026, 11, 23, 1, 2, 3, tzinfo=UTC),
    }
    return {**row, **update}


def test_rows_survive_the_arrow_table() -> None:
    qa_name = QA_COLUMNS[0][0]
    rows = [CatalogRow(**_row()), CatalogRow(**_row(episode_index=4, tier="high", **{qa_name: None}))]
    table = rows_to_table(rows)
    assert table.schema == CATALOG_SCHEMA and table.num_rows == 2
    back = [CatalogRow(**r) for r in table.to_pylist()]
    assert back == rows
    assert back[1].tier is QualityTier.high and back[0].latents_ready is False  # defaults written, not dropped
    assert all(table.schema.field(name).nullable for name, *_ in QA_COLUMNS)


@pytest.mark.parametrize(
    ("update", "field"),
    [({"episode_index": -1}, "episode_index"), ({"tier": "great"}, "tier"), ({"duration_s": -0.5}, "duration_s")],
)
def test_a_bad_value_names_its_field(update: dict, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        CatalogRow(**_row(**update))
    assert [e["loc"] for e in err.value.errors()] == [(field,)]


def test_an_unknown_column_is_refused() -> None:
    with pytest.raises(ValidationError) as err:
        CatalogRow(**_row(qa_made_up=1.0))
    assert [(e["loc"], e["type"]) for e in err.value.errors()] == [(("qa_made_up",), "extra_forbidden")]
