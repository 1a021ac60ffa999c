"""A rebuild's parsed and kept rows merged and written in bounded memory (issue 99): the catalog's parts, its verdict
rows, findings and pooled QA, as the sort of the whole catalog wrote them, byte for byte.

The rows a rebuild parses go to disk as they come (`Parsed`: sorted runs, `jobs.catalog.runs`); the rows it keeps are
read from the last rebuild's files (`jobs.catalog.stored`), which are in the same orders; `write_merged` merges both,
a piece of each at a time, into the parts (`ROWS_PER_PART` rows, sorted by `CATALOG_ORDER`), the verdict rows (in
the datasets' order, each dataset's in its own), the pooled QA (by dataset) and the findings (`finding_rows` of each
dataset, over its rows in the catalog's order, as `catalog_findings` groups the sorted table). At 1,000,042 episodes
the sort of the whole table held the driver at 8.68 GiB (benchmarks/COMMAND_SURFACE.md); the merge holds a piece
per run and a row group: the figures are in the same file.
"""

from __future__ import annotations

import itertools
import shutil
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from jobs.catalog import parts as parts_mod
from jobs.catalog import runs
from jobs.catalog.behaviour import finding_rows
from jobs.catalog.parts import write_groups_atomic, write_parquet_atomic
from jobs.catalog.runs import Rows, Runs, merge
from jobs.catalog.stored import PART, QA_PART, VERDICTS_PART, Kept, KeptMismatch
from schemas.catalog import CATALOG_SCHEMA
from schemas.dataset_qa import DATASET_QA_SCHEMA
from schemas.qa import FINDINGS_SCHEMA
from schemas.storage import CatalogError
from schemas.verdicts import VERDICT_SCHEMA

CATALOG_ORDER = ("episode_uid", "dataset", "episode_index")  # `jobs.catalog.parts.sort_catalog`'s order
QA_RUN_ROWS, QA_PIECE_ROWS = 4_096, 128  # a pooled QA row is one dataset's, kilobytes of JSON
POSITION = "__position"  # a verdict row's dataset's place in the rebuild's order, while they merge


class Parsed:
    """The rows, verdict rows and pooled QA rows of the datasets a rebuild parses, written to `folder` (inside the
    rebuild's temp folder) as they come: the rows in runs sorted by `CATALOG_ORDER`, the verdict rows in the order
    they come (the datasets'), the QA rows in runs sorted by dataset."""

    def __init__(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)  # a rebuild parsing every dataset again after `KeptMismatch`
        self.folder = folder
        self.rows = Runs(folder / "rows", CATALOG_SCHEMA, CATALOG_ORDER)
        self.verdicts = Runs(folder / "verdicts", VERDICT_SCHEMA, ())
        self.qa = Runs(folder / "qa", DATASET_QA_SCHEMA, ("dataset",), QA_RUN_ROWS, QA_PIECE_ROWS)

    def add(self, rows: pa.Table, verdicts: list[dict[str, Any]], qa: dict[str, Any] | None) -> None:
        self.rows.add(rows)
        if verdicts:
            self.verdicts.add(pa.Table.from_pylist(verdicts, schema=VERDICT_SCHEMA))
        if qa is not None:  # a dataset with rows has its pooled QA (`jobs.catalog.build._parse`)
            self.qa.add(pa.Table.from_pylist([qa], schema=DATASET_QA_SCHEMA))

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def check_kept(kept: Kept, reused: Sequence[str]) -> None:
    """KeptMismatch unless the kept files hold, for each of `reused`, as many rows, verdict rows and QA rows as its
    key says (a dataset with rows has one QA row), in the schemas of this eidata: read before a byte is written, from
    the files' `dataset` columns, a batch at a time."""
    if not reused or kept.folder is None:
        return
    folder = kept.folder
    files = (
        ("rows", sorted(folder.glob("part-*.parquet")), CATALOG_SCHEMA),
        ("verdicts", [folder / VERDICTS_PART], VERDICT_SCHEMA),
        ("qa", [folder / QA_PART], DATASET_QA_SCHEMA),
    )
    try:
        for what, paths, schema in files:
            counts: Counter[str] = Counter()
            for p in paths:
                f = pq.ParquetFile(p)
                if not f.schema_arrow.equals(schema, check_metadata=False):
                    raise KeptMismatch(f"{p}: kept rows of another schema")
                for b in f.iter_batches(batch_size=65_536, columns=["dataset"]):
                    found = pc.value_counts(b.column(0)).flatten()
                    counts.update(dict(zip(found[0].to_pylist(), found[1].to_pylist(), strict=True)))
            for name in reused:
                entry = kept.keys[name]
                if counts.get(name, 0) != (min(entry["rows"], 1) if what == "qa" else entry[what]):
                    raise KeptMismatch(f"{name}: kept {what} do not match its key")
    except (OSError, pa.ArrowException) as e:
        raise KeptMismatch(f"{folder}: {e}") from e


