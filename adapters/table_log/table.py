"""One table log read: a CSV (its delimiter told from the header line: UR's RTDE recorder writes spaces, most loggers
commas) or a Parquet file, the columns a `ColumnMap` names as float64 arrays. A column the file lacks is named with
the closest one it has (`schemas.spelling`), and so is a value that is not a number."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from adapters.storage.location import Location
from schemas.spelling import did_you_mean

SUFFIXES = (".csv", ".tsv", ".parquet")
DELIMITERS = (",", "\t", ";", " ")


def delimiter(header: str) -> str:
    """The delimiter that splits the header line into the most fields (a one-column table: ",")."""
    return max(DELIMITERS, key=lambda d: (len([f for f in header.split(d) if f.strip()]), d == ","))


def read_table(path: Location) -> pa.Table:
    """The whole table of a CSV or Parquet log; ValueError saying why it does not parse."""
    with path.readable() as src:
        if path.suffix.lower() == ".parquet":
            return pq.read_table(src)
        with path.open("rb") as f:
            header = f.readline(1 << 20).decode("utf-8", errors="replace").rstrip("\r\n")
        parse = pacsv.ParseOptions(delimiter=delimiter(header))
        try:
            return pacsv.read_csv(src, parse_options=parse)
        except pa.ArrowInvalid as e:
            raise ValueError(f"not a CSV table: {e}") from e


def columns(table: pa.Table, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The named columns as (T,) float64; ValueError naming a missing column (with the closest the table has) or
    one that holds no numbers."""
    have = table.column_names
    missing = [n for n in names if n not in have]
    if missing:
        near = [f"{n!r} ({hint})" for n in missing if (hint := did_you_mean(n, have, listing="")).startswith("did")]
        far = [repr(n) for n in missing if not did_you_mean(n, have, listing="").startswith("did")]
        said = ", ".join(near + far[:5]) + (f" and {len(far) - 5} more" if len(far) > 5 else "")
        theirs = did_you_mean("", have, listing="the table's columns", limit=20)
        raise ValueError(
            f"{len(missing)} of the column map's {len(names)} columns are not in the table: {said}; {theirs} "
            "(a log of another recorder: declare its `columns`)"
        )
    out = {}
    for n in names:
        try:
            out[n] = table.column(n).to_numpy(zero_copy_only=False).astype(np.float64)
        except (TypeError, ValueError, pa.ArrowInvalid) as e:
            raise ValueError(f"column {n!r} holds values that are not numbers ({e})") from e
    return out
