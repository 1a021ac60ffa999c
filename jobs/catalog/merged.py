"""A rebuild's parsed and kept rows merged and written in bounded memory (issue 99): the catalog's parts, its verdict
rows, findings and pooled QA, as the sort of the whole catalog wrote them, byte for byte.

The rows a rebuild parses go to disk as they come (`Parsed`: sorted runs, `Runs`); the rows it keeps are
read from the last rebuild's files (`jobs.catalog.stored`), which are in the same orders; `write_merged` merges both,
a piece of each at a time, into the parts (`ROWS_PER_PART` rows, sorted by `CATALOG_ORDER`), the verdict rows (in
the datasets' order, each dataset's in its own), the pooled QA (by dataset) and the findings (`finding_rows` of each
dataset, over its rows in the catalog's order, as `catalog_findings` groups the sorted table). At 1,000,042 episodes
the sort of the whole table held the driver at 8.68 GiB (benchmarks/COMMAND_SURFACE.md); the merge holds a piece
per run and a row group: the figures are in the same file.

Sorted runs on disk and their merge: how a catalog rebuild orders more rows than it holds (issue 99).

A rebuild with every dataset parsed sorted the whole catalog in the driver: at 1,000,042 episodes its driver peaked
at 8.68 GiB (benchmarks/COMMAND_SURFACE.md), the rows held several times over (the parsed rows, their concatenation,
the sort's copy). `Runs` writes rows as they come into Arrow IPC files of at most `RUN_ROWS` rows, each sorted (a
run), in record batches of `PIECE_ROWS`; `merge` reads one batch of each run at a time and hands the rows back in one
sorted order, and `Rows.take` cuts that stream into the row groups a parquet file is written with: the driver holds
about `PIECE_ROWS` rows per run and one row group, whatever the corpus's size. The order is `pa.Table.sort_by`'s
(a stable sort, binary string order), so the files written are the ones a sort of the whole table writes, byte for byte.
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
from jobs.catalog.behaviour import finding_rows
from jobs.catalog.parts import write_groups_atomic, write_parquet_atomic
from jobs.catalog.stored import PART, QA_PART, VERDICTS_PART, Kept, KeptMismatch
from schemas.catalog import CATALOG_SCHEMA
from schemas.dataset_qa import DATASET_QA_SCHEMA
from schemas.qa import FINDINGS_SCHEMA
from schemas.storage import CatalogError
from schemas.verdicts import VERDICT_SCHEMA

RUN_ROWS = 20_000  # rows buffered before they are sorted and written as one run (about 46 MB of catalog rows)
PIECE_ROWS = 1_024  # rows of a run the merge reads at once: 50 runs at 1M episodes hold about 120 MB
FAN_IN = 64  # runs of a level merged into one (4M episodes: 200 runs, three merges of 64 written again)


class Runs:
    """Rows written to `folder` as sorted runs (`sort`: the columns they are sorted by, ascending; empty: kept in the
    order they came, one run after another); `runs` reads them back, piece by piece."""

    def __init__(
        self, folder: Path, schema: pa.Schema, sort: Sequence[str], run_rows: int = 0, piece_rows: int = 0
    ) -> None:
        self.folder, self.schema, self.sort = folder, schema, list(sort)
        self.run_rows, self.piece_rows = run_rows or RUN_ROWS, piece_rows or PIECE_ROWS  # 0: the module's, as it is
        self.buffer: list[pa.Table] = []
        self.buffered = self.rows = self.written = 0
        self.levels: list[list[Path]] = []  # the runs on disk, by how many merges made them

    def add(self, table: pa.Table) -> None:
        self.buffer.append(table)
        self.buffered += table.num_rows
        self.rows += table.num_rows
        if self.buffered >= self.run_rows:
            self._flush()

    def _flush(self) -> None:
        if not self.buffered:
            return
        table = pa.concat_tables([self.schema.empty_table(), *self.buffer])
        self.buffer, self.buffered = [], 0
        self.folder.mkdir(parents=True, exist_ok=True)
        self._write(0, [table.sort_by([(c, "ascending") for c in self.sort]) if self.sort else table.combine_chunks()])

    def _write(self, level: int, tables: Iterable[pa.Table]) -> None:
        """A run of `tables` at `level`; `FAN_IN` runs of a level merged into one of the next (the merge then reads
        a piece of at most `FAN_IN` runs a level, however many rows)."""
        path = self.folder / f"run-{self.written:05d}.arrow"
        self.written += 1
        with pa.ipc.new_file(path, self.schema) as writer:
            for t in tables:
                writer.write_table(t, max_chunksize=self.piece_rows)
        while len(self.levels) <= level:
            self.levels.append([])
        self.levels[level].append(path)
        if self.sort and len(self.levels[level]) >= FAN_IN:
            files, self.levels[level] = self.levels[level], []
            merged = Rows(merge([_pieces(p, self.schema) for p in files], self.sort))
            self._write(level + 1, iter(lambda: merged.take(self.piece_rows), None))
            for p in files:
                p.unlink()

    def runs(self) -> list[Iterator[pa.Table]]:
        """Each run's rows, a piece at a time (the buffer written as the last run first)."""
        self._flush()
        return [_pieces(p, self.schema) for level in self.levels for p in level]

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _pieces(path: Path, schema: pa.Schema) -> Iterator[pa.Table]:
    # read, not mapped: a mapped file's pages count in the driver's resident memory once touched
    with pa.OSFile(str(path)) as f:
        reader = pa.ipc.open_file(f)
        for i in range(reader.num_record_batches):
            yield pa.Table.from_batches([reader.get_batch(i)], schema=schema)