def write_merged(
    parsed: Parsed, kept: Kept, reused: Sequence[str], names: Sequence[str], out: Sequence[Path], rows_per_part: int
) -> tuple[int, list[Path]]:
    """Into `out` (the rebuild's episodes, verdicts, findings and QA folders): the parsed and the kept rows of
    `reused` (checked by `check_kept`) merged; `names`: every dataset in the rebuild's order. The number of rows and
    the parts written; CatalogError when an episode_uid is in more than one row."""
    episodes_dir, verdicts_dir, findings_dir, qa_dir = out
    old, wanted = kept.folder if reused else None, pa.array(list(reused), pa.string())

    def kept_runs(files: Callable[[Path], Iterable[Path]], schema: pa.Schema, piece: int) -> list[Iterator[pa.Table]]:
        return [] if old is None else [_kept(p, schema, wanted, piece) for p in files(old)]

    order = pa.array(list(names), pa.string())
    verdicts = [*kept_runs(lambda d: [d / VERDICTS_PART], VERDICT_SCHEMA, runs.PIECE_ROWS)]
    verdicts.append(itertools.chain.from_iterable(parsed.verdicts.runs()))
    placed = merge([_placed(r, order) for r in verdicts], [POSITION])
    _write((t.drop_columns([POSITION]) for t in placed), VERDICT_SCHEMA, verdicts_dir / PART)

    qa_runs = [*kept_runs(lambda d: [d / QA_PART], DATASET_QA_SCHEMA, QA_PIECE_ROWS), *parsed.qa.runs()]
    # as the sort wrote them: in the kept file's schema where one was read (its lists' items named `element`)
    qa_schema = DATASET_QA_SCHEMA if old is None else pq.ParquetFile(old / QA_PART).schema_arrow
    _write(merge(qa_runs, ["dataset"]), qa_schema, qa_dir / PART)

    row_runs = [*kept_runs(lambda d: sorted(d.glob("part-*.parquet")), CATALOG_SCHEMA, runs.PIECE_ROWS)]
    found, dupes = _Findings(kept), _Dupes()
    rows = Rows(dupes.see(found.see(t)) for t in merge([*row_runs, *parsed.rows.runs()], CATALOG_ORDER))
    written: list[Path] = []
    while rows.more():
        groups = rows.groups(rows_per_part, parts_mod.ROW_GROUP_SIZE)
        written.append(write_groups_atomic(groups, CATALOG_SCHEMA, episodes_dir / f"part-{len(written):05d}.parquet"))
    parsed.remove()
    if dupes.found:
        raise CatalogError(f"episode_uid found in more than one episode: {dupes.found[:5]} ({len(dupes.found)} in all)")
    write_parquet_atomic(found.table(), findings_dir / PART)
    return dupes.rows, written


def _write(tables: Iterable[pa.Table], schema: pa.Schema, path: Path) -> None:
    groups = Rows(tables).groups(sys.maxsize, parts_mod.ROW_GROUP_SIZE)
    write_groups_atomic((t.cast(schema) for t in groups), schema, path)


def _kept(path: Path, schema: pa.Schema, wanted: pa.Array, piece: int) -> Iterator[pa.Table]:
    """The rows of `wanted` datasets in a kept file, in its order, a piece at a time."""
    for b in pq.ParquetFile(path).iter_batches(batch_size=piece):
        t = pa.Table.from_batches([b]).cast(schema)  # the file's schema is `schema` (`check_kept`), its metadata too
        yield t.filter(pc.is_in(t["dataset"], value_set=wanted))


def _placed(tables: Iterable[pa.Table], order: pa.Array) -> Iterator[pa.Table]:
    """Verdict rows with their dataset's place in `order`; KeptMismatch where a run is not in that order (a kept
    file another order wrote): the datasets are then parsed again."""
    last = -1
    for t in tables:
        place = pc.index_in(t["dataset"], value_set=order)
        if t.num_rows and (pc.min(place).as_py() < last or not _ascending(place)):
            raise KeptMismatch("kept verdict rows are not in the datasets' order")
        last = pc.max(place).as_py() if t.num_rows else last
        yield t.append_column(POSITION, place)


def _ascending(values: pa.Array) -> bool:
    return len(values) < 2 or bool(pc.all(pc.less_equal(values.slice(0, len(values) - 1), values.slice(1))).as_py())


class _Dupes:
    """episode_uids in more than one row of the merged (sorted) stream: neighbours, each named once, in order."""

    def __init__(self) -> None:
        self.found: list[str] = []
        self.last: str | None = None
        self.rows = 0

    def see(self, table: pa.Table) -> pa.Table:
        uids = table["episode_uid"].combine_chunks()
        if table.num_rows:
            prev = pa.concat_arrays([pa.array([self.last], pa.string()), uids.slice(0, len(uids) - 1)])
            for uid in uids.filter(pc.fill_null(pc.equal(uids, prev), False)).to_pylist():
                if not self.found or self.found[-1] != uid:
                    self.found.append(uid)
            self.last = uids[-1].as_py()
        self.rows += table.num_rows
        return table


class _Findings:
    """`finding_rows` of each dataset as its last row passes in the merged stream (its row count is its key's), over
    its episodes in the catalog's order; held a dataset at a time, then by dataset as `catalog_findings` orders them."""

    COLUMNS = (("episode_uid", "list"), ("task", "list"), ("num_frames", "list"))

    def __init__(self, kept: Kept) -> None:
        self.kept = kept
        self.open: dict[str, tuple[list[str], list[str | None], list[int]]] = {}
        self.rows: dict[str, list[dict[str, Any]]] = {}

    def see(self, table: pa.Table) -> pa.Table:
        for g in table.group_by("dataset", use_threads=False).aggregate(list(self.COLUMNS)).to_pylist():
            name = g["dataset"]
            uids, tasks, frames = self.open.setdefault(name, ([], [], []))
            uids += g["episode_uid_list"]
            tasks += g["task_list"]
            frames += g["num_frames_list"]
            if len(uids) >= self.kept.out[name]["rows"]:
                self._close(name)
        return table

    def _close(self, name: str) -> None:
        uids, tasks, frames = self.open.pop(name)
        self.rows[name] = finding_rows(name, uids, tasks, frames, self.kept.config(name))

    def table(self) -> pa.Table:
        for name in list(self.open):  # none: each dataset's rows are as many as its key says (`check_kept`)
            self._close(name)
        rows = [r for name in sorted(self.rows) for r in self.rows[name]]
        return pa.Table.from_pylist(rows, schema=FINDINGS_SCHEMA)
