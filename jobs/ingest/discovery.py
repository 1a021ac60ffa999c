"""Discovery as a stream: each source is discovered by its own Ray task into a sorted work file; the driver reads the
work files a batch at a time (`interleave`), so it never holds the corpus's work list.

DuckDB drops the raw episodes an earlier run finished (`jobs.ingest.resume`) and sorts the rest out of core: each
subset (one dataset) in the ref's natural order, the subsets interleaved. Commits must be deterministic per dataset
only, so every dataset keeps its sorted order while the episodes of many datasets are in flight together.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from adapters import get_adapter
from adapters.base import AdapterError, EpisodeRef, natural_key
from adapters.hostile.sandbox import answer_refusing
from adapters.registry import adapter_class
from adapters.source_adapter import SourceAdapter
from adapters.storage.root import Root
from jobs.ingest.quarantine import quarantine_row, source_row
from jobs.ingest.resume import BATCH, WORK_DIR, connect, done_sql, done_uids
from jobs.ingest.task import WorkItem
from jobs.runtime.retry import EnvironmentRetry, retry_environment
from jobs.spec_models import PreparedSpec, SourceSpec
from schemas.corpus import QuarantineRow, episode_uid
from schemas.faults import describe, environment_fault
from schemas.findings import NO_EPISODES, SourceFinding
from schemas.storage import SourceVanishedError

log = logging.getLogger(__name__)

_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("subset", pa.binary()),
        ("key", pa.binary()),
        ("uid", pa.string()),
        ("ref", pa.string()),
        ("error", pa.string()),
    ]
)


def natural_bytes(text: str) -> bytes:
    """`natural_key(text)` as bytes that compare the same way (so DuckDB sorts refs out of core as `sorted` would).

    A number is tagged 0x02 and written with its digit count first, a text 0x03 and ends with 0x00; 0x01 ends the
    tuple, so a tuple that is a prefix of another sorts first, as in Python."""
    out = bytearray()
    for kind, value in natural_key(text):
        if kind == 0:
            digits = str(value)
            out += b"\x02" + f"{len(digits):04d}".encode() + digits.encode()
        else:
            out += b"\x03" + str(value).encode() + b"\x00"
    return bytes(out + b"\x01")


def discover_source(
    source: SourceSpec,
    output: str,
    work: str,
    environment: EnvironmentRetry | None = None,
    memory_mib: int | None = None,
) -> dict[str, Any]:
    """One source's discovery (a Ray task): its not-yet-done refs, sorted, into the parquet file `work`.

    `source` travels pickled, not as JSON: a JSON dump masks a spec's storage secret, and validating it again would
    check a URL root's bucket once more per task. Returns counts (`found`: refs discovery did not flag; `todo`: rows of
    the work file, flagged ones included; `todo_readable`: those not flagged), and the source's own quarantine row
    (JSON) when its discovery failed, or `deferred` (the cause) when an error of the environment outlasted the retries
    of `environment` (`jobs.runtime.retry`): no row then, and the job ends. The adapter's discovery runs in a parse
    process under the memory limit `memory_mib` (`hostile.sandbox`): a file whose parse fails, or the limit kills,
    is refused at its open in a new pass (`adapters.hostile.isolated.again`), its episodes flagged naming it, its
    neighbours discovered."""
    work_path = Path(work)
    unsorted = work_path.with_suffix(".unsorted.parquet")
    try:
        found, refs, adapter_findings = answer_refusing(
            _discovered, source, unsorted, environment, mib=memory_mib, what=f"{source.name}: discovery"
        )
        if (why := Root(source.root, source.storage).vanished(())) is not None:  # a listing of a root gone midway
            raise SourceVanishedError(why)
    except Exception as e:  # an unreadable source costs that source only, never the job
        cause = environment_fault(e)
        if cause is None and (why := Root(source.root, source.storage).vanished(())) is not None:  # failed as it went
            cause = describe(SourceVanishedError(why))
        if cause is not None:  # past its retries: no row, the job ends
            unsorted.unlink(missing_ok=True)
            return {"source": source.name, "found": 0, "todo": 0, "todo_readable": 0, "error": None, "deferred": cause}
        if not isinstance(e, AdapterError):
            log.exception("discovery of source %s failed", source.name)
        unsorted.unlink(missing_ok=True)
        row = source_row(source, e)
        uid = row.episode_uid
        assert uid is not None  # a source's row names it: source/*
        done = uid in done_uids(Path(output), source.name, [uid], Path(output) / WORK_DIR / f"{source.name}.tmp")
        error = None if done else row.model_dump(mode="json")
        said = _json(source_findings(source, [], 0, failure=f"{type(e).__name__}: {row.message}"))
        return {"source": source.name, "found": 0, "todo": 0, "todo_readable": 0, "error": error, "findings": said}
    try:
        todo, todo_readable = _sort_todo(Path(output), source.name, unsorted, work_path)
    finally:
        unsorted.unlink(missing_ok=True)
    return {
        "source": source.name,
        "found": found,
        "todo": todo,
        "todo_readable": todo_readable,
        "error": None,
        "findings": _json(source_findings(source, adapter_findings, refs)),
    }


def _json(findings: list[SourceFinding]) -> list[dict[str, Any]]:
    return [f.model_dump(mode="json") for f in findings]


def source_findings(
    source: SourceSpec, found: list[SourceFinding], refs: int, *, failure: str | None = None
) -> list[SourceFinding]:
    """A discovered source's findings (`schemas.findings`) under its job name: what its adapter noted (`found`), and,
    when discovery yielded no episode at all (`refs` 0), a `no_episodes` finding naming the root, the first cause (the
    discovery's failure, else the first finding noted) and what the adapter expects a root to hold."""
    noted = [f.model_copy(update={"source": source.name}) for f in found]
    if refs:
        return noted
    cls = adapter_class(source.adapter)
    first = failure or next((f.message for f in noted if f.severity != "info"), None) or "nothing matched its layout"
    expects = f"; expected {cls.expects}" if cls.expects else ""
    empty = SourceFinding(
        source=source.name,
        adapter=source.adapter,
        root=str(source.root),
        code=NO_EPISODES,
        severity="error",
        message=f"no episode found under {source.root}: {first}{expects}",
        path=str(source.root),
    )
    return [empty, *noted]


def _discovered(
    source: SourceSpec, path: Path, environment: EnvironmentRetry | None
) -> tuple[int, int, list[SourceFinding]]:
    """In the parse process: the source's refs into `path`, tried again on the environment's faults; (how many
    discovery did not flag, how many refs, what its adapter noted)."""
    adapter = get_adapter(source.adapter, source.options, source.storage)
    found, n = retry_environment(
        lambda: _write_refs(source, adapter, path), environment or EnvironmentRetry(), f"{source.name}: discovery"
    )
    return found, n, adapter.findings()


def _write_refs(source: SourceSpec, adapter: SourceAdapter, path: Path) -> tuple[int, int]:
    """Every ref into `path`, a batch at a time; returns (how many discovery did not flag, how many refs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = readable = 0
    with pq.ParquetWriter(path, _SCHEMA) as writer:
        batch: list[EpisodeRef] = []
        for ref in adapter.discover(source.root):
            batch.append(ref)
            readable += ref.error is None
            if len(batch) == BATCH:
                writer.write_batch(_batch(source, batch, n))
                n += len(batch)
                batch = []
        if batch or not n:
            writer.write_batch(_batch(source, batch, n))
            n += len(batch)
    return readable, n


def _batch(source: SourceSpec, refs: list[EpisodeRef], start: int) -> pa.RecordBatch:
    return pa.record_batch(
        [
            pa.array(range(start, start + len(refs)), pa.int64()),
            pa.array([natural_bytes(r.subset) for r in refs], pa.binary()),
            pa.array([natural_bytes(r.subset) + natural_bytes(r.raw_id) for r in refs], pa.binary()),  # `sort_key`
            pa.array([episode_uid(source.name, r.subset, r.raw_id) for r in refs], pa.string()),
            pa.array([r.model_dump_json() for r in refs], pa.string()),
            pa.array([r.error for r in refs], pa.string()),
        ],
        schema=_SCHEMA,
    )


def _sort_todo(output: Path, source: str, unsorted: Path, work: Path) -> tuple[int, int]:
    sql, params = done_sql(output, source)
    with connect(work.with_suffix(".tmp")) as con:
        con.execute(
            # each subset (a dataset) in sorted order, the subsets interleaved: its n-th ref after every subset's
            # (n-1)-th, so all of a source's datasets are in flight together, each on its committer
            "COPY (SELECT seq, uid, ref, error FROM (SELECT *, "
            "row_number() OVER (PARTITION BY subset ORDER BY key, seq) AS rank"
            f" FROM read_parquet(?) WHERE uid NOT IN ({sql})) ORDER BY rank, subset) "
            "TO ? (FORMAT parquet, ROW_GROUP_SIZE 8192)",
            [str(unsorted), *params, str(work)],
        )
        todo, readable = con.execute(
            "SELECT count(*), count(*) FILTER (error IS NULL) FROM read_parquet(?)", [str(work)]
        ).fetchone()
    return int(todo), int(readable)


@dataclass
class DiscoveryPlan:
    """The sources' work files after discovery: counts, and each source's failure as a quarantine row."""

    output: Path
    files: dict[str, Path] = field(default_factory=dict)  # source name -> work file (sources with something to do)
    found: int = 0
    todo: int = 0  # work rows, flagged refs included (each becomes a quarantine row)
    todo_readable: int = 0
    errors: list[QuarantineRow] = field(default_factory=list)
    deferred: dict[str, str] = field(default_factory=dict)  # source -> the error of the environment that stopped it
    findings: dict[str, list[SourceFinding]] = field(default_factory=dict)  # per source discovered

    @property
    def skipped(self) -> int:
        return self.found - self.todo_readable

    def cleanup(self) -> None:
        shutil.rmtree(self.output / WORK_DIR, ignore_errors=True)


def discover_all(spec: PreparedSpec, discover: Callable[..., dict[str, Any]] = discover_source) -> DiscoveryPlan:
    """Every source discovered at once, one Ray task each running `discover` (on any node: sources live on the
    shared filesystem or in an object store). A file that kills the parse names itself at the task's boundary and
    is refused there (`discover_source`); a task whose workers all died ends the job."""
    import ray

    plan = DiscoveryPlan(spec.output)
    plan.cleanup()  # a killed run's work files are stale
    par = spec.parallelism
    task = ray.remote(num_cpus=1, max_retries=par.task_retries)(discover)
    works = {s.name: spec.output / WORK_DIR / f"{s.name.replace(os.sep, '_')}.parquet" for s in spec.sources}
    refs = {
        s.name: task.remote(s, str(spec.output), str(works[s.name]), par.environment, par.task_memory_mib)
        for s in spec.sources
    }
    for s in spec.sources:
        try:
            res = ray.get(refs[s.name])
        except Exception as e:  # the discovery task itself died past its retries
            if (cause := environment_fault(e)) is not None:
                plan.deferred[s.name] = f"its discovery task died on each of its attempts ({cause})"
                continue
            plan.errors.append(quarantine_row(s, None, "discover", type(e).__name__, str(e)[:2000]))
            plan.findings[s.name] = source_findings(s, [], 0, failure=f"{type(e).__name__}: {str(e)[:500]}")
            continue
        if res.get("deferred"):
            plan.deferred[s.name] = res["deferred"]
            continue
        plan.findings[s.name] = [SourceFinding.model_validate(f) for f in res["findings"]]
        plan.found += res["found"]
        plan.todo += res["todo"]
        plan.todo_readable += res["todo_readable"]
        if res["error"] is not None:
            plan.errors.append(QuarantineRow.model_validate(res["error"]))
        if res["todo"]:
            plan.files[s.name] = works[s.name]
    return plan


def read_work(source: SourceSpec, path: Path) -> Iterator[WorkItem]:
    """A source's work file, a batch at a time."""
    for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH, columns=["seq", "ref"]):
        for seq, ref in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True):
            yield WorkItem(seq, source, EpisodeRef.model_validate_json(ref))


def interleave(streams: list[Iterator[WorkItem]]) -> Iterator[WorkItem]:
    """Round-robin over the sources' streams: each keeps its order, and every source has episodes in flight."""
    live = list(streams)
    while live:
        for s in list(live):
            item = next(s, None)
            if item is None:
                live.remove(s)
            else:
                yield item


def stream_plan(spec: PreparedSpec, plan: DiscoveryPlan) -> Iterator[WorkItem]:
    return interleave([read_work(s, plan.files[s.name]) for s in spec.sources if s.name in plan.files])
