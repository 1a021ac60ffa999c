"""Sorted runs and their merge (`jobs.catalog.runs`): the merged stream is the whole table's `sort_by`, whatever the
runs' sizes, pieces and merges in between; `Rows` cuts it into tables of a chosen size."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pytest

import jobs.catalog.runs as runs
from jobs.catalog.runs import Rows, Runs, merge

KEYS = ("uid", "name", "index")
SCHEMA = pa.schema(
    [("uid", pa.string()), ("name", pa.string()), ("index", pa.int64()), ("tags", pa.list_(pa.string()))]
)


def _rows(n: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    uids = [f"s/{rng.choice('abc')}/{rng.randrange(40)}" for _ in range(n)]  # equal uids: the other keys decide
    return pa.table(
        {
            "uid": uids,
            "name": [rng.choice(["d/a", "d-b", "d/a/b", "é"]) for _ in range(n)],  # "-" sorts before "/" in bytes
            "index": [rng.randrange(5) for _ in range(n)],
            "tags": [[str(rng.random())] if rng.random() < 0.5 else [] for _ in range(n)],
        },
        schema=SCHEMA,
    )


@pytest.mark.parametrize(("run_rows", "piece", "fan_in"), [(7, 2, 3), (50, 16, 64), (1, 1, 2)])
def test_merged_runs_are_the_whole_sort(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_rows: int, piece: int, fan_in: int
) -> None:
    monkeypatch.setattr(runs, "FAN_IN", fan_in)
    table = _rows(120, run_rows)
    stored = Runs(tmp_path / "runs", SCHEMA, KEYS, run_rows, piece)
    for start in range(0, table.num_rows, 5):
        stored.add(table.slice(start, 5))
    order = [(k, "ascending") for k in KEYS]
    kept = _rows(40, 99).sort_by(order)  # a run read from elsewhere (a kept part), in pieces of 3
    merged = pa.concat_tables(merge([*stored.runs(), (kept.slice(i, 3) for i in range(0, 40, 3))], KEYS))
    whole = pa.concat_tables([table, kept]).sort_by(order)
    assert merged.select(KEYS).equals(whole.select(KEYS))
    assert sorted(merged.to_pylist(), key=repr) == sorted(whole.to_pylist(), key=repr)
    assert len(list((tmp_path / "runs").iterdir())) <= (fan_in - 1) * 6  # runs merged as a level fills


def test_runs_without_a_sort_keep_the_order_they_came_in(tmp_path: Path) -> None:
    table = _rows(30, 1)
    stored = Runs(tmp_path / "runs", SCHEMA, (), 8, 3)
    for start in range(0, 30, 4):
        stored.add(table.slice(start, 4))
    assert pa.concat_tables(t for r in stored.runs() for t in r).equals(table)


def test_rows_are_taken_in_tables_of_the_size_asked_each_one_chunk() -> None:
    table = _rows(23, 2)
    rows = Rows(table.slice(i, 4) for i in range(0, 23, 4))
    groups = list(rows.groups(10, 4))
    assert [t.num_rows for t in groups] == [4, 4, 2]
    assert all(c.num_chunks == 1 for t in groups for c in t.columns)
    assert rows.more() and rows.take(100).num_rows == 13 and not rows.more()  # type: ignore[union-attr]
    assert pa.concat_tables(groups).equals(table.slice(0, 10))
