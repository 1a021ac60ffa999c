"""`eidata query ROOT "SQL"`: DuckDB over the catalog's views (`VIEWS`), within memory, thread and time limits in a
child process (`jobs.catalog.bounded`).

A connection is in memory and scans the parquet parts through Arrow: nothing is imported or cached, so a query sees
the catalog files as they are when it connects. By default DuckDB itself opens no file at all (`_lock`), so no
statement can write one, and only a SELECT (or the EXPLAIN of one) runs (`jobs.catalog.guard`); `--unrestricted`
gives the SQL DuckDB's full rights, those of a local SQL shell run by the caller."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import math
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, Literal, TypeVar

import duckdb
import pyarrow as pa

from jobs.catalog.bounded import OPTIONS as SQL_OPTIONS
from jobs.catalog.bounded import SqlLimitError, SqlLimits, Usage, run_bounded
from jobs.catalog.census import open_catalog
from jobs.catalog.guard import ReadOnlyError, check_read_only
from jobs.catalog.parts import parquet_files
from jobs.catalog.views import VIEWS
from jobs.runtime.exits import fail
from jobs.runtime.options import Arg
from schemas.storage import CatalogError, StorageError

T = TypeVar("T")
Format = Literal["table", "csv", "json"]
FORMATS: tuple[Format, ...] = ("table", "csv", "json")


MAX_CELL = 60  # characters of one cell in the human table; longer text is cut with an ellipsis
MAX_TABLE_ROWS = 200  # rows the human table shows; csv and json print everything
BATCH_ROWS = 65_536  # rows formatted at a time for csv and json


def _create_view(con: duckdb.DuckDBPyConnection, name: str, files: Sequence[Path | str], schema: pa.Schema) -> None:
    if files:
        # Arrow reads the parts (opened for reading only) and DuckDB scans what it gives: DuckDB itself opens no file,
        # so with external access off a statement has no path to write to (`EXPLAIN ANALYZE COPY ... TO '<part>'`
        # rewrote the catalog while the parts were DuckDB's allowed paths: reliability review 5, 3a). The parts'
        # columns are unified by name as `read_parquet(union_by_name = true)` did; a scan reads no row group ahead
        # (`jobs.catalog.part_scan`: Arrow's default readahead decoded a million-episode catalog whole).
        from jobs.catalog.part_scan import parts_dataset  # only where a view is made: pyarrow.dataset imports pandas

        con.register(name, parts_dataset(files))
        return
    # no file yet: an empty view with the schema's columns, so queries bind and return no rows
    types = con.from_arrow(schema.empty_table()).types
    cols = ", ".join(f'CAST(NULL AS {t}) AS "{f.name}"' for f, t in zip(schema, types, strict=True))
    con.execute(f"CREATE VIEW {name} AS SELECT {cols} LIMIT 0")


def _lock(con: duckdb.DuckDBPyConnection) -> None:
    """From here on `con` opens no file at all (its views are Arrow's scans of the parts), loads no extension, keeps
    its limits, and cannot change a setting."""
    con.execute("SET allowed_paths = []")
    con.execute("SET allowed_directories = []")  # DuckDB's default allows its temp folder under the cwd
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def connect(
    corpus_root: Path, *, unrestricted: bool = False, limits: SqlLimits | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the views of `VIEWS` over the catalog's parts of the corpus folder
    `corpus_root` (a bucket's: `adapters.storage.corpus.Corpus.read`'s copy). Unless `unrestricted` it opens no file
    (see the module's doc); `limits` sets its memory and threads (`jobs.catalog.bounded.SqlLimits.settings`)."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")  # timestamps come back in UTC whatever the machine's zone
    for name, view in VIEWS.items():
        _create_view(con, name, parquet_files(corpus_root, view.folder), view.schema)
    for setting in limits.settings() if limits else []:
        con.execute(setting)
    if not unrestricted:
        _lock(con)
    return con


def run_query(
    corpus_root: Path,
    sql: str,
    *,
    unrestricted: bool = False,
    limits: SqlLimits | None = None,
    usage: Usage | None = None,
) -> pa.Table:
    """Run `sql` over the catalog views (the module's doc says what runs); a statement that returns nothing gives an
    empty table. With `limits` it runs in a child process within them (`jobs.catalog.bounded.run_bounded`); in a
    `one_reading` block of the corpus, on its connection."""
    reading = _READING.get()
    if reading is not None and reading.root == Path(corpus_root) and not unrestricted and limits is None:
        return reading.table(sql)
    return _run(corpus_root, sql, partial(_table, sql), unrestricted, limits, usage)


def query_text(corpus_root: Path, sql: str, fmt: Format, *, unrestricted: bool = False, limits: SqlLimits) -> bytes:
    """`sql`'s result as `eidata query` prints it (`format_table`), formatted inside the child's limits and at most
    `limits.output_mib` long (SqlLimitError "output" past it): the caller holds only the text. Formatting 4e7 rows
    in the caller took it past 3 GB and past the deadline (reliability review 6, N35)."""
    return _run(corpus_root, sql, partial(_formatted, sql, fmt, limits.output_mib), unrestricted, limits, None)


@dataclass
class _Reading:
    """`one_reading`'s connection to one corpus's catalog and the rows of each statement run on it."""

    root: Path
    con: duckdb.DuckDBPyConnection
    rows: dict[str, pa.Table] = field(default_factory=dict)

    def table(self, sql: str) -> pa.Table:
        if sql not in self.rows:
            check_read_only(sql, VIEWS)
            self.rows[sql] = _table(sql, self.con)
        return self.rows[sql]


_READING: ContextVar[_Reading | None] = ContextVar("eidata_catalog_reading", default=None)


@contextmanager
def one_reading(corpus_root: Path) -> Iterator[None]:
    """Within the block, `run_query`'s statements on `corpus_root` (restricted, without limits: a report's) run on
    one connection, and each statement once: its rows are kept, so a statement run again gives them again. They see
    the catalog as it was when the block connected (one report reads one catalog). A report ran ~50 statements, each
    on a connection of its own (0.04 CPU-s to connect and 0.03 to check, ~3 CPU-s in all at 1M episodes), 8 of them
    twice or more (the families of datasets four times: 0.34 CPU-s each)."""
    root = Path(corpus_root)
    if (now := _READING.get()) is not None and now.root == root:  # within one already: its connection
        yield
        return
    with connect(root) as con:
        token = _READING.set(_Reading(root, con))
        try:
            yield
        finally:
            _READING.reset(token)


def _run(
    corpus_root: Path,
    sql: str,
    work: Callable[[duckdb.DuckDBPyConnection], T],
    unrestricted: bool,
    limits: SqlLimits | None,
    usage: Usage | None,
) -> T:
    if not unrestricted:
        check_read_only(sql, VIEWS)
    if limits is not None:
        return run_bounded(partial(connect, corpus_root, unrestricted=unrestricted), work, limits, usage)
    with connect(corpus_root, unrestricted=unrestricted) as con:
        return work(con)


def _table(sql: str, con: duckdb.DuckDBPyConnection) -> pa.Table:
    """`sql`'s rows on `con`; an empty table for a statement that returns none (module-level: it crosses to the
    bounded child as a pickle)."""
    rel = con.sql(sql)
    return pa.table({}) if rel is None else rel.to_arrow_table()


def _formatted(sql: str, fmt: Format, output_mib: int, con: duckdb.DuckDBPyConnection) -> bytes:
    """`sql`'s rows on `con` as UTF-8 text in `fmt`, piece by piece, stopped once past `output_mib` (in the child)."""
    table = _table(sql, con)
    out, cap = io.BytesIO(), output_mib * 2**20
    for piece in _pieces(table, fmt):
        out.write(piece.encode())
        if out.tell() > cap:
            raise SqlLimitError(
                "output",
                f"the result is more than {output_mib} MiB as {fmt} ({table.num_rows} rows) and was not printed; "
                "--sql-output-mib raises it, or LIMIT or aggregate in the SQL, or write it to a file with "
                "--unrestricted and COPY (...) TO 'file.parquet'",
            )
    return out.getvalue()


