"""The frame table's arrow schema is the one `datasets` derives from lerobot's features, and columns go numpy ->
arrow -> parquet -> `datasets` unchanged for every shape lerobot stores (scalar, vector, 2-D to 5-D)."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.lerobot.table import arrow_schema, column_numpy, table_features, to_arrow
from schemas.lerobot import FeatureSpec

FEATURES = {
    "index": FeatureSpec(dtype="int64", shape=(1,)),
    "done": FeatureSpec(dtype="bool", shape=(1,)),
    "observation.state": FeatureSpec(dtype="float32", shape=(7,)),
    "observation.hand_keypoints": FeatureSpec(dtype="float32", shape=(21, 3)),
    "observation.volume": FeatureSpec(dtype="float64", shape=(2, 3, 4)),
    "observation.images.head": FeatureSpec(dtype="video", shape=(8, 8, 3), names=["height", "width", "channels"]),
}


def _hf_features() -> datasets.Features:
    """lerobot 0.3.3's `get_hf_features_from_features` (lerobot/datasets/utils.py:362-386, installed in the venv,
    whose module needs torchvision to import): video skipped, (1,) -> Value, 1-D -> Sequence(length), n-D -> ArrayND."""
    out = {}
    for key, ft in FEATURES.items():
        if ft.is_video:
            continue
        if ft.shape == (1,):
            out[key] = datasets.Value(ft.dtype)
        elif len(ft.shape) == 1:
            out[key] = datasets.Sequence(length=ft.shape[0], feature=datasets.Value(ft.dtype))
        else:
            out[key] = getattr(datasets, f"Array{len(ft.shape)}D")(shape=ft.shape, dtype=ft.dtype)
    return datasets.Features(out)


def _columns(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "index": np.arange(n, dtype=np.int64),
        "done": np.arange(n) == n - 1,
        "observation.state": rng.normal(size=(n, 7)).astype(np.float32),
        "observation.hand_keypoints": rng.normal(size=(n, 21, 3)).astype(np.float32),
        "observation.volume": rng.normal(size=(n, 2, 3, 4)),
    }


def test_schema_is_what_datasets_derives_from_lerobots_features() -> None:
    ours, theirs = arrow_schema(FEATURES), _hf_features().arrow_schema
    assert ours.names == theirs.names  # video left out, feature order kept
    for name in ours.names:
        t = theirs.field(name).type
        assert ours.field(name).type == getattr(t, "storage_type", t), name
    meta = json.loads(ours.metadata[b"huggingface"])
    assert datasets.Features.from_dict(meta["info"]["features"]) == _hf_features()


def test_columns_round_trip_through_parquet_and_datasets(tmp_path: Path) -> None:
    schema, cols = arrow_schema(FEATURES), _columns(5)
    table = pa.table({k: to_arrow(v, schema.field(k).type) for k, v in cols.items()}, schema=schema)
    pq.write_table(table, tmp_path / "episode_000000.parquet")
    ds = datasets.Dataset.from_parquet(str(tmp_path / "episode_000000.parquet"))
    assert ds.features == _hf_features()
    for name, values in cols.items():  # python values (datasets' numpy format turns float64 ArrayND into float32)
        np.testing.assert_array_equal(np.asarray(ds[name], dtype=values.dtype), values)


def test_staged_flat_columns_read_back_in_their_feature_shape() -> None:
    """Staging keeps an N-D value flat, one fixed-size list per row (ingest/lerobot/staging.py); `column_numpy`
    gives it back as (rows, *shape)."""
    for name, values in _columns(4).items():
        ft = FEATURES[name]
        if ft.shape == (1,):
            col = pa.chunked_array([pa.array(values[:2]), pa.array(values[2:])])
        else:
            size = int(np.prod(ft.shape))
            flat = pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), size)
            col = pa.chunked_array([flat.slice(0, 1), flat.slice(1)])
        out = column_numpy(col, ft)
        assert out.shape == values.shape and out.dtype == values.dtype
        np.testing.assert_array_equal(out, values)


def test_unstorable_features_are_refused_naming_them() -> None:
    with pytest.raises(ValueError, match=r"feature 'observation\.images\.raw': dtype 'image'"):
        table_features({"observation.images.raw": FeatureSpec(dtype="image", shape=(8, 8, 3))})
    with pytest.raises(ValueError, match=r"feature 'x': shape \(1, 1, 1, 1, 1, 1\) is not storable"):
        arrow_schema({"x": FeatureSpec(dtype="float32", shape=(1,) * 6)})
