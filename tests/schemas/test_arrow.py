"""The Arrow type of a contract's field (schemas/arrow.py): each Python type its column, Optional stripped, a type
with no column refused; the tables' schemas are their row models'."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import pyarrow as pa
import pytest
from pydantic import BaseModel

from schemas.arrow import arrow_schema, arrow_type
from schemas.tiers import QualityTier


def test_each_field_type_has_its_column() -> None:
    class Row(BaseModel):
        a: float
        b: int | None
        c: bool
        d: datetime
        e: QualityTier | None
        f: Literal["x", "y"]
        g: list[str]
        h: list[int] | None
        i: tuple[str, ...] | None

    assert arrow_schema(Row) == pa.schema(
        [
            ("a", pa.float64()),
            ("b", pa.int64()),
            ("c", pa.bool_()),
            ("d", pa.timestamp("us", tz="UTC")),
            ("e", pa.string()),
            ("f", pa.string()),
            ("g", pa.list_(pa.string())),
            ("h", pa.list_(pa.int64())),
            ("i", pa.list_(pa.string())),
        ]
    )
    assert all(field.nullable for field in arrow_schema(Row))


def test_a_type_without_a_column_is_refused() -> None:
    with pytest.raises(KeyError):
        arrow_type(dict[str, int])