# -- formatting -------------------------------------------------------------------------------------------------


def _plain(v: Any) -> Any:
    """A JSON-ready value: ISO timestamps, finite floats (NaN/inf as null), lists and structs recursively."""
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, dt.timedelta):
        return v.total_seconds()
    if isinstance(v, Decimal):  # DuckDB's sum of integers (HUGEINT, to Arrow as decimal(38, 0)) stays an integer
        return int(v) if v.is_finite() and v.as_tuple().exponent >= 0 else float(v)
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    return v


def _cell(v: Any) -> str:
    """One value as text for csv and the human table."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, list | tuple | dict):
        return json.dumps(_plain(v), ensure_ascii=False)
    return str(_plain(v))


def _human(v: Any) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, float):
        return "NaN" if math.isnan(v) else f"{v:.6g}"
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ", timespec="seconds")
    text = _cell(v).replace("\n", " ")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def _is_numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def _columns(table: pa.Table, limit: int | None = None) -> list[list[Any]]:
    part = table if limit is None else table.slice(0, limit)
    return [col.to_pylist() for col in part.columns]


def _pieces(table: pa.Table, fmt: Format) -> Iterator[str]:
    """`table` as csv or json text (`format_table`), `BATCH_ROWS` rows at a time: the cells of one slice as Python
    objects, never the whole table's; the human table in one piece."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {FORMATS}")
    if fmt == "table":
        yield format_table(table, fmt)
        return
    names = table.column_names
    if fmt == "csv":
        yield _csv_line([names])
    for at in range(0, table.num_rows, BATCH_ROWS):
        columns = _columns(table.slice(at, BATCH_ROWS))
        if fmt == "csv":
            yield _csv_line(zip(*([_cell(v) for v in col] for col in columns), strict=True))
            continue
        lines = [
            json.dumps(dict(zip(names, map(_plain, row), strict=True)), ensure_ascii=False, allow_nan=False)
            for row in zip(*columns, strict=True)
        ]
        yield ("[\n" if at == 0 else ",\n") + ",\n".join(lines)
    if fmt == "json":
        yield "\n]\n" if table.num_rows else "[]\n"


