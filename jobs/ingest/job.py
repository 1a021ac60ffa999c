"""`eidata ingest SPEC`: the job's driver: the output's lock, the nothing-to-do check, Ray, discovery, the episode
tasks in order, the committers and the quarantine writer, the catalog rebuild, the report and the exit codes (see the
package's docstring for the whole flow). The worker is a parameter (`run_ingest(worker=...)`): the job submits
whatever is passed, imported only when there is work (the worker's module loads canonicalization, scipy included)."""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters.storage.faults import ENVIRONMENT_TEXT, environment_fault
from ingest.lerobot.writer_dir import STAGING
from ingest.storage.corpus import open_corpus
from jobs.catalog.source_findings import read_source_findings, write_source_findings
from jobs.ingest.discovery import DiscoveryPlan, discover_all, stream_plan
from jobs.ingest.report import IngestReport, SourceTally, quarantined_held
from jobs.ingest.resume import forget_environment
from jobs.ingest.settled import settled
from jobs.ingest.task import WorkItem
from jobs.runtime.deadline import clear_markers
from jobs.runtime.job_lock import JobLock, JobLockedError
from jobs.runtime.ray_pool import init_ray
from jobs.runtime.retry import EXIT_ENVIRONMENT, EnvironmentFaultError, forget_worker_deaths
from jobs.runtime.shared_fs import SharedFsError, check_shared_output
from jobs.runtime.voice import VoiceRelay
from jobs.spec import dump_spec
from jobs.spec_models import JobSpec
from schemas.corpus import JOB_DIR
from schemas.lerobot import INFO_PATH

if TYPE_CHECKING:  # the worker, the committers and the catalog are imported when there is work for them
    from jobs.ingest.commit import Committer
    from jobs.ingest.task import Worker

log = logging.getLogger(__name__)

FINISHED = f"{JOB_DIR}/ingest.finished"  # present while the last run that started work ran to its end


def _clean_orphans(output: Path) -> None:
    """Staging left by a killed run: reopening each dataset rolls commits forward and drops unfinished episodes."""
    from ingest.lerobot.writer import LeRobotWriter
    from jobs.ingest.commit import LOCK_WAIT_S

    for dataset in sorted((output / "datasets").glob("*/*")):
        if (dataset / INFO_PATH).exists():
            LeRobotWriter.open(dataset, lock_wait_s=LOCK_WAIT_S).close()
        elif (dataset / STAGING).exists():  # a dataset never created: only a killed run's staging is there
            shutil.rmtree(dataset, ignore_errors=True)


def run_ingest(
    spec: JobSpec,
    *,
    address: str | None = None,
    progress: bool | None = None,
    worker: Worker | None = None,
    on_done: Callable[[WorkItem], None] | None = None,
    retry_quarantined: bool = False,
) -> IngestReport:
    """Run the job of `spec`; `worker` is what each episode task runs (pickled by reference to the Ray workers;
    default `jobs.ingest.worker.process_episode`), `on_done` hears of each raw episode once it is committed or
    quarantined; `retry_quarantined` does the episodes quarantined for the environment's fault again
    (`jobs.ingest.resume.forget_environment`)."""
    with open_corpus(spec.output, spec.output_storage, "ingest") as corpus:  # a bucket's: its scratch, then published
        given, spec = spec, spec.model_copy(update={"output": corpus.root})
        t0 = time.perf_counter()
        output = spec.output
        output.mkdir(parents=True, exist_ok=True)
        lock = JobLock(output)
        started = False
        plan = None
        relay = None
        try:
            (output / JOB_DIR / "spec.yaml").write_text(dump_spec(given))
            if retry_quarantined and (n := forget_environment(output)):
                log.info("%s: %d episodes quarantined for the environment's fault are tried again", output, n)
            report = IngestReport(output)
            for s in spec.sources:
                report.tallies.setdefault(s.name, SourceTally())
            done = _nothing_to_do(spec, address)
            if done is not None:  # what discovery would have found: every raw episode done, no source failure new
                report.skipped = done
                report.findings = read_source_findings(output, [s.name for s in spec.sources])
                report.held = quarantined_held(output, [s.name for s in spec.sources])
                report.seconds = time.perf_counter() - t0
                return report
            interrupted = not (output / FINISHED).exists()
            (output / FINISHED).unlink(missing_ok=True)
            if interrupted:  # roll forward what a killed run committed before discovery reads the datasets' lineage
                _clean_orphans(output)
            relay = VoiceRelay.start(output / JOB_DIR if address else None)  # the workers' store lines, printed
            started = init_job_ray(spec, address)
            views = check_shared_output(output)
            report.nodes = len(views)
            plan = discover_all(spec)
            if plan.deferred:  # a source's discovery outlasted its retries: nothing is started
                name, cause = next(iter(plan.deferred.items()))
                raise EnvironmentFaultError(f"source {name}: discovery", cause)
            report.skipped = plan.skipped
            for name, found in plan.findings.items():  # each discovered source's findings replace its last ones
                write_source_findings(output, name, found)
            report.findings = read_source_findings(output, [s.name for s in spec.sources])
            from jobs.ingest.commit import Committer
            from jobs.ingest.quarantine import QuarantineWriter

            committer = Committer(spec, report.tallies, QuarantineWriter(output), on_done=on_done, corpus=corpus)
            for row in plan.errors:
                committer.add_quarantine(row)
            try:
                if plan.todo:
                    from jobs.ingest.worker import process_episode

                    _clean_orphans(output)
                    clear_markers(output)
                    _run_on_ray(spec, plan, committer, worker or process_episode, progress)
            finally:
                try:
                    committer.close()
                except Exception as e:  # a full disk stops the quarantine's part too: the deferred episode says why
                    if not committer.deferred or environment_fault(e) is None:
                        raise
            if committer.deferred:  # the first one the environment kept from its dataset ends the job
                item, why = committer.deferred[0]
                left = "; it and the episodes after it in its dataset are left to the next run"
                raise EnvironmentFaultError(f"{item.uid} (stage {why.stage})", why.cause, left=left)
            if plan.todo:  # a worker killed mid-episode left its staging behind; the retry wrote the episode
                _clean_orphans(output)
            if plan.todo or plan.errors or interrupted or not (output / "catalog" / "episodes").exists():
                from jobs.catalog.build import rebuild_catalog

                rebuild_catalog(corpus)
            (output / FINISHED).touch()
            forget_worker_deaths(output)
            report.held = quarantined_held(output, [s.name for s in spec.sources])
            report.seconds = time.perf_counter() - t0
            return report
        finally:
            if plan is not None:
                plan.cleanup()
            if started:
                import ray

                ray.shutdown()
            if relay is not None:
                relay.stop()
            lock.release()


