"""`eidata ingest SPEC`: the job's driver (the whole flow: the package's docstring); `cli_ingest` its exit codes. The
worker is a parameter, imported only when there is work (its module loads canonicalization, scipy included)."""

from __future__ import annotations

import functools
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters.hostile.limits import mechanism
from adapters.storage.corpus import Corpus
from jobs.catalog.source_findings import read_source_findings, write_source_findings
from jobs.ingest import reread as rereads
from jobs.ingest.adopt import AdoptingTasks, Record, adoptable, clear, drop_torn, kept_folders, recorded_folders
from jobs.ingest.discovery import DiscoveryPlan, discover_all, stream_plan
from jobs.ingest.readings import held_counts, keep, readings_of
from jobs.ingest.report import IngestReport, SourceTally, episodes_held, quarantined_held
from jobs.ingest.reread import NO_REREAD, Reread
from jobs.ingest.resume import mark_finished, nothing_to_do, prepare, resume_killed, roll_forward
from jobs.ingest.task import Staged, WorkItem
from jobs.runtime.deadline import clear_markers
from jobs.runtime.exits import fail
from jobs.runtime.job_lock import JobLockedError
from jobs.runtime.ray_pool import init_ray
from jobs.runtime.retry import EXIT_ENVIRONMENT, EnvironmentFaultError
from jobs.runtime.shared_fs import SharedFsError, check_shared_output
from jobs.runtime.voice import VoiceRelay
from jobs.spec_models import JobSpec, PreparedSpec
from schemas.corpus import JOB_DIR
from schemas.faults import ENVIRONMENT_TEXT, environment_fault
from schemas.reading import SourceReading

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # the worker, the committers and the catalog are imported when there is work for them
    from jobs.ingest.commit import Committer
    from jobs.ingest.task import Worker


def run_ingest(
    spec: JobSpec,
    *,
    address: str | None = None,
    progress: bool | None = None,
    worker: Worker | None = None,
    on_done: Callable[[WorkItem], None] | None = None,
    retry_quarantined: bool = False,
    reread: Reread = NO_REREAD,
) -> IngestReport:
    """Run the job of `spec`; `worker` is what each episode task runs (pickled by reference to the Ray workers;
    default `jobs.ingest.worker.process_episode`), `on_done` hears of each raw episode once it is committed or
    quarantined; `retry_quarantined` does the episodes quarantined for the environment's fault again
    (`jobs.ingest.resume.forget_environment`); `reread`: the sources read again under their spec, their episodes and
    quarantine rows replaced exactly once (a changed reading not asked for stops the run before any work:
    `jobs.ingest.reread`)."""
    # a bucket's corpus: its scratch, then published; `held` releases what the run holds, last taken first released
    with Corpus.open(spec.output, spec.output_storage, "ingest") as corpus, ExitStack() as held:
        t0 = time.perf_counter()
        job = prepare(spec, corpus, held, retry_quarantined=retry_quarantined)
        readings = readings_of(spec)
        names = rereads.plan(job.output, readings, lambda: held_counts(job.output, list(readings)), reread)
        if fresh := [n for n in keep(job.output, spec, readings) if n not in names]:
            log.info("readings recorded for %s (job/readings.jsonl)", ", ".join(fresh))
        report = IngestReport(job.output, {s.name: SourceTally(spec_tier=s.tier) for s in job.sources})
        if names:  # each a corpus of its own, then swapped in (`jobs.ingest.reread`)
            nested = functools.partial(run_ingest, address=address, progress=progress, worker=worker)
            for name, again in rereads.reread(corpus, spec, names, readings, nested).items():
                report.tallies[name] = again.tallies[name]  # a resumed swap's nested run is over: none
            report.reread = names
        if (done := nothing_to_do(job, address)) is not None:  # what discovery would find: every raw episode done
            report.skipped = done
            return _summed(report, job, t0)
        # a killed run's finished, uncommitted episodes: kept, not done again; checked once its writers let go
        interrupted = resume_killed(job.output, recorded_folders(job.output))
        adopted = adoptable(job.output)
        report.nodes = _start_ray(job, address, held)
        plan = _discover(job, report, held)
        committer = _committer(job, plan, report, corpus, on_done, readings)
        _run_and_commit(job, plan, committer, worker, progress, adopted)
        if plan.todo or plan.errors or interrupted or not (job.output / "catalog" / "episodes").exists():
            _rebuild(corpus)
        mark_finished(job.output)
        return _summed(report, job, t0)


