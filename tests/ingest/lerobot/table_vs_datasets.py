"""The frame-table checks against HuggingFace `datasets`, run in a child process by test_table.py: importing
`datasets` registers its ArrayND arrow extension types for the whole process, after which pyarrow reads every
ArrayND parquet column as that extension type, which would change what later tests in the same process read.

`python -m tests.ingest.lerobot.table_vs_datasets schema` / `... round-trip DIR` exits 0 when the check holds."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ingest.lerobot.table import arrow_schema, to_arrow
from schemas.lerobot_features import FeatureSpec

FEATURES = {
    "index": FeatureSpec(dtype="int64", shape=(1,)),
    "done": FeatureSpec(dtype="bool", shape=(1,)),
    "observation.state": FeatureSpec(dtype="float32", shape=(7,)),
    "observation.hand_keypoints": FeatureSpec(dtype="float32", shape=(21, 3)),
    "observation.volume": FeatureSpec(dtype="float64", shape=(2, 3, 4)),
    "observation.images.head": FeatureSpec(dtype="video", shape=(8, 8, 3), names=["height", "width", "channels"]),
}


def columns(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "index": np.arange(n, dtype=np.int64),
        "done": np.arange(n) == n - 1,
        "observation.state": rng.normal(size=(n, 7)).astype(np.float32),
        "observation.hand_keypoints": rng.normal(size=(n, 21, 3)).astype(np.float32),
        "observation.volume": rng.normal(size=(n, 2, 3, 4)),
    }


def hf_features() -> Any:
    """lerobot 0.3.3's `get_hf_features_from_features` (lerobot/datasets/utils.py:362-386, installed in the venv,
    whose module needs torchvision to import): video skipped, (1,) -> Value, 1-D -> Sequence(length), n-D -> ArrayND."""
    import datasets

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


def check_schema() -> None:
    import datasets

    ours, theirs = arrow_schema(FEATURES), hf_features().arrow_schema
    assert ours.names == theirs.names, (ours.names, theirs.names)  # video left out, feature order kept
    for name in ours.names:
        t = theirs.field(name).type
        assert ours.field(name).type == getattr(t, "storage_type", t), name
    meta = json.loads(ours.metadata[b"huggingface"])
    assert datasets.Features.from_dict(meta["info"]["features"]) == hf_features()


def check_round_trip(folder: Path) -> None:
    import datasets

    schema, cols = arrow_schema(FEATURES), columns(5)
    table = pa.table({k: to_arrow(v, schema.field(k).type) for k, v in cols.items()}, schema=schema)
    pq.write_table(table, folder / "episode_000000.parquet")
    ds = datasets.Dataset.from_parquet(str(folder / "episode_000000.parquet"))
    assert ds.features == hf_features()
    for name, values in cols.items():  # python values (datasets' numpy format turns float64 ArrayND into float32)
        np.testing.assert_array_equal(np.asarray(ds[name], dtype=values.dtype), values)


if __name__ == "__main__":
    if sys.argv[1] == "schema":
        check_schema()
    else:
        check_round_trip(Path(sys.argv[2]))
