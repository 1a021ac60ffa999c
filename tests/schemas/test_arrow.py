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


def test_rows_grouped_by_key_keep_their_order_and_the_keys_theirs() -> None:
    """Issue 99: `grouped` gives what a loop over the rows gives (each key's values in row order, keys as first
    seen, a null key its own group), across chunks and for no row."""
    import random

    from schemas.arrow import grouped

    rng = random.Random(0)
    keys = [rng.choice(["b", "a", "c", None, "datasets/x/y"]) for _ in range(2_000)]
    values = [rng.randrange(10**9) for _ in keys]
    loop: dict[str | None, list[int]] = {}
    for k, v in zip(keys, values, strict=True):
        loop.setdefault(k, []).append(v)
    chunked = pa.table({"k": keys, "v": values}).to_batches(max_chunksize=300)
    table = pa.Table.from_batches(chunked)
    assert table["k"].num_chunks > 1
    found = grouped(table["k"], table["v"])
    assert found == loop and list(found) == list(loop)
    assert grouped(pa.array([], pa.string()), pa.array([], pa.int64())) == {}
