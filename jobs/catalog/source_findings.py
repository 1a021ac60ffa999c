"""`catalog/source_findings/<source>.parquet`: each source's findings (`schemas.findings`) as its last discovery
noted them, written by the ingest job and read by every consumer (the job's summary, `eidata query`'s
`source_findings` view, `eidata report`, `eidata validate`).

A source's file is replaced whole each time the source is discovered (atomically; removed when it has none), and
its rows carry no time, so a rerun that finds the same leaves the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from adapters.storage.location import Location
from jobs.catalog.parts import write_parquet_atomic
from schemas.findings import SOURCE_FINDINGS_DIR, SOURCE_FINDINGS_SCHEMA, SourceFinding


def findings_file(corpus_root: Path, source: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in source).lstrip(".") or "_"
    return Path(corpus_root) / SOURCE_FINDINGS_DIR / f"{safe}.parquet"


def write_source_findings(corpus_root: Path, source: str, findings: list[SourceFinding]) -> Path | None:
    """Replace `source`'s findings file with `findings` (in the order noted); none: the file is removed. The same
    findings as the file holds leave it untouched (a rerun rewrites nothing, not even in place)."""
    path = findings_file(corpus_root, source)
    if not findings:
        path.unlink(missing_ok=True)
        return None
    if path.is_file() and _read(path.read_bytes()) == findings:
        return path
    rows = [f.model_dump(mode="python") for f in findings]
    return write_parquet_atomic(pa.Table.from_pylist(rows, schema=SOURCE_FINDINGS_SCHEMA), path)


def read_source_findings(corpus_root: Path | Location, sources: Iterable[str] | None = None) -> list[SourceFinding]:
    """The findings of `sources` (default: every source with a file), by source file then in the order noted; the
    corpus a folder or an object-store prefix, read through its own location (a bucket's with its options)."""
    wanted = None if sources is None else {findings_file(Path(), s).name for s in sources}
    folder = corpus_root / SOURCE_FINDINGS_DIR
    names = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []  # temp files are hidden: never read
    chosen = [n for n in names if n.endswith(".parquet") and not n.startswith(".") and (wanted is None or n in wanted)]
    return [f for n in chosen for f in _read((folder / n).read_bytes())]


def _read(data: bytes) -> list[SourceFinding]:
    # ParquetFile, not read_table: read_table of an in-memory file goes through pyarrow.dataset, whose threads abort
    # the interpreter's exit ("terminate called without an active exception", exit 134: `eidata inspect`, 2 in 3 runs)
    return [SourceFinding.model_validate(r) for r in pq.ParquetFile(pa.BufferReader(data)).read().to_pylist()]