def _nothing_to_do(spec: JobSpec, address: str | None) -> int | None:
    """The raw episodes already done, when the last run that started work ran to its end and nothing is left to do
    (`jobs.ingest.settled`): then the job needs no Ray, no commit and no catalog rebuild. None otherwise, and always
    on a cluster (`address`: its nodes' shared-filesystem check stays) or where this process runs Ray already."""
    output = spec.output
    ray = sys.modules.get("ray")
    if address is not None or (ray is not None and ray.is_initialized()):
        return None
    if not (output / FINISHED).exists() or not (output / "catalog" / "episodes").exists():
        return None
    return settled(spec)


def _run_on_ray(
    spec: JobSpec, plan: DiscoveryPlan, committer: Committer, worker: Worker, progress: bool | None
) -> None:
    import ray

    from ingest.progress import Progress
    from jobs.ingest.order import RayTasks, in_order
    from jobs.ingest.quarantine import discovery_row
    from jobs.ingest.task import Deferred, Staged

    task = ray.remote(max_retries=spec.parallelism.task_retries, num_cpus=1)(worker)
    bar = Progress(plan.todo, "ingest", unit="ep", enabled=progress)

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

    for item, result in in_order(readable(), RayTasks(task, idle=committer.poll), spec):
        if committer.deferred:  # the environment failed past its retries: no more work (jobs.runtime.retry)
            break
        committer.accept(item, result)
        bar.update(1, frames=result.frames if isinstance(result, Staged) else 0)
    bar.close()


def init_job_ray(spec: JobSpec, address: str | None) -> bool:
    """Ray as every job starts it, with SVT-AV1's log level and the driver's `EIDATA_*` settings on every worker;
    True when this call started it."""
    par = spec.parallelism
    env = {"SVT_LOG": "1", **{k: v for k, v in os.environ.items() if k.startswith("EIDATA_")}}
    return init_ray(address, par.num_cpus, par.object_store_mb, env=env)


def cli_ingest(args: Any) -> int:
    from adapters.storage.urls import StorageError
    from ingest.storage.lease import OutputLeasedError
    from jobs.spec import SpecError, load_spec

    try:
        spec = load_spec(Path(args.spec))
    except SpecError as e:
        print(str(e), file=sys.stderr)
        return 2
    try:
        report = run_ingest(spec, address=args.address, retry_quarantined=args.retry_quarantined)
    except (JobLockedError, SharedFsError, OutputLeasedError, StorageError) as e:  # the last two: a bucket output's
        print(f"error: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # the environment's, anywhere (a full disk under the catalog too): one line, 75
        if not isinstance(e, EnvironmentFaultError):
            if (cause := environment_fault(e)) is None:
                raise
            e = EnvironmentFaultError("ingest", cause)
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    print(report.table())
    strict = args.strict or spec.strict
    held = max(report.held_quarantined, report.quarantined)
    if strict and held:  # what the corpus holds, not only this run's work: a rerun of the spec stays red until fixed
        earlier = f" ({held - report.quarantined} by an earlier run)" if held > report.quarantined else ""
        print(f"error: --strict and the corpus holds {held} quarantined episodes{earlier}", file=sys.stderr)
        return 1
    if strict and report.empty_sources:
        for f in report.empty_sources:
            print(f"error: --strict and source {f.source} yielded no episode: {f.message}", file=sys.stderr)
        return 1
    return 0
