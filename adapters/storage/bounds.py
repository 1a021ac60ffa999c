"""Bounds on what a file declares, checked before anything is allocated for it.

A 62-byte sidecar can claim a video of 10^9 s, a 244 KB HDF5 a dataset of 4e7 rows, a sparse file 2 GB of JSON: a
reader that trusts the claim allocates it. Every such size is checked here against the file's real size or a limit
before a reader acts on it, and a claim past it is `TooLarge`, a ValueError naming what, the size claimed and the
bound (a data error: the episode or the source is quarantined with that reason, the job goes on).

Limits are configuration: `limit(name)` reads `EIDATA_MAX_<NAME>` from the environment (so the driver and every Ray
worker share it; `jobs/ingest` passes the driver's `EIDATA_*` on), else the default in `DEFAULTS`.
"""

from __future__ import annotations

import json
import os
from typing import Any

from adapters.storage.location import Where, is_object, locate

# name -> default; `EIDATA_MAX_<NAME>` overrides. JSON_BYTES: a whole-file JSON document (annotation tables; json
# needs several times the file in memory); SIDECAR_BYTES: a per-clip sidecar (json/txt); ROWS: rows of one per-frame
# array with no other count to check it against (10 h at 30 Hz is 1.08e6); COLUMNS: columns of one data table (a
# LeRobot parquet holds one per feature, vectors as lists: tens).
DEFAULTS = {"JSON_BYTES": 1 << 30, "SIDECAR_BYTES": 16 << 20, "ROWS": 4_000_000, "COLUMNS": 4096}


class TooLarge(ValueError):
    """A size a file declares past what its real size or a configured limit allows; nothing was allocated."""

    def __init__(self, what: str, declared: float, bound: float, why: str) -> None:
        self.what, self.declared, self.bound = what, declared, bound
        super().__init__(f"{what}: {_num(declared)} declared, more than {why} ({_num(bound)}); not read")


def _num(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() and abs(x) < 1e18 else f"{x:.6g}"


def limit(name: str) -> int:
    """The configured bound `name` (`DEFAULTS`), from `EIDATA_MAX_<NAME>` when set."""
    raw = os.environ.get(f"EIDATA_MAX_{name}")
    if raw is None:
        return DEFAULTS[name]
    try:
        value = int(float(raw))
    except ValueError:
        raise ValueError(f"EIDATA_MAX_{name}={raw!r} is not a number") from None
    if value <= 0:
        raise ValueError(f"EIDATA_MAX_{name}={raw!r} must be positive")
    return value


def check(what: str, declared: float, bound: float, why: str) -> None:
    """TooLarge unless `declared` <= `bound`."""
    if not declared <= bound:  # NaN fails too
        raise TooLarge(what, declared, bound, why)


def file_size(loc: Where) -> int:
    """The bytes a file holds: its stat on disk, its object's size in a store."""
    loc = locate(loc)
    return int(loc.fs.size(loc.path)) if is_object(loc) else os.stat(loc).st_size


def read_bounded(loc: Where, bound: int, what: str) -> bytes:
    """A whole file's bytes, when its size is within `bound` (checked before reading; the read stops at `bound` + 1
    bytes should the file grow meanwhile)."""
    loc = locate(loc)
    check(f"{what} size in bytes", file_size(loc), bound, "the limit")
    with loc.open("rb") as f:
        data = f.read(bound + 1)
    check(f"{what} size in bytes", len(data), bound, "the limit")
    return data


def load_json(loc: Where, what: str, bound: int | None = None) -> Any:
    """A JSON document read whole, within `bound` bytes (default: the JSON_BYTES limit)."""
    return json.loads(read_bounded(loc, limit("JSON_BYTES") if bound is None else bound, what))