def merge(runs: Sequence[Iterable[pa.Table]], keys: Sequence[str]) -> Iterator[pa.Table]:
    """The rows of `runs` (each sorted by `keys`, ascending) as one sorted stream: each round takes, from every run's
    loaded piece, the rows up to the smallest of the pieces' last keys (no row not yet loaded sorts before it), and
    sorts them (stable: rows of equal keys in run order, which callers never have across runs)."""
    its = [iter(r) for r in runs]
    heads = [_next(it) for it in its]
    while True:
        live = [i for i, h in enumerate(heads) if h is not None]
        if len(live) <= 1:
            for i in live:
                yield heads[i]  # type: ignore[misc]
                yield from (t for t in its[i] if t.num_rows)
            return
        frontier = min(_key(heads[i], heads[i].num_rows - 1, keys) for i in live)  # type: ignore[union-attr]
        out = []
        for i in live:
            head = heads[i]
            assert head is not None
            n = _upto(head, keys, frontier)
            if n:
                out.append(head.slice(0, n))
            heads[i] = head.slice(n) if n < head.num_rows else _next(its[i])
        yield pa.concat_tables(out).sort_by([(k, "ascending") for k in keys])


def _next(it: Iterator[pa.Table]) -> pa.Table | None:
    return next((t for t in it if t.num_rows), None)


def _key(table: pa.Table, row: int, keys: Sequence[str]) -> tuple:
    return tuple(table[k][row].as_py() for k in keys)


def _upto(table: pa.Table, keys: Sequence[str], frontier: tuple) -> int:
    """How many of `table`'s first rows (sorted by `keys`) sort at or before `frontier`: a lexicographic <=."""
    mask = pc.less_equal(table[keys[-1]], frontier[-1])
    for k, v in zip(reversed(keys[:-1]), reversed(frontier[:-1]), strict=True):
        mask = pc.or_(pc.less(table[k], v), pc.and_(pc.equal(table[k], v), mask))
    return int(pc.sum(mask).as_py() or 0)


class Rows:
    """A stream of tables read back in tables of a chosen size (`take`)."""

    def __init__(self, tables: Iterable[pa.Table]) -> None:
        self.it = iter(tables)
        self.buffer: list[pa.Table] = []
        self.held = 0

    def more(self) -> bool:
        return self._fill(1) > 0

    def _fill(self, n: int) -> int:
        while self.held < n and (t := next(self.it, None)) is not None:
            self.buffer.append(t)
            self.held += t.num_rows
        return self.held

    def take(self, n: int) -> pa.Table | None:
        """The next `n` rows (fewer at the end; None when none is left) in one chunk a column, as a sorted whole
        table sliced for a row group has: the parquet writer cuts pages where chunks end."""
        if not self._fill(n):
            return None
        whole = pa.concat_tables(self.buffer)
        rest, head = whole.slice(n), whole.slice(0, n)
        self.buffer, self.held = ([rest] if rest.num_rows else []), rest.num_rows
        schema, columns = head.schema, list(head.columns)
        del whole, head
        out = []
        for i, column in enumerate(columns):
            columns[i] = None  # type: ignore[call-overload]
            out.append(column.combine_chunks())  # its pieces freed as it is copied: one row group held, not two
            del column
        return pa.Table.from_arrays(out, schema=schema)

    def groups(self, rows: int, group: int) -> Iterator[pa.Table]:
        """The next `rows` rows (fewer at the end) as tables of `group` rows, the last one shorter."""
        while rows > 0 and (t := self.take(min(group, rows))) is not None:
            rows -= t.num_rows
            yield t
            del t  # not held while the next one is made (a row group: ~283 MB of catalog rows)


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
    verdicts = [*kept_runs(lambda d: [d / VERDICTS_PART], VERDICT_SCHEMA, PIECE_ROWS)]
    verdicts.append(itertools.chain.from_iterable(parsed.verdicts.runs()))
    placed = merge([_placed(r, order) for r in verdicts], [POSITION])
    _write((t.drop_columns([POSITION]) for t in placed), VERDICT_SCHEMA, verdicts_dir / PART)

    qa_runs = [*kept_runs(lambda d: [d / QA_PART], DATASET_QA_SCHEMA, QA_PIECE_ROWS), *parsed.qa.runs()]
    # as the sort wrote them: in the kept file's schema where one was read (its lists' items named `element`)
    qa_schema = DATASET_QA_SCHEMA if old is None else pq.ParquetFile(old / QA_PART).schema_arrow
    _write(merge(qa_runs, ["dataset"]), qa_schema, qa_dir / PART)

    row_runs = [*kept_runs(lambda d: sorted(d.glob("part-*.parquet")), CATALOG_SCHEMA, PIECE_ROWS)]
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
