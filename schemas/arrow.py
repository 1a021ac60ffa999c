"""The Arrow type of a contract's field, so a parquet table's schema is its row model's (the catalog, the quarantine,
a manifest's entries), never a second list to keep in step."""

from __future__ import annotations

import types
from datetime import datetime
from typing import Any, Literal, Union, get_args, get_origin

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel

_SCALARS = {float: pa.float64(), int: pa.int64(), bool: pa.bool_(), datetime: pa.timestamp("us", tz="UTC")}


def arrow_type(annotation: Any) -> pa.DataType:
    """float -> float64, int -> int64, bool -> bool, datetime -> timestamp[us, UTC], str (a str enum or a Literal of
    strings too) -> string, list[x] or tuple[x, ...] -> list<x>; Optional stripped (every column is nullable)."""
    if get_origin(annotation) in (Union, types.UnionType):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    if get_origin(annotation) in (list, tuple):  # list[x], tuple[x, ...]
        return pa.list_(arrow_type(get_args(annotation)[0]))
    if get_origin(annotation) is Literal or (isinstance(annotation, type) and issubclass(annotation, str)):
        return pa.string()
    return _SCALARS[annotation]


def arrow_schema(model: type[BaseModel]) -> pa.Schema:
    """One nullable column per field of `model`, in field order."""
    return pa.schema([(name, arrow_type(f.annotation)) for name, f in model.model_fields.items()])


def leaf_type(t: pa.DataType) -> pa.DataType:
    """The value type inside any nesting of list / large_list / fixed_size_list."""
    while pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        t = t.value_type
    return t


def grouped(keys: pa.Array | pa.ChunkedArray, values: pa.Array | pa.ChunkedArray) -> dict[Any, list[Any]]:
    """Each key's values in the rows' order, the keys in the order they first come: a stable sort by the key's code,
    no Python object made per row but its value (a manifest's or the catalog's 1M rows grouped by dataset)."""
    codes = pc.dictionary_encode(keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys, "encode")
    of = codes.indices.to_numpy(zero_copy_only=False)
    rows = values.to_numpy(zero_copy_only=False)[np.argsort(of, kind="stable")]
    ends = np.cumsum(np.bincount(of, minlength=len(codes.dictionary))).tolist()
    starts = [0, *ends][: len(ends)]
    return {k: rows[a:b].tolist() for k, a, b in zip(codes.dictionary.to_pylist(), starts, ends, strict=True)}