def _rebuild(corpus: Corpus) -> None:
    from jobs.catalog.build import rebuild_catalog

    rebuild_catalog(corpus)


def _start_ray(spec: PreparedSpec, address: str | None, held: ExitStack) -> int:
    """Ray started (the workers' store lines relayed and printed), stopped when `held` closes; how many nodes see the
    output folder (each must: `jobs.runtime.shared_fs`)."""
    held.callback(VoiceRelay.start(spec.output / JOB_DIR if address else None).stop)
    held.callback(drop_torn, spec.output)  # after Ray's shutdown: a stop's run leaves no record half-written
    if init_job_ray(spec, address):
        import ray

        held.callback(ray.shutdown)
    return len(check_shared_output(spec.output))


def _discover(spec: PreparedSpec, report: IngestReport, held: ExitStack) -> DiscoveryPlan:
    """Every source discovered (its work file removed when `held` closes), each one's findings replacing its last ones;
    a source whose discovery outlasted its retries ends the job before anything is started."""
    plan = discover_all(spec)
    held.callback(plan.cleanup)
    if plan.deferred:
        name, cause = next(iter(plan.deferred.items()))
        raise EnvironmentFaultError(f"source {name}: discovery", cause)
    report.skipped = plan.skipped
    for name, found in plan.findings.items():
        write_source_findings(spec.output, name, found)
    return plan


def _committer(
    spec: PreparedSpec,
    plan: DiscoveryPlan,
    report: IngestReport,
    corpus: Corpus,
    on_done: Callable[[WorkItem], None] | None,
    readings: dict[str, SourceReading],
) -> Committer:
    """The committers and the one quarantine writer, given the rows of what discovery flagged."""
    from jobs.ingest.commit import Committer
    from jobs.ingest.quarantine import QuarantineWriter

    fingerprints = {name: r.fingerprint for name, r in readings.items()}  # stamped on each quarantine row
    quarantine = QuarantineWriter(spec.output, readings=fingerprints)
    committer = Committer(spec, report.tallies, quarantine, on_done=on_done, corpus=corpus)
    for row in plan.errors:
        committer.add_quarantine(row)
    return committer


def _run_and_commit(
    spec: PreparedSpec,
    plan: DiscoveryPlan,
    committer: Committer,
    worker: Worker | None,
    progress: bool | None,
    adopted: dict[str, Record],
) -> None:
    """The episode tasks run (those `adopted` not: their recorded answers are committed) and their episodes
    committed, when discovery found work; the committer closed either way. The first raw episode the environment kept
    from its dataset ends the job (`EnvironmentFaultError`)."""
    try:
        if plan.todo:
            from jobs.ingest.worker import process_episode

            roll_forward(spec.output, kept_folders(adopted))  # the committers open their datasets without recovering
            clear_markers(spec.output)
            committer.prestart()
            _run_on_ray(spec, plan, committer, worker or process_episode, progress, adopted)
    finally:
        try:
            committer.close()
        except Exception as e:  # a full disk stops the quarantine's part too: the deferred episode says why
            if not committer.deferred or environment_fault(e) is None:
                raise
    if committer.deferred:
        item, why = committer.deferred[0]
        left = "; it and the episodes after it in its dataset are left to the next run"
        raise EnvironmentFaultError(f"{item.uid} (stage {why.stage})", why.cause, left=left)
    if plan.todo or adopted:  # a worker killed mid-episode left its staging behind; the retry wrote the episode
        roll_forward(spec.output)
    clear(spec.output)  # the records of what was committed (or is gone): none is adopted after a clean end


def _summed(report: IngestReport, spec: PreparedSpec, t0: float) -> IngestReport:
    """`report` with what the corpus holds at the run's end: the sources' findings and quarantined episodes."""
    names = [s.name for s in spec.sources]
    mib = spec.parallelism.task_memory_mib
    under = f"a memory limit of {mib} MiB ({mechanism(why=True)})"  # a fall-back from cgroup v2 says why
    report.parse_limit = under if mib is not None else "no memory limit"
    report.findings = read_source_findings(spec.output, names)
    report.held = quarantined_held(spec.output, names)
    report.episodes_held = episodes_held(spec.output)
    report.seconds = time.perf_counter() - t0
    return report


