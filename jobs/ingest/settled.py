"""Is there anything to do? Answered in the driver before Ray starts, so that an unchanged rerun of a finished job ends
without Ray (issue 25 item 5).

`settled(spec)` asks what discovery asks (`jobs.ingest.discovery`), in this process: each source's refs, from its
adapter's own discovery, against what earlier runs finished (the same done set, `jobs.ingest.resume`: lineage `raw_uid`
of the source's committed episodes and the quarantined uids, scanned by DuckDB). Discovery would find nothing to do
exactly when every ref's uid is done and every source whose discovery fails already has its failure in the quarantine;
then the job has no episode to run, no quarantine row to write and no commit to make, and `settled` returns how many raw
episodes discovery found. At the first ref not done it stops and returns None, and the job runs as it always did
(discovery on Ray included), so a job with work pays little for the question: nothing when a source has no record yet (a
first run), a batch of 64 refs when its first refs are new, at most one unchanged rerun's worth on a resumed job. The
refs are checked in batches (64, doubling to `BATCH`) and never held all at once; the done set lives in DuckDB, which
spills.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from adapters import get_adapter
from adapters.base import AdapterError, EpisodeRef
from adapters.storage.faults import environment_fault
from jobs.ingest.discovery import BATCH, WORK_DIR
from jobs.ingest.quarantine import source_row
from jobs.ingest.resume import connect, done_sql
from jobs.spec_models import JobSpec, SourceSpec
from schemas.corpus import DATASETS_DIR, QUARANTINE_DIR, episode_uid, parquet_files
from schemas.lerobot import EPISODES_PATH

log = logging.getLogger(__name__)

FIRST_BATCH = 64


def settled(spec: JobSpec) -> int | None:
    """The raw episodes discovery would find (all already done) when a run of `spec` has nothing to do; else None."""
    output = spec.output
    quarantined = bool(parquet_files(output, QUARANTINE_DIR))
    if not quarantined and not all(
        any((output / DATASETS_DIR / s.name).glob(f"**/{EPISODES_PATH}")) for s in spec.sources
    ):
        return None  # a source without any record of an earlier run: there is work (or an empty source)
    with connect(output / WORK_DIR / "settled.tmp") as con:
        found = 0
        for source in spec.sources:
            if (n := _source_settled(con, output, source)) is None:
                return None
            found += n
        return found


def _batches(source: SourceSpec) -> Iterator[list[EpisodeRef]]:
    refs = iter(get_adapter(source.adapter, source.options, source.storage).discover(source.root))
    size = FIRST_BATCH
    while batch := list(islice(refs, size)):
        yield batch
        size = min(2 * size, BATCH)


def _source_settled(con: Any, output: Path, source: SourceSpec) -> int | None:
    """How many refs `source` has (not flagged by discovery) when all of them are done; None at the first that is
    not. A source whose discovery fails is settled when its failure is quarantined already."""
    sql, params = done_sql(output, source.name)
    con.execute(f"CREATE OR REPLACE TEMP TABLE done AS {sql}", params)
    found, batches = 0, _batches(source)
    while True:
        try:
            batch = next(batches, None)
        except Exception as e:  # discovery would quarantine the source (once): settled if it did already
            if environment_fault(e) is not None:  # not the source's: the job's discovery tells (jobs.runtime.retry)
                return None
            if not isinstance(e, AdapterError):
                log.exception("discovery of source %s failed", source.name)
            uid = source_row(source, e).episode_uid
            return 0 if con.execute("SELECT count(*) FROM done WHERE uid = ?", [uid]).fetchone()[0] else None
        if batch is None:
            return found
        uids = [episode_uid(source.name, r.subset, r.raw_id) for r in batch]
        new = con.execute("SELECT count(*) FROM unnest(?) AS t(uid) WHERE uid NOT IN (SELECT uid FROM done)", [uids])
        if new.fetchone()[0]:
            return None
        found += sum(r.error is None for r in batch)
