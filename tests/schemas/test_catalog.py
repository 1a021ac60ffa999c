"""The catalog's row model and its Arrow schema (schemas/catalog.py)."""

from __future__ import annotations

from schemas.catalog import CATALOG_SCHEMA, CatalogRow


def test_catalog_schema_matches_row_model() -> None:
    assert CATALOG_SCHEMA.names == list(CatalogRow.model_fields)
