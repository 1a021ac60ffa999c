"""A rebuild's merge holds a bounded part of the catalog (`jobs.catalog.merged`, issue 99): with every dataset parsed,
the most Arrow memory the rebuild allocates at once does not grow with the corpus (the sort of the whole catalog it
replaced held it several times: 8.68 GiB at 1,000,042 episodes), and what it writes is the whole sort's, byte for byte.

Memory is counted by a pool of its own (`pa.proxy_memory_pool`: every byte Arrow allocates through the default pool),
not sampled: the same figures whatever the machine's load."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import jobs.catalog.build as build
import jobs.catalog.parts as parts
import jobs.catalog.runs as runs
import jobs.runtime.ray_map as ray_map
from adapters.storage.corpus import Corpus
from benchmarks._replicate import replicate
from jobs.catalog.build import rebuild_catalog
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
