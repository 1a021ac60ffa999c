"""Sorted runs on disk and their merge: how a catalog rebuild orders more rows than it holds (issue 99).

A rebuild with every dataset parsed sorted the whole catalog in the driver: at 1,000,042 episodes its driver peaked
at 8.68 GiB (benchmarks/COMMAND_SURFACE.md), the rows held several times over (the parsed rows, their concatenation,
the sort's copy). `Runs` writes rows as they come into Arrow IPC files of at most `RUN_ROWS` rows, each sorted (a
run), in record batches of `PIECE_ROWS`; `merge` reads one batch of each run at a time and hands the rows back in one
sorted order, and `Rows.take` cuts that stream into the row groups a parquet file is written with: the driver holds
about `PIECE_ROWS` rows per run and one row group, whatever the corpus's size. The order is `pa.Table.sort_by`'s
(a stable sort, binary string order), so the files written are the ones a sort of the whole table writes, byte for byte.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

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
