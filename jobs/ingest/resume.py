"""Where a run of the job starts from: its output made ready (`prepare`), what earlier runs finished, and what a
killed one left (`resume_killed`).

What is done (exactly-once resume, DESIGN.md 3.1) is answered by DuckDB scanning the committed `episodes.jsonl` and
quarantine parts, never loaded as Python objects, so a resumed job of millions of episodes holds none of them;
discovery (`jobs.ingest.discovery`) and the driver's early exit (`nothing_to_do`) ask the same question. `settled`
stops at the first ref not done, so a job with work pays little for it: nothing on a first run, a batch of 64 refs
when its first refs are new, at most one unchanged rerun's worth on a resumed job. Its discovery parses the source's
bytes, so it runs where the job's does: in a parse process under the job's memory limit, a file whose parse fails
refused and discovery run again (`adapters.hostile.sandbox.answer_refusing`), never in the driver.

A quarantine part written before rows said whose fault they were has no `fault` column; its rows count as the
environment's when their error names one (`LEGACY_ENVIRONMENT`), which is how the full disks and store outages of
those runs were recorded.
"""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from adapters import get_adapter
from adapters.base import EpisodeRef
from adapters.hostile.sandbox import answer_refusing
from adapters.storage.corpus import Corpus
from ingest.lerobot.recovery import claimed
from ingest.lerobot.staging import is_stage_in_use
from ingest.lerobot.writer_dir import STAGING
from jobs.catalog.parts import drop_quarantine_rows, parquet_files
from jobs.ingest.quarantine import source_row
from jobs.output_lock import OutputLock
from jobs.runtime.deadline import TIMEOUT_CLASS
from jobs.runtime.retry import forget_worker_deaths
from jobs.spec_models import JobSpec, PreparedSpec, SourceSpec
from schemas.corpus import DATASETS_DIR, FINISHED, JOB_DIR, QUARANTINE_DIR, episode_uid
from schemas.faults import ENVIRONMENT_TEXT, environment_fault
from schemas.lerobot import EPISODES_PATH, INFO_PATH

log = logging.getLogger(__name__)

WORK_DIR = f"{JOB_DIR}/work"  # the job's scratch: discovery's work files, the done set's spills
BATCH = 8192  # refs per parquet batch, in the discovery task and in the driver's reads; `settled`'s largest
FIRST_BATCH = 64  # `settled`'s first batch of refs
# what the error of a row without a `fault` column says when it was the environment's (see the module's docstring):
# what an error's text names of the environment, or a task past its deadline
LEGACY_ENVIRONMENT = rf"{ENVIRONMENT_TEXT}|\b{TIMEOUT_CLASS}\b"


def prepare(given: JobSpec, corpus: Corpus, held: ExitStack, *, retry_quarantined: bool = False) -> PreparedSpec:
    """The spec this run works to: `given` writing to the corpus's folder, locked against another ingest job until
    `held` closes (`given` is kept in `job/` once its readings are checked: `jobs.ingest.readings.keep`);
    `retry_quarantined` forgets the quarantine rows of the environment's kind first (`forget_environment`)."""
    spec = PreparedSpec.model_construct(given.model_fields_set, **{**dict(given), "output": corpus.root})
    output = spec.output
    output.mkdir(parents=True, exist_ok=True)
    held.enter_context(OutputLock(output, "ingest"))
    if retry_quarantined and (n := forget_environment(output)):
        log.info("%s: %d episodes quarantined for the environment's fault are tried again", output, n)
    return spec


def done_sql(output: Path, source: str) -> tuple[str, list[Any]]:
    """SQL (and its parameters) for the uids an earlier run finished for `source`: lineage `raw_uid` of its committed
    episodes, and quarantined uids (committed parts only, never a crashed run's temp file)."""
    parts: list[str] = []
    params: list[Any] = []
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


def nothing_to_do(spec: PreparedSpec, address: str | None) -> int | None:
    """The raw episodes already done, when the last run that started work ran to its end and nothing is left to do
    (`settled`): then the job needs no Ray, no commit and no catalog rebuild. None otherwise, and always on a cluster
    (`address`: its nodes' shared-filesystem check stays) or where this process runs Ray already."""
    output = spec.output
    ray = sys.modules.get("ray")
    if address is not None or (ray is not None and ray.is_initialized()):
        return None
    if not (output / FINISHED).exists() or not (output / "catalog" / "episodes").exists():
        return None
    return settled(spec)