def _csv_line(rows: Iterable[Sequence[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def format_table(table: pa.Table, fmt: Format, *, max_rows: int = MAX_TABLE_ROWS) -> str:
    """`table`: aligned text for humans (numbers right-aligned, long cells cut, at most `max_rows` rows);
    `csv`: RFC 4180 with a header, lists as JSON; `json`: an array of row objects, one per line."""
    if fmt != "table":
        return "".join(_pieces(table, fmt))  # csv or json, else the ValueError naming the formats

    shown = min(table.num_rows, max_rows)
    cols = [[_human(v) for v in col] for col in _columns(table, shown)]
    names = table.column_names
    widths = [max([len(n), *(len(c) for c in col)]) for n, col in zip(names, cols, strict=True)]
    right = [_is_numeric(f.type) for f in table.schema]

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True)]
        return "  ".join(parts).rstrip()

    out = [line(names), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in zip(*cols, strict=True)] if cols else []
    more = table.num_rows - shown
    rows = f"({table.num_rows} row{'s' if table.num_rows != 1 else ''}"
    out.append(rows + (f", {more} not shown; use --format csv or json for all)" if more else ")"))
    return "\n".join(out) + "\n"


# `eidata query ROOT SQL`, in the flags' order; the formats are FORMATS, the first one the default
OPTIONS = (
    Arg("root", nargs="?", help="corpus folder, or its bucket URL (s3://bucket/corpus)"),
    Arg(
        "sql",
        nargs="?",
        help="one DuckDB statement over the views " + ", ".join(VIEWS) + ', e.g. "SELECT source, tier, '
        'count(*), sum(duration_s) / 3600 AS hours FROM episodes GROUP BY ALL"; --describe lists their columns',
    ),
    Arg(
        "--describe",
        nargs="?",
        const="all",
        choices=["all", *VIEWS],
        metavar="VIEW",
        help="print each view's columns (type, unit, meaning) instead of running SQL; ROOT and SQL not needed",
    ),
    Arg(
        "--format",
        choices=list(FORMATS),
        default=FORMATS[0],
        help="table: for reading, long cells cut (default); csv, json: every row and cell whole",
    ),
    Arg(
        "--unrestricted",
        action="store_true",
        help="run any statement with DuckDB's full rights: read and write any file the caller can (read_csv, "
        "COPY), ATTACH databases, change settings. Default: SELECT / EXPLAIN over the catalog views only",
    ),
    *SQL_OPTIONS,
)


def cli_query(args: argparse.Namespace) -> int:
    """`eidata query`: print the result; exit 2 for bad SQL, a statement refused or a missing root."""
    if (view := getattr(args, "describe", None)) is not None:
        from jobs.catalog.views import describe

        sys.stdout.write(describe(None if view == "all" else view))
        return 0
    if not args.root or not args.sql:
        return fail(2, "eidata query: give ROOT and SQL (or --describe to list the views' columns)")
    try:
        with open_catalog(args.root, "query") as corpus:  # refused: a step's catalog unfinished, another corpus's
            unrestricted = bool(getattr(args, "unrestricted", False))
            fmt = getattr(args, "format", None) or "table"
            text = query_text(corpus.root, args.sql, fmt, unrestricted=unrestricted, limits=SqlLimits.of(args))
    # StorageError: a wrong credential or a missing bucket, named before any query runs; PermissionException: a file
    # other than the catalog's parts; IOException: a catalog file that cannot be read, not the query's fault (exit 1);
    # CatalogError: an interrupted step's catalog, or one that does not describe the datasets (exit 1); SqlLimitError:
    # a limit hit, named with its flag
    except (StorageError, ReadOnlyError, duckdb.Error, CatalogError, SqlLimitError, ValueError) as e:
        hint = " (only the catalog's own files; --unrestricted for others)"
        status = 1 if isinstance(e, duckdb.IOException | CatalogError) else 2
        return fail(status, f"eidata query: {e}{hint if isinstance(e, duckdb.PermissionException) else ''}")
    sys.stdout.flush()
    out = getattr(sys.stdout, "buffer", None)  # the bytes as they are: no second copy as str in this process
    out.write(text) if out is not None else sys.stdout.write(text.decode())
    return 0
