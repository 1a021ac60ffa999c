"""The catalog's parquet parts: `catalog/episodes/<part>.parquet` / `catalog/quarantine/<part>.parquet` written
atomically (tmp + fsync + rename), in DuckDB-sized row groups, and found."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from adapters.storage.atomic import atomic_write
from schemas.corpus import QUARANTINE_DIR, QUARANTINE_SCHEMA, QuarantineRow

ROW_GROUP_SIZE = 122_880  # DuckDB's own row group size: lets it scan one file with every thread


def _check_part(part: str) -> None:
    if not part or "/" in part or "\\" in part or part.startswith(".") or part.endswith(".parquet"):
        raise ValueError(f"part name {part!r} must be a plain file stem (no separators, leading dot or suffix)")


def write_parquet_atomic(table: pa.Table, path: Path) -> Path:
    """Write next to `path` under a name no `*.parquet` glob matches, fsync, then rename into place."""
    return write_groups_atomic([table], table.schema, path)


def write_groups_atomic(tables: Iterable[pa.Table], schema: pa.Schema, path: Path) -> Path:
    """`write_parquet_atomic` of `tables` one after the other, each its row groups, as `pq.write_table` writes their
    concatenation when each (but the last) is `ROW_GROUP_SIZE` rows in one chunk a column: the same bytes, without
    the whole table held (a catalog rebuild's merged rows: `jobs.catalog.merged`)."""

    def write(tmp: Path) -> None:
        with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
            empty = True
            for t in tables:
                writer.write_table(t, row_group_size=ROW_GROUP_SIZE)
                empty = False
                del t  # not held while the next one is made
            if empty:  # as `pq.write_table` of an empty table
                writer.write_table(schema.empty_table(), row_group_size=ROW_GROUP_SIZE)

    return atomic_write(path, write)


def parquet_files(corpus_root: Path, rel_dir: str) -> list[Path]:
    """The committed `*.parquet` files of a catalog folder, sorted (temp files are hidden and never match)."""
    d = Path(corpus_root) / rel_dir
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir() if p.name.endswith(".parquet") and not p.name.startswith(".") and p.is_file())


def drop_quarantine_rows(
    corpus_root: Path, mask: Callable[[pa.Table], pa.Array], skip: Callable[[Path], bool] = lambda _: False
) -> int:
    """Remove the rows `mask(part)` marks from every quarantine part (but those `skip` names), each part rewritten
    atomically, an emptied one removed; returns how many rows went."""
    gone = 0
    for part in parquet_files(corpus_root, QUARANTINE_DIR):
        if skip(part):
            continue
        table = pq.read_table(part)
        marked = pc.fill_null(mask(table), False)
        n = pc.sum(marked).as_py() or 0
        if not n:
            continue
        kept = table.filter(pc.invert(marked))
        if kept.num_rows:
            write_parquet_atomic(kept, part)
        else:
            part.unlink()
        gone += n
    return gone


def write_quarantine_part(corpus_root: Path, rows: Sequence[QuarantineRow], part: str) -> Path:
    """`catalog/quarantine/<part>.parquet`, sorted by (source, raw_path, stage), written atomically."""
    _check_part(part)
    table = pa.Table.from_pylist([r.model_dump(mode="python") for r in rows], schema=QUARANTINE_SCHEMA)
    table = table.sort_by([("source", "ascending"), ("raw_path", "ascending"), ("stage", "ascending")])
    return write_parquet_atomic(table, Path(corpus_root) / QUARANTINE_DIR / f"{part}.parquet")
