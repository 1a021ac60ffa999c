"""What a rerun skips: the raw episodes an earlier run of the job finished (exactly-once resume, DESIGN.md 3.1).

An episode is done when its uid is the lineage `raw_uid` of a committed episode of its source (`episodes.jsonl`, written
by the writer's commit) or the uid of a quarantined one (committed quarantine parts only, never a killed run's temp
file). The set is answered by DuckDB scanning those files, never loaded as Python objects, so a resumed job of millions
of episodes holds none of them; discovery (`jobs.ingest.discovery`) drops the done ones while it sorts the work, and the
driver's early exit (`jobs.ingest.settled`) asks the same question before Ray starts.

`eidata ingest --retry-quarantined` first forgets the quarantine rows of the environment's kind (`forget_environment`):
their episodes are then not done, and the run does them again. A part written before quarantine rows said whose fault
they were has no `fault` column; its rows count as the environment's when their error names one (`LEGACY_ENVIRONMENT`:
an errno or an error class of `adapters.storage.faults`, the messages of an unreachable store), which is how the full
disks and store outages of those runs were recorded.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from adapters.storage.faults import ENVIRONMENT_TEXT
from jobs.catalog.parts import write_parquet_atomic
from jobs.runtime.deadline import TIMEOUT_CLASS
from schemas.corpus import DATASETS_DIR, QUARANTINE_DIR, parquet_files
from schemas.lerobot import EPISODES_PATH

# what the error of a row without a `fault` column says when it was the environment's (see the module's docstring):
# what an error's text names of the environment, or a task past its deadline
LEGACY_ENVIRONMENT = rf"{ENVIRONMENT_TEXT}|\b{TIMEOUT_CLASS}\b"


def done_sql(output: Path, source: str) -> tuple[str, list[Any]]:
    """SQL (and its parameters) for the uids an earlier run finished for `source`: lineage `raw_uid` of its committed
    episodes, and quarantined uids (committed parts only, never a crashed run's temp file)."""
    parts, params = [], []
    episodes = sorted((output / DATASETS_DIR / source).glob(f"**/{EPISODES_PATH}"))
    if episodes:
        parts.append(
            "SELECT eidata.raw_uid AS uid FROM read_json(?, format='newline_delimited', "
            "columns={'eidata': 'STRUCT(raw_uid VARCHAR)'})"
        )
        params.append([str(p) for p in episodes])
    quarantine = parquet_files(output, QUARANTINE_DIR)
    if quarantine:
        parts.append("SELECT episode_uid AS uid FROM read_parquet(?) WHERE source = ?")
        params += [[str(p) for p in quarantine], source]
    if not parts:
        return "SELECT NULL::VARCHAR AS uid WHERE false", []
    # an episode without lineage has no raw_uid: a NULL in `NOT IN` would make every comparison unknown
    return f"SELECT uid FROM ({' UNION ALL '.join(parts)}) WHERE uid IS NOT NULL", params


@contextmanager
def connect(tmp: Path) -> Iterator[Any]:
    """A DuckDB connection in 512 MB on one thread that spills to `tmp`, removed after."""
    import duckdb

    con = duckdb.connect()
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        con.execute(f"SET temp_directory = '{tmp}'; SET memory_limit = '512MB'; SET threads = 1")
        yield con
    finally:
        con.close()
        shutil.rmtree(tmp, ignore_errors=True)


def done_uids(output: Path, source: str, uids: list[str], tmp: Path) -> set[str]:
    """Which of `uids` an earlier run finished (DuckDB spills to `tmp`, removed after)."""
    sql, params = done_sql(output, source)
    with connect(tmp) as con:
        rows = con.execute(f"SELECT uid FROM ({sql}) WHERE uid IN (SELECT unnest(?))", [*params, uids]).fetchall()
    return {r[0] for r in rows}


def environment_mask(table: pa.Table) -> pa.ChunkedArray:
    """Which quarantine rows are of the environment's kind: `fault` says so, or, where it is missing (an older
    part), the error does (`LEGACY_ENVIRONMENT`)."""
    text = pc.binary_join_element_wise(pc.fill_null(table["error_class"], ""), pc.fill_null(table["message"], ""), " ")
    legacy = pc.match_substring_regex(text, LEGACY_ENVIRONMENT)
    if "fault" not in table.column_names:
        return legacy
    fault = table["fault"]
    return pc.or_kleene(pc.equal(fault, "environment"), pc.and_kleene(pc.is_null(fault), legacy))


def forget_environment(output: Path) -> int:
    """Remove the quarantine rows of the environment's kind from their parts (each part rewritten atomically, an
    emptied one removed), so that this run does their episodes again; returns how many rows went."""
    gone = 0
    for part in parquet_files(output, QUARANTINE_DIR):
        table = pq.read_table(part)
        mask = pc.fill_null(environment_mask(table), False)
        n = pc.sum(mask).as_py() or 0
        if not n:
            continue
        kept = table.filter(pc.invert(mask))
        if kept.num_rows:
            write_parquet_atomic(kept, part)
        else:
            part.unlink()
        gone += n
    return gone
