"""The per-episode frame table: arrow schema as lerobot 0.3.3 (datasets 3.6) writes it, its `huggingface` metadata
from the feature schema (`schemas/lerobot_features.py`), and its columns between numpy arrays and arrow arrays of
those types."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa

from adapters.lerobot_format.layout import column_to_numpy
from schemas.arrow import leaf_type
from schemas.lerobot_features import ARRAY_ND, FeatureSpec, hf_features


def value_type(dtype: str) -> pa.DataType:
    """A feature dtype's arrow value type (also the staging file's)."""
    return pa.bool_() if dtype == "bool" else pa.from_numpy_dtype(dtype)


def arrow_field(name: str, ft: FeatureSpec) -> pa.Field:
    """Column type per lerobot's `get_hf_features_from_features`: (1,) scalar, 1-D fixed_size_list, 2-5-D ArrayND."""
    vt = value_type(ft.dtype)
    shape = tuple(ft.shape)
    if shape == (1,):
        return pa.field(name, vt)
    if len(shape) == 1:
        return pa.field(name, pa.list_(vt, shape[0]))
    if len(shape) in ARRAY_ND:
        storage: pa.DataType = vt
        for _ in shape:
            storage = pa.list_(storage)  # datasets stores ArrayND as variable lists
        meta = {
            "ARROW:extension:name": f"datasets.features.features.{ARRAY_ND[len(shape)]}ExtensionType",
            "ARROW:extension:metadata": json.dumps((list(shape), ft.dtype)),
        }
        return pa.field(name, storage, metadata=meta)
    raise ValueError(f"feature {name!r}: shape {shape} is not storable in a LeRobot parquet (1 to 5 dims)")


def table_features(features: Mapping[str, FeatureSpec]) -> dict[str, FeatureSpec]:
    """The features stored in parquet: everything but video, in feature order."""
    for name, ft in features.items():
        if ft.dtype in ("image", "string"):
            raise ValueError(f"feature {name!r}: dtype {ft.dtype!r} is not supported by this writer (use video)")
    return {k: ft for k, ft in features.items() if not ft.is_video}


def arrow_schema(features: Mapping[str, FeatureSpec]) -> pa.Schema:
    cols = table_features(features)
    fields = [arrow_field(k, ft) for k, ft in cols.items()]  # first: it names a feature whose shape cannot be stored
    return pa.schema(fields, metadata={"huggingface": json.dumps(hf_features(cols))})


def column_numpy(col: pa.ChunkedArray, shape: Sequence[int]) -> np.ndarray:
    """A column of a feature of `shape` as (rows, *shape), a (1,) one as (rows,): the reader's array of it
    (`column_to_numpy`) in the feature's shape (a staged N-D value is a flat list)."""
    values = column_to_numpy(col)
    return values if tuple(shape) == (1,) else values.reshape(len(values), *shape)


def to_arrow(values: np.ndarray, typ: pa.DataType) -> pa.Array:
    """Numpy column -> the parquet column type (scalar, fixed_size_list, or nested lists for ArrayND)."""
    if pa.types.is_fixed_size_list(typ):
        return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1), type=typ.value_type), typ.list_size)
    if pa.types.is_list(typ):
        shape = values.shape[1:]
        inner = pa.array(values.reshape(-1), type=leaf_type(typ))
        for size in reversed(shape):
            count = len(inner) // size
            inner = pa.ListArray.from_arrays(pa.array(np.arange(count + 1, dtype=np.int32) * size), inner)
        return inner
    return pa.array(values, type=typ)
