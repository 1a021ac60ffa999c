"""The frame table's arrow schema is the one `datasets` derives from lerobot's features, and columns go numpy ->
arrow -> parquet -> `datasets` unchanged for every shape lerobot stores (scalar, vector, 2-D to 5-D)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from ingest.lerobot.table import arrow_schema, column_numpy, table_features
from schemas.lerobot_features import FeatureSpec
from tests.ingest.lerobot.table_vs_datasets import FEATURES, columns

REPO = Path(__file__).resolve().parents[3]


def _child(*args: str) -> None:
    """A check of table_vs_datasets.py in a child process (importing `datasets` changes how pyarrow reads ArrayND)."""
    run = subprocess.run(
        [sys.executable, "-m", "tests.ingest.lerobot.table_vs_datasets", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]


def test_schema_is_what_datasets_derives_from_lerobots_features() -> None:
    _child("schema")


def test_columns_round_trip_through_parquet_and_datasets(tmp_path: Path) -> None:
    _child("round-trip", str(tmp_path))
    assert (tmp_path / "episode_000000.parquet").is_file()


def test_staged_flat_columns_read_back_in_their_feature_shape() -> None:
    """Staging keeps an N-D value flat, one fixed-size list per row (ingest/lerobot/staging.py); `column_numpy`
    gives it back as (rows, *shape)."""
    for name, values in columns(4).items():
        ft = FEATURES[name]
        if ft.shape == (1,):
            col = pa.chunked_array([pa.array(values[:2]), pa.array(values[2:])])
        else:
            size = int(np.prod(ft.shape))
            flat = pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), size)
            col = pa.chunked_array([flat.slice(0, 1), flat.slice(1)])
        out = column_numpy(col, ft.shape)
        assert out.shape == values.shape and out.dtype == values.dtype
        np.testing.assert_array_equal(out, values)


def test_unstorable_features_are_refused_naming_them() -> None:
    with pytest.raises(ValueError, match=r"feature 'observation\.images\.raw': dtype 'image'"):
        table_features({"observation.images.raw": FeatureSpec(dtype="image", shape=(8, 8, 3))})
    with pytest.raises(ValueError, match=r"feature 'x': shape \(1, 1, 1, 1, 1, 1\) is not storable"):
        arrow_schema({"x": FeatureSpec(dtype="float32", shape=(1,) * 6)})