def settled(spec: PreparedSpec) -> int | None:
    """The raw episodes discovery would find (all already done) when a run of `spec` has nothing to do; else None."""
    output = spec.output
    quarantined = bool(parquet_files(output, QUARANTINE_DIR))
    if not quarantined and not all(
        any((output / DATASETS_DIR / s.name).glob(f"**/{EPISODES_PATH}")) for s in spec.sources
    ):
        return None  # a source without any record of an earlier run: there is work (or an empty source)
    found = 0
    for source in spec.sources:
        try:
            n = answer_refusing(
                _source_settled, output, source, mib=spec.parallelism.task_memory_mib, what=f"{source.name}: discovery"
            )
        except Exception as e:  # discovery would quarantine the source (once): settled if it did already
            if environment_fault(e) is not None:  # not the source's: the job's discovery tells (jobs.runtime.retry)
                return None
            log.warning("discovery of source %s failed: %s", source.name, e)
            uid = source_row(source, e).episode_uid
            n = 0 if uid in done_uids(output, source.name, [uid or ""], output / WORK_DIR / "settled.tmp") else None
        if n is None:
            return None
        found += n
    return found


def _batches(source: SourceSpec) -> Iterator[list[EpisodeRef]]:
    refs = iter(get_adapter(source.adapter, source.options, source.storage).discover(source.root))
    size = FIRST_BATCH
    while batch := list(islice(refs, size)):
        yield batch
        size = min(2 * size, BATCH)


def _source_settled(output: Path, source: SourceSpec) -> int | None:
    """In the parse process: how many refs `source` has (not flagged by discovery) when all of them are done; None at
    the first that is not. A discovery that fails raises: the source is settled when its failure is quarantined."""
    sql, params = done_sql(output, source.name)
    with connect(output / WORK_DIR / f"settled-{source.name.replace('/', '_')}.tmp") as con:
        con.execute(f"CREATE OR REPLACE TEMP TABLE done AS {sql}", params)
        found = 0
        for batch in _batches(source):
            uids = [episode_uid(source.name, r.subset, r.raw_id) for r in batch]
            if con.execute("SELECT count(*) FROM unnest(?) t(uid) WHERE uid NOT IN (FROM done)", [uids]).fetchone()[0]:
                return None
            found += sum(r.error is None for r in batch)
        return found


def resume_killed(output: Path, keep: frozenset[Path] = frozenset()) -> bool:
    """Whether the last run that started work did not reach its end (no `FINISHED`); what such a run committed is
    rolled forward now, before discovery reads the datasets' lineage (its staged folders in `keep` stay: this run
    adopts them, `jobs.ingest.adopt`). The mark goes either way: this run writes it again at its end
    (`mark_finished`)."""
    interrupted = not (output / FINISHED).exists()
    (output / FINISHED).unlink(missing_ok=True)
    if interrupted:
        roll_forward(output, keep)
    return interrupted


def roll_forward(output: Path, keep: frozenset[Path] = frozenset()) -> None:
    """Staging left by a killed run: reopening each dataset rolls commits forward and drops unfinished episodes,
    all but the staged folders in `keep` (finished episodes this run adopts)."""
    from ingest.lerobot.writer import LeRobotWriter
    from jobs.ingest.commit import LOCK_WAIT_S

    for dataset in sorted((output / "datasets").glob("*/*")):
        if (dataset / INFO_PATH).exists():
            LeRobotWriter.open(dataset, lock_wait_s=LOCK_WAIT_S, keep=keep).close()
        elif (dataset / STAGING).exists():  # a dataset never created: only a killed run's staging is there
            staged = list((dataset / STAGING).iterdir())
            held = keep | claimed(dataset)  # adopted, or named by a sibling's commit (rolled forward after it)
            if not any(d in held or d.resolve() in held for d in staged):
                shutil.rmtree(dataset, ignore_errors=True)
                continue
            for d in staged:  # the adopted ones stay until committed
                if d not in held and d.resolve() not in held and not is_stage_in_use(d):
                    log.warning("%s: removing unfinished episode staged in %s", dataset, d.name)
                    shutil.rmtree(d, ignore_errors=True)


def mark_finished(output: Path) -> None:
    """This run ran to its end: the next one need not roll anything forward, and starts with no worker death noted."""
    (output / FINISHED).touch()
    forget_worker_deaths(output)


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
    return drop_quarantine_rows(output, environment_mask)