def _run_on_ray(
    spec: PreparedSpec,
    plan: DiscoveryPlan,
    committer: Committer,
    worker: Worker,
    progress: bool | None,
    adopted: dict[str, Record],
) -> None:
    import ray

    from ingest.progress import Progress
    from jobs.ingest.order import RayTasks, in_order
    from jobs.ingest.quarantine import discovery_row
    from jobs.ingest.task import Deferred

    task = ray.remote(max_retries=spec.parallelism.task_retries, num_cpus=1)(worker)
    bar = Progress(plan.todo, "ingest", unit="ep", enabled=progress, saved=lambda: committer.saved)

    def readable() -> Iterator[WorkItem]:
        """The work items a worker can read; those discovery flagged never reach one: their row goes to the
        quarantine here, unless the flag names an error of the environment (an adapter that caught a full disk or an
        unreachable store at discovery): then no item after it is read, and the job ends."""
        for item in stream_plan(spec, plan):
            if item.ref.error is None:
                yield item
            elif re.search(ENVIRONMENT_TEXT, item.ref.error):
                committer.deferred.append((item, Deferred(item.uid, "discover", item.ref.error)))
                return
            else:
                committer.add_quarantine(discovery_row(item.source, item.ref))
                bar.update(1)

    tasks = AdoptingTasks(RayTasks(task, idle=committer.poll), adopted)
    for item, result in in_order(readable(), tasks, spec):
        if committer.deferred:  # the environment failed past its retries: no more work (jobs.runtime.retry)
            break
        committer.accept(item, result)
        bar.update(1, frames=result.frames if isinstance(result, Staged) else 0)
    bar.close()
    tasks.report()


def init_job_ray(spec: JobSpec, address: str | None) -> bool:
    """Ray as every job starts it, with SVT-AV1's log level and the driver's `EIDATA_*` settings on every worker;
    True when this call started it."""
    par = spec.parallelism
    own = {k: v for k, v in os.environ.items() if k.startswith("EIDATA_")}
    env = {"SVT_LOG": "1", **own}
    return init_ray(address, par.num_cpus, par.object_store_mb, env=env)


def cli_ingest(args: Any) -> int:
    from jobs.spec import SpecError, load_spec
    from schemas.storage import OutputLeasedError, StorageError

    if getattr(args, "no_sample", False) and not getattr(args, "dry_run", False):
        return fail(2, "eidata ingest: --no-sample applies to --dry-run (a run reads every episode)")
    try:
        spec = load_spec(Path(args.spec))
    except SpecError as e:
        return fail(2, str(e))
    asked = Reread(tuple(getattr(args, "reread", None) or ()), getattr(args, "reread_changed", False), args.spec)
    if getattr(args, "dry_run", False):
        from jobs.ingest.dry_run import dry_run_ingest

        return dry_run_ingest(spec, sampled=not getattr(args, "no_sample", False), reread=asked)
    try:
        report = run_ingest(spec, address=args.address, retry_quarantined=args.retry_quarantined, reread=asked)
    except rereads.RereadError as e:  # nothing read or replaced
        return fail(2, f"error: {e}")
    except (JobLockedError, SharedFsError, OutputLeasedError, StorageError) as e:  # the last two: a bucket output's
        return fail(1, f"error: {e}")
    except Exception as e:  # the environment's, anywhere (a full disk under the catalog too): one line, 75
        if not isinstance(e, EnvironmentFaultError):
            if (cause := environment_fault(e)) is None:
                raise
            e = EnvironmentFaultError("ingest", cause)
        return fail(EXIT_ENVIRONMENT, f"error: {e}")
    print(report.table())
    if (nothing := report.nothing_written()) is not None:  # an empty corpus is no success (--strict or not)
        return fail(1, f"error: {nothing}")
    strict = args.strict or spec.strict
    held = max(report.held_quarantined, report.quarantined)
    if strict and held:  # what the corpus holds, not only this run's work: a rerun of the spec stays red until fixed
        earlier = f" ({held - report.quarantined} by an earlier run)" if held > report.quarantined else ""
        return fail(1, f"error: --strict and the corpus holds {held} quarantined episodes{earlier}")
    if strict and report.empty_sources:
        for f in report.empty_sources:
            print(f"error: --strict and source {f.source} yielded no episode: {f.message}", file=sys.stderr)
        return 1
    return 0
