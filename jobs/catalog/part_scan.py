"""The catalog's parquet parts as the Arrow dataset a DuckDB view scans (`jobs.catalog.query`), each scan holding
about one row group of the columns it reads, whatever the number of episodes.

DuckDB scans a registered Arrow dataset through `type(dataset).scanner(dataset, columns=..., filter=...)`, its
projection and filters pushed down and nothing else (duckdb-python `PythonTableArrowArrayStreamFactory::Produce` and
`ProduceScanner`, src/arrow/arrow_array_stream.cpp), so Arrow's defaults govern the rest: `batch_readahead=16` and
`fragment_readahead=4`. Arrow's parquet scan decodes whole row groups (`ParquetFileFormat::ScanBatchesAsync`,
arrow/cpp/src/arrow/dataset/file_parquet.cc: a row group's columns at once, then sliced to `batch_size`), so 16
batches ahead is every row group of a part of 9 (1,000,042 episodes at 122,880 rows a group, `parts.ROW_GROUP_SIZE`),
decoded at once by whichever statement asks for its first row: `SELECT * FROM episodes LIMIT 1` took a process from
164 MiB to 2,858 MiB (261 MiB a row group of every column), and bounded.py's warm-up did just that before every
`query` and `curate` at 1M (issue 99). With no readahead the same statement took a connected child from 280 MiB to
887-918 MiB: a row group of every column for each of DuckDB's 2 threads (`SqlLimits.threads`). What a scan holds is a
row group of the columns it reads a thread: a constant of the part layout (`parts.ROW_GROUP_SIZE`), not of the
catalog's size.

Only the readahead changes: the columns, filters, schema and files are DuckDB's and `query`'s as before.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pyarrow.fs import LocalFileSystem

BATCH_READAHEAD = 0  # batches decoded ahead of the one DuckDB reads: a row group of them at most (module doc)
FRAGMENT_READAHEAD = 1  # parts opened ahead of the one read: none


class PartsDataset(ds.FileSystemDataset):
    """A dataset of parquet parts whose every scan reads nothing ahead (`BATCH_READAHEAD`, `FRAGMENT_READAHEAD`)."""

    def scanner(self, *args: Any, **options: Any) -> ds.Scanner:
        options.update(batch_readahead=BATCH_READAHEAD, fragment_readahead=FRAGMENT_READAHEAD)
        return super().scanner(*args, **options)


def parts_dataset(files: Sequence[Path | str]) -> PartsDataset:
    """The parquet `files` (not globbed: listed) as one dataset, their columns unified by name as
    `read_parquet(union_by_name = true)` does (a part written before a column was added reads it as null)."""
    schema = pa.unify_schemas([pq.read_schema(p) for p in files], promote_options="permissive")
    fmt, fs = ds.ParquetFileFormat(), LocalFileSystem()
    return PartsDataset([fmt.make_fragment(os.path.abspath(p), fs) for p in files], schema, fmt, fs)
