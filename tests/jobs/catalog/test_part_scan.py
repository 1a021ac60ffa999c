"""`jobs.catalog.part_scan`: a DuckDB view's scan of the catalog's parts holds about one row group of the columns it
reads, however many row groups the parts hold, and the bounded child's warm-up reads one column of each view (issue
99: at 1,000,042 episodes the warm-up's `SELECT *` through Arrow's readahead decoded the whole catalog, 2.9 GiB).
Counted in Arrow's own allocations and in the columns DuckDB asks for: neither depends on the machine's load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from jobs.catalog.bounded import SqlLimits, _warm
from jobs.catalog.part_scan import PartsDataset, parts_dataset
from jobs.catalog.query import connect
from schemas.corpus import EPISODES_DIR

GROUP_ROWS = 4_096  # rows a row group in the test part
GROUPS = 32  # row groups: twice Arrow's default readahead of 16 batches
WIDTH = 200  # bytes of one row's wide text
# Arrow's allocations made while it is the default pool, kept for the process: a buffer it made (the parts' metadata
# Arrow caches) is freed through it later, and a pool gone by then crashed the interpreter
POOL: dict[int, pa.MemoryPool] = {}


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A corpus folder whose catalog is one part of `GROUPS` row groups, each about 0.8 MiB of text."""
    root = tmp_path_factory.mktemp("wide")
    n = GROUP_ROWS * GROUPS
    table = pa.table(
        {
            "episode_uid": [f"src/sub/{i:08d}" for i in range(n)],
            "plan_line": [f"{i:08d}" + "x" * (WIDTH - 8) for i in range(n)],
        }
    )
    (root / EPISODES_DIR).mkdir(parents=True)
    pq.write_table(table, root / EPISODES_DIR / "part-00000.parquet", row_group_size=GROUP_ROWS)
    return root


def test_a_scan_holds_one_row_group_whatever_the_catalogs_size(wide: Path) -> None:
    """The first row of every column decodes a row group for each of DuckDB's 2 threads, not Arrow's default of 16
    ahead: 4.5-7.1 row groups' text in Arrow's allocations, 36.7-38.0 before (the text's data and its decoding both
    counted)."""
    pool = POOL.setdefault(GROUPS, pa.proxy_memory_pool(pa.default_memory_pool()))
    before = pa.default_memory_pool()
    pa.set_memory_pool(pool)
    try:
        with connect(wide, limits=SqlLimits(threads=2)) as con:
            assert con.sql("SELECT * FROM episodes LIMIT 1").fetchall()
    finally:
        pa.set_memory_pool(before)
    group_bytes = GROUP_ROWS * WIDTH
    assert 0 < pool.max_memory() < 12 * group_bytes, pool.max_memory() / group_bytes


ASKED: list[Any] = []  # the columns of each scan an `Asked` made


class Asked(ds.FileSystemDataset):
    """A dataset that records the columns each scan asks for (DuckDB calls `type(dataset).scanner`)."""

    def scanner(self, *args: Any, **options: Any) -> ds.Scanner:
        ASKED.append(options.get("columns"))
        return super().scanner(*args, **options)


def test_the_warm_up_reads_one_column_of_each_view(wide: Path) -> None:
    """The child's warm-up starts the scan threads with one column (main asked for every column: `SELECT *`)."""
    files = [wide / EPISODES_DIR / "part-00000.parquet"]
    like = parts_dataset(files)
    asked = Asked(list(like.get_fragments()), like.schema, like.format, like.filesystem)
    ASKED.clear()
    with duckdb.connect() as con:
        con.register("episodes", asked)
        _warm(con)
    assert ASKED and all(columns is not None and len(columns) == 1 for columns in ASKED), ASKED


def test_the_view_is_the_bounded_dataset_and_reads_every_row(wide: Path) -> None:
    with connect(wide) as con:
        assert con.sql("SELECT count(*), count(DISTINCT plan_line) FROM episodes").fetchall()[0] == (
            GROUP_ROWS * GROUPS,
            GROUP_ROWS * GROUPS,
        )
    assert isinstance(parts_dataset([wide / EPISODES_DIR / "part-00000.parquet"]), PartsDataset)
