"""`eidata query ROOT "SQL"`: DuckDB over the catalog's views (`VIEWS`).

A connection is in memory and reads the parquet parts directly: nothing is imported or cached, so a query sees the
catalog files as they are when it connects. By default it can read those parts and nothing else (`_lock`: external
access off with the parts as `allowed_paths`, no extension installed or loaded, the configuration locked) and runs only
SELECT / EXPLAIN (`jobs.catalog.guard`); `unrestricted` (`--unrestricted`) gives the SQL DuckDB's full rights, those of
a local SQL shell run by the caller.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import math
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import duckdb
import pyarrow as pa

from adapters.storage.urls import StorageError
from ingest.storage.corpus import read_corpus
from jobs.catalog.guard import ReadOnlyError, check_read_only
from jobs.runtime.options import Arg
from schemas.catalog import CATALOG_SCHEMA
from schemas.corpus import EPISODES_DIR, QUARANTINE_DIR, QUARANTINE_SCHEMA, parquet_files
from schemas.findings import SOURCE_FINDINGS_DIR, SOURCE_FINDINGS_SCHEMA
from schemas.qa import FINDINGS_DIR, FINDINGS_SCHEMA
from schemas.verdicts import VERDICT_SCHEMA, VERDICTS_DIR

Format = Literal["table", "csv", "json"]
FORMATS: tuple[Format, ...] = ("table", "csv", "json")
VIEWS = {
    "episodes": (EPISODES_DIR, CATALOG_SCHEMA),
    "quarantine": (QUARANTINE_DIR, QUARANTINE_SCHEMA),
    "findings": (FINDINGS_DIR, FINDINGS_SCHEMA),  # dataset-level behaviour findings (`jobs.catalog.behaviour`)
    "verdicts": (VERDICTS_DIR, VERDICT_SCHEMA),  # the findings behind each tier (`schemas.verdicts`)
    "source_findings": (SOURCE_FINDINGS_DIR, SOURCE_FINDINGS_SCHEMA),  # what sources could not give
}
MAX_CELL = 60  # characters of one cell in the human table; longer text is cut with an ellipsis
MAX_TABLE_ROWS = 200  # rows the human table shows; csv and json print everything


def _create_view(con: duckdb.DuckDBPyConnection, name: str, files: Sequence[Path | str], schema: pa.Schema) -> None:
    if files:
        # the files are listed, not globbed: a corpus path with glob characters stays literal
        listed = ", ".join("'" + str(p).replace("'", "''") + "'" for p in files)
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet([{listed}], union_by_name = true)")
        return
    # no file yet: an empty view with the schema's columns, so queries bind and return no rows
    types = con.from_arrow(schema.empty_table()).types
    cols = ", ".join(f'CAST(NULL AS {t}) AS "{f.name}"' for f, t in zip(schema, types, strict=True))
    con.execute(f"CREATE VIEW {name} AS SELECT {cols} LIMIT 0")


def _lock(con: duckdb.DuckDBPyConnection, files: Sequence[str]) -> None:
    """From here on `con` reads `files` (the catalog's parts) and no other file, loads no extension, and cannot
    change a setting."""
    con.execute("SET allowed_paths = ?", [sorted(files)])
    con.execute("SET allowed_directories = []")  # DuckDB's default allows its temp folder under the cwd
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def connect(corpus_root: Path, *, unrestricted: bool = False) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with views `episodes`, `quarantine` and `findings` over the catalog's parts of
    the corpus folder `corpus_root` (a bucket's: `ingest.storage.corpus.read_corpus`'s copy). It reads the catalog's
    parts and no other file unless `unrestricted` (see the module's doc)."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")  # timestamps come back in UTC whatever the machine's zone
    files: list[str] = []
    for name, (rel, schema) in VIEWS.items():
        listed = parquet_files(corpus_root, rel)
        files += map(str, listed)
        _create_view(con, name, listed, schema)
    if not unrestricted:
        _lock(con, files)
    return con


def run_query(corpus_root: Path, sql: str, *, unrestricted: bool = False) -> pa.Table:
    """Run `sql` over the catalog views; a statement that returns nothing gives an empty table. Unless
    `unrestricted`, only SELECT / EXPLAIN statements run (`jobs.catalog.guard.ReadOnlyError` for others) and no
    file but the catalog's parts can be read or written."""
    if not unrestricted:
        check_read_only(sql)
    with connect(corpus_root, unrestricted=unrestricted) as con:
        rel = con.sql(sql)
        return pa.table({}) if rel is None else rel.to_arrow_table()


# -- formatting -------------------------------------------------------------------------------------------------


def _plain(v: Any) -> Any:
    """A JSON-ready value: ISO timestamps, finite floats (NaN/inf as null), lists and structs recursively."""
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, dt.timedelta):
        return v.total_seconds()
    if isinstance(v, Decimal):
        return float(v)
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


def format_table(table: pa.Table, fmt: Format, *, max_rows: int = MAX_TABLE_ROWS) -> str:
    """`table`: aligned text for humans (numbers right-aligned, long cells cut, at most `max_rows` rows);
    `csv`: RFC 4180 with a header, lists as JSON; `json`: an array of row objects, one per line."""
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(table.column_names)
        w.writerows(zip(*([_cell(v) for v in col] for col in _columns(table)), strict=True))
        return out.getvalue()
    if fmt == "json":
        names = table.column_names
        lines = [
            json.dumps(dict(zip(names, map(_plain, row), strict=True)), ensure_ascii=False, allow_nan=False)
            for row in zip(*_columns(table), strict=True)
        ]
        return "[\n" + ",\n".join(lines) + "\n]\n" if lines else "[]\n"
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r}; choose one of {FORMATS}")

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
    Arg(("root",), {"help": "corpus folder, or its bucket URL (s3://bucket/corpus)"}),
    Arg(("sql",)),
    Arg(("--format",), {"choices": list(FORMATS), "default": FORMATS[0]}),
    Arg(
        ("--unrestricted",),
        {
            "action": "store_true",
            "help": "run any statement with DuckDB's full rights: read and write any file the caller can (read_csv, "
            "COPY), ATTACH databases, change settings. Default: SELECT / EXPLAIN over the catalog views only",
        },
    ),
)


def cli_query(args: argparse.Namespace) -> int:
    """`eidata query ROOT "SQL" [--format table|csv|json] [--unrestricted]`: print the result; exit 2 for bad SQL,
    a statement refused or a missing root."""
    try:
        with read_corpus(args.root) as corpus:
            table = run_query(corpus.root, args.sql, unrestricted=bool(getattr(args, "unrestricted", False)))
    # StorageError: a wrong credential or a missing bucket, named before any query runs; PermissionException: a file
    # other than the catalog's parts; IOException: a catalog file that cannot be read, not the query's fault (exit 1)
    except (StorageError, ReadOnlyError, duckdb.Error) as e:
        hint = " (only the catalog's own files; --unrestricted for others)"
        print(f"eidata query: {e}{hint if isinstance(e, duckdb.PermissionException) else ''}", file=sys.stderr)
        return 1 if isinstance(e, duckdb.IOException) else 2
    sys.stdout.write(format_table(table, getattr(args, "format", None) or "table"))
    return 0
