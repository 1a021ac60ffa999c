"""A rebuild's merge holds a bounded part of the catalog (`jobs.catalog.merged`, issue 99): with every dataset parsed,
the most Arrow memory the rebuild allocates at once does not grow with the corpus (the sort of the whole catalog it
replaced held it several times: 8.68 GiB at 1,000,042 episodes), and what it writes is the whole sort's, byte for byte.

Memory is counted by a pool of its own (`pa.proxy_memory_pool`: every byte Arrow allocates through the default pool),
not sampled: the same figures whatever the machine's load.

Sorted runs and their merge (`Runs`, `merge`): the merged stream is the whole table's `sort_by`, whatever the
runs' sizes, pieces and merges in between; `Rows` cuts it into tables of a chosen size."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import jobs.catalog.build as build
import jobs.catalog.merged as runs
import jobs.catalog.parts as parts
import jobs.runtime.ray_map as ray_map
from adapters.storage.corpus import Corpus
from benchmarks._replicate import replicate
from jobs.catalog.build import rebuild_catalog
from jobs.catalog.merged import Rows, Runs, merge
from jobs.catalog.parts import parquet_files
from schemas.catalog import CATALOG_SCHEMA
from schemas.corpus import EPISODES_DIR
from tests.fixtures.corpus import episode, sort_catalog, write_dataset

EPISODES = 8  # in the one dataset the corpora are copies of


@pytest.fixture(scope="module")
def one(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("one")
    eps = [episode(6 + k, f"task {k % 3}", f"oxe/bridge/e{k}", "franka") for k in range(EPISODES)]
    write_dataset(root / "datasets/oxe/bridge", "franka", eps)
    return root


def _corpus(one: Path, tmp_path: Path, episodes: int) -> Path:
    root = tmp_path / f"c{episodes}"
    (root / "datasets/oxe").mkdir(parents=True)
    src = one / "datasets/oxe/bridge"
    for p in src.rglob("*"):
        if p.is_file():
            (root / "datasets/oxe/bridge" / p.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
            (root / "datasets/oxe/bridge" / p.relative_to(src)).write_bytes(p.read_bytes())
    assert replicate(root, episodes) == episodes
    return root


POOLS: list[pa.MemoryPool] = []  # kept: a buffer still held when a pool is freed would point into nothing


def _peak(root: Path) -> int:
    """The most bytes Arrow held at once while `root`'s catalog was rebuilt with every dataset parsed."""
    pool = pa.proxy_memory_pool(pa.default_memory_pool())
    POOLS.append(pool)
    before = pa.default_memory_pool()
    pa.set_memory_pool(pool)
    try:
        rebuild_catalog(Corpus(root), rehash=True)
    finally:
        pa.set_memory_pool(before)
    return pool.max_memory()


def _small(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs of 16 rows read 2 at a time, 4 runs merged into one, row groups of 8 rows, parts of 64 rows, a dataset
    parsed at a time (the driver holds a few tasks' results): what a rebuild holds at a million episodes, at a
    hundred."""
    monkeypatch.setattr(ray_map, "PER_TASK", 1)
    monkeypatch.setattr(runs, "RUN_ROWS", 16)
    monkeypatch.setattr(runs, "PIECE_ROWS", 2)
    monkeypatch.setattr(runs, "FAN_IN", 4)
    monkeypatch.setattr(parts, "ROW_GROUP_SIZE", 8)
    monkeypatch.setattr(build, "ROWS_PER_PART", 64)


def test_the_rebuild_holds_no_more_of_a_corpus_four_times_as_large(
    one: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _small(monkeypatch)
    small, large = _corpus(one, tmp_path, 64), _corpus(one, tmp_path, 256)
    held = [_peak(small), _peak(large)]
    catalog = sum(pq.read_table(p).nbytes for p in parquet_files(large, EPISODES_DIR))  # 256 rows in Arrow memory
    # the whole sort held the 192 more rows at least twice (their concatenation, the sort's copy); the merge holds a
    # piece of each of 12 more runs
    assert held[1] - held[0] < catalog / 4, (held, catalog)


def test_parts_are_the_whole_sort_split(one: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _small(monkeypatch)
    root = _corpus(one, tmp_path, 256)
    rebuild_catalog(Corpus(root), rehash=True)
    written = parquet_files(root, EPISODES_DIR)
    table = sort_catalog(pa.concat_tables([pq.read_table(p) for p in written]).cast(CATALOG_SCHEMA))
    assert [pq.ParquetFile(p).metadata.num_rows for p in written] == [64] * 4
    assert [pq.ParquetFile(written[0]).metadata.row_group(i).num_rows for i in range(8)] == [8] * 8
    whole = tmp_path / "whole"
    for i, start in enumerate(range(0, table.num_rows, 64)):
        parts.write_parquet_atomic(table.slice(start, 64), whole / f"part-{i:05d}.parquet")
    assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in written] == [
        hashlib.sha256((whole / p.name).read_bytes()).hexdigest() for p in written
    ]


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
