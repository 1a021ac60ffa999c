"""`eidata ingest SPEC`: every source's episodes read, canonicalized and written on Ray, exactly once.

At job start every Ray node must see the output folder (`jobs.runtime.shared_fs`). Each source is then discovered by
its own Ray task into a sorted work file that leaves out what an earlier run finished (`discovery`); the driver
streams those files, never holding the corpus's work list. Workers (Ray tasks) read one raw episode, canonicalize it
and stage its canonical episodes in the target dataset's staging area (`process_episode`); committer actors commit
them, each dataset in its source's sorted discovery order (`order`, `commit`), so episode indices are deterministic
however many workers and committers run and however often the job is interrupted. A raw episode is done when its
episodes are in a dataset (their lineage names it) or it is in the quarantine: a rerun skips those, and a finished
job's rerun writes nothing. Bad input is quarantined with its stage and reason; it never stops the job. At most
`max_in_flight` episodes run at once and `commit_window` wait to be committed (backpressure), so memory stays flat.
A worker node lost mid-job costs only the tasks it was running: Ray runs them again elsewhere.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters import get_adapter
from adapters.base import AdapterError, EpisodeRef
from ingest.canonical.canonicalize import canonicalize
from ingest.canonical.store import dataset_features, stage_canonical
from ingest.lerobot.errors import EpisodeError
from ingest.lerobot.staging import StagedEpisode
from ingest.lerobot.video import VideoCodec
from ingest.lerobot.writer import STAGING
from ingest.progress import Progress
from jobs.catalog.build import rebuild_catalog
from jobs.ingest.commit import Committer, SourceTally, open_writer
from jobs.ingest.discovery import WorkItem, discover, discover_all, discovery_row, stream_plan
from jobs.ingest.order import RayTasks, Tasks, in_order, quarantined
from jobs.runtime.cpu_slots import held_to_cpus
from jobs.runtime.deadline import (
    TIMEOUT_CLASS,
    TaskDeadline,
    clear_markers,
    episode_pixels,
    hung_attempts,
    timeout_message,
    watchdog,
)
from jobs.runtime.job_lock import JobLock, JobLockedError
from jobs.runtime.ray_pool import init_ray
from jobs.runtime.shared_fs import SharedFsError, check_shared_output
from jobs.spec import JobSpec, SourceSpec, dump_spec
from schemas.canonicalize import CanonicalizeSpec
from schemas.corpus import JOB_DIR, dataset_dir
from schemas.lerobot import INFO_PATH

__all__ = ["Committer", "IngestReport", "JobLock", "RayTasks", "SourceTally", "Tasks", "WorkItem", "discover",
           "process_episode", "run_ingest"]  # fmt: skip

log = logging.getLogger(__name__)
_in_order = in_order  # the name the order tests know


@dataclass
class IngestReport:
    output: Path
    tallies: dict[str, SourceTally] = field(default_factory=dict)
    skipped: int = 0  # raw episodes already done by an earlier run
    seconds: float = 0.0
    nodes: int = 1  # Ray nodes that took part (each saw the output folder)

    @property
    def quarantined(self) -> int:
        return sum(t.quarantined for t in self.tallies.values())

    def table(self) -> str:
        rows = [f"{'source':16s} {'written':>8s} {'quarantined':>11s} {'hours':>8s} {'frames/s':>9s}"]
        for name, t in self.tallies.items():
            rate = t.frames / self.seconds if self.seconds else 0.0
            rows.append(f"{name:16s} {t.written:8d} {t.quarantined:11d} {t.frames / 36000:8.3f} {rate:9.0f}")
        rows.append(f"{len(self.tallies)} sources, {self.skipped} raw episodes already done, {self.seconds:.1f} s")
        if self.nodes > 1:
            rows.append(f"{self.nodes} Ray nodes, each saw the output folder {self.output} (shared filesystem check)")
        return "\n".join(rows)


# -- worker side --------------------------------------------------------------------------------------------------
def process_episode(item: dict[str, Any]) -> dict[str, Any]:
    """Read -> canonicalize -> stage one raw episode (runs in a Ray worker). Never raises for bad input."""
    source = SourceSpec.model_validate(item["source"])
    ref = EpisodeRef.model_validate(item["ref"])
    spec = CanonicalizeSpec.model_validate(item["canonicalize"])
    codec = VideoCodec.model_validate(item["codec"])
    output = Path(item["output"])
    deadline = TaskDeadline.model_validate(item.get("deadline") or {"enabled": False})
    hung = hung_attempts(output, item["uid"]) if deadline.enabled else []
    if len(hung) > deadline.retries:  # killed by its deadline on every attempt allowed: no further try
        return quarantined(item, "write", TIMEOUT_CLASS, timeout_message(hung))
    with held_to_cpus(item["pin_cpus"]) if item.get("pin_cpus") else contextlib.nullcontext():
        return _process_episode(item, source, ref, spec, codec, output, deadline)


def _process_episode(
    item: dict[str, Any],
    source: SourceSpec,
    ref: EpisodeRef,
    spec: CanonicalizeSpec,
    codec: VideoCodec,
    output: Path,
    deadline: TaskDeadline,
) -> dict[str, Any]:
    stage = "read"
    staged: list[StagedEpisode] = []
    try:
        raw = get_adapter(source.adapter, source.options).read(ref)
        if source.tier is not None:
            raw.tier = source.tier
        stage = "canonicalize"
        episodes = canonicalize(raw, spec, source=source.name)
        if not episodes:
            reason = "; ".join(raw.tier_reasons) or "no span of the episode survived validity"
            return quarantined(item, stage, "RejectedEpisode", reason)
        stage = "write"
        out = []
        limit = deadline.seconds(*episode_pixels(episodes))
        with watchdog(limit, output, item["uid"]) if deadline.enabled else contextlib.nullcontext():
            for ep in episodes:
                dataset = dataset_dir(source.name, ep.subset)
                st = stage_canonical(output / dataset, ep, codec, spec.fps)
                staged.append(st)
                features = {k: v.to_json() for k, v in dataset_features(ep).items()}
                out.append(
                    {
                        "dataset": dataset,
                        "staged": st.model_dump(mode="json"),
                        "robot_type": ep.embodiment,
                        "features": features,
                    }
                )
        return {"status": "staged", "uid": item["uid"], "episodes": out}
    except Exception as e:  # bad input of any kind is this episode's problem only
        for st in staged:
            shutil.rmtree(st.stage_dir, ignore_errors=True)
        extra = {"file": e.file, "field": e.field} if isinstance(e, AdapterError) else {}
        if isinstance(e, EpisodeError):
            extra = {"field": e.feature}
        return quarantined(item, stage, type(e).__name__, getattr(e, "reason", None) or str(e), **extra)


# -- driver side --------------------------------------------------------------------------------------------------
def _clean_orphans(output: Path) -> None:
    """Staging left by a killed run: reopening each dataset rolls commits forward and drops unfinished episodes."""
    for dataset in sorted((output / "datasets").glob("*/*")):
        if (dataset / INFO_PATH).exists():
            open_writer(dataset).close()
        elif (dataset / STAGING).exists():  # a dataset never created: only a killed run's staging is there
            shutil.rmtree(dataset, ignore_errors=True)


def run_ingest(spec: JobSpec, *, address: str | None = None, progress: bool | None = None) -> IngestReport:
    t0 = time.perf_counter()
    output = spec.output
    output.mkdir(parents=True, exist_ok=True)
    lock = JobLock(output)
    started = False
    plan = None
    try:
        (output / JOB_DIR / "spec.yaml").write_text(dump_spec(spec))
        report = IngestReport(output)
        for s in spec.sources:
            report.tallies.setdefault(s.name, SourceTally())
        started = _init_ray(spec, address)
        views = check_shared_output(output)
        report.nodes = len(views)
        plan = discover_all(spec)
        report.skipped = plan.skipped
        committer = Committer(spec, report.tallies)
        for row in plan.errors:
            committer.add_quarantine(row)
        try:
            if plan.todo:
                _clean_orphans(output)
                clear_markers(output)
                _run_on_ray(spec, plan, committer, progress)
        finally:
            committer.close()
        if plan.todo:  # a worker killed mid-episode left its staging behind; the retry wrote the episode
            _clean_orphans(output)
        if plan.todo or plan.errors or not (output / "catalog" / "episodes").exists():
            rebuild_catalog(output)
        report.seconds = time.perf_counter() - t0
        return report
    finally:
        if plan is not None:
            plan.cleanup()
        if started:
            import ray

            ray.shutdown()
        lock.release()


def _run_on_ray(spec: JobSpec, plan: Any, committer: Committer, progress: bool | None) -> None:
    import ray

    task = ray.remote(max_retries=spec.parallelism.task_retries, num_cpus=1)(process_episode)
    bar = Progress(plan.todo, "ingest", unit="ep", enabled=progress)

    def readable() -> Any:  # refs discovery flagged never reach a worker: their quarantine row is written here
        for item in stream_plan(spec, plan):
            if item.ref.error is None:
                yield item
            else:
                committer.add_quarantine(discovery_row(item.source, item.ref))
                bar.update(1)

    for item, result in in_order(readable(), RayTasks(task, idle=committer.poll), spec):
        committer.accept(item, result)
        bar.update(1, frames=sum(e["staged"]["length"] for e in result.get("episodes", [])))
    bar.close()


def _init_ray(spec: JobSpec, address: str | None) -> bool:
    """Ray as every job starts it, with SVT-AV1's log level and the driver's `EIDATA_*` settings on every worker;
    True when this call started it."""
    par = spec.parallelism
    env = {"SVT_LOG": "1", **{k: v for k, v in os.environ.items() if k.startswith("EIDATA_")}}
    return init_ray(address, par.num_cpus, par.object_store_mb, env=env)


def cli_ingest(args: Any) -> int:
    from jobs.spec import SpecError, load_spec

    try:
        spec = load_spec(Path(args.spec))
    except SpecError as e:
        print(str(e), file=sys.stderr)
        return 2
    try:
        report = run_ingest(spec, address=args.address)
    except (JobLockedError, SharedFsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(report.table())
    strict = args.strict or spec.strict
    if strict and report.quarantined:
        print(f"error: --strict and {report.quarantined} episodes were quarantined", file=sys.stderr)
        return 1
    return 0
