"""A manifest's entries as a plan reads them (`jobs.export.lerobot_v3.entries`): the same values a plain read gives,
row for row."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.export.lerobot_v3.entries import ManifestRow, manifest_datasets, manifest_rows


def _entries(path: Path, n: int) -> Path:
    table = pa.table(
        {
            "dataset": [f"datasets/src/sub{i % 3}" for i in range(n)],
            "episode_index": pa.array([i // 3 for i in range(n)], pa.int64()),
            "episode_uid": [f"uid-{i}" for i in range(n)],
            "tier": ["high" if i % 2 else "low" for i in range(n)],
            "split": [None if i == 4 else "train" for i in range(n)],
            "weight": [None if i % 5 == 0 else i / 10 for i in range(n)],
            "reason": ["not read by a plan"] * n,
        }
    )
    pq.write_table(table, path, row_group_size=4)  # several chunks
    return path


def test_rows_equal_a_plain_read(tmp_path: Path) -> None:
    path = _entries(tmp_path / "entries.parquet", 11)
    rows = manifest_rows(path)
    plain = pq.read_table(path).to_pylist()
    assert rows == [ManifestRow(*(r[f] for f in ManifestRow._fields)) for r in plain]
    assert all(isinstance(r.episode_index, int) for r in rows)


def test_datasets_in_the_order_the_rows_first_name_them(tmp_path: Path) -> None:
    rows = manifest_rows(_entries(tmp_path / "entries.parquet", 7))
    named = manifest_datasets((r.dataset, r.episode_index) for r in rows)
    assert list(named) == ["datasets/src/sub0", "datasets/src/sub1", "datasets/src/sub2"]
    assert named["datasets/src/sub0"] == {0, 1, 2}
    assert manifest_datasets([("a", 2), ("b", 1), ("a", 2)]) == {"a": {2}, "b": {1}}
