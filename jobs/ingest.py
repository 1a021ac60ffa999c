"""`eidata ingest SPEC`: every source's episodes read, canonicalized and written on Ray, exactly once.

Workers (Ray tasks) read one raw episode, canonicalize it and stage its canonical episodes in the target dataset's
staging area; the driver commits them, one raw episode at a time and in the sorted discovery order of each dataset,
so episode indices are deterministic however many workers run and however often the job is interrupted. A raw
episode is done when its episodes are in a dataset (their lineage names it) or it is in the quarantine: a rerun
skips those, and a finished job's rerun is a no-op. Bad input is quarantined with its stage and reason; it never
stops the job. At most `max_in_flight` episodes are in flight (backpressure), so memory stays flat.
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pyarrow.parquet as pq

from adapters import get_adapter
from adapters.base import AdapterError, EpisodeRef
from ingest.canonical.canonicalize import CanonicalizeSpec, canonicalize
from ingest.canonical.store import dataset_features, stage_canonical
from ingest.lerobot.errors import DatasetError, EpisodeError
from ingest.lerobot.staging import StagedEpisode
from ingest.lerobot.video import VideoCodec
from ingest.lerobot.writer import STAGING, LeRobotWriter
from ingest.progress import Progress
from jobs.catalog.build import rebuild_catalog, write_quarantine_part
from jobs.runtime.job_lock import JobLock, JobLockedError
from jobs.runtime.ray_pool import init_ray
from jobs.spec import JobSpec, SourceSpec, dump_spec
from schemas.corpus import (
    JOB_DIR,
    QUARANTINE_DIR,
    EpisodeLineage,
    QuarantineRow,
    dataset_dir,
    episode_uid,
    find_datasets,
    parquet_files,
)
from schemas.lerobot import EPISODES_PATH, INFO_PATH, FeatureSpec, read_jsonl

log = logging.getLogger(__name__)

QUARANTINE_FLUSH = 200  # quarantine rows buffered before they are written out


@dataclass(frozen=True)
class WorkItem:
    position: int
    source: SourceSpec
    ref: EpisodeRef

    @property
    def uid(self) -> str:
        return episode_uid(self.source.name, self.ref.subset, self.ref.raw_id)


@dataclass
class SourceTally:
    written: int = 0
    quarantined: int = 0
    frames: int = 0


@dataclass
class IngestReport:
    output: Path
    tallies: dict[str, SourceTally] = field(default_factory=dict)
    skipped: int = 0  # raw episodes already done by an earlier run
    seconds: float = 0.0

    @property
    def quarantined(self) -> int:
        return sum(t.quarantined for t in self.tallies.values())

    def table(self) -> str:
        rows = [f"{'source':16s} {'written':>8s} {'quarantined':>11s} {'hours':>8s} {'frames/s':>9s}"]
        for name, t in self.tallies.items():
            rate = t.frames / self.seconds if self.seconds else 0.0
            rows.append(f"{name:16s} {t.written:8d} {t.quarantined:11d} {t.frames / 36000:8.3f} {rate:9.0f}")
        rows.append(f"{len(self.tallies)} sources, {self.skipped} raw episodes already done, {self.seconds:.1f} s")
        return "\n".join(rows)


# -- worker side --------------------------------------------------------------------------------------------------
def process_episode(item: dict[str, Any]) -> dict[str, Any]:
    """Read -> canonicalize -> stage one raw episode (runs in a Ray worker). Never raises for bad input."""
    source = SourceSpec.model_validate(item["source"])
    ref = EpisodeRef.model_validate(item["ref"])
    spec = CanonicalizeSpec.model_validate(item["canonicalize"])
    codec = VideoCodec.model_validate(item["codec"])
    output = Path(item["output"])
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
            return _quarantined(item, stage, "RejectedEpisode", reason)
        stage = "write"
        out = []
        for ep in episodes:
            dataset = dataset_dir(source.name, ep.subset)
            st = stage_canonical(output / dataset, ep, codec, spec.fps)
            staged.append(st)
            features = {k: v.to_json() for k, v in dataset_features(ep).items()}
            out.append({"dataset": dataset, "staged": st.model_dump(mode="json"), "robot_type": ep.embodiment,
                        "features": features})  # fmt: skip
        return {"status": "staged", "uid": item["uid"], "episodes": out}
    except Exception as e:  # bad input of any kind is this episode's problem only
        for st in staged:
            shutil.rmtree(st.stage_dir, ignore_errors=True)
        extra = {"file": e.file, "field": e.field} if isinstance(e, AdapterError) else {}
        if isinstance(e, EpisodeError):
            extra = {"field": e.feature}
        return _quarantined(item, stage, type(e).__name__, getattr(e, "reason", None) or str(e), **extra)


def _quarantined(item: dict[str, Any], stage: str, error_class: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"status": "quarantined", "uid": item["uid"], "stage": stage, "error_class": error_class,
            "message": message, **{k: v for k, v in extra.items() if v is not None}}  # fmt: skip


# -- driver side --------------------------------------------------------------------------------------------------
def discover(spec: JobSpec) -> tuple[list[WorkItem], list[QuarantineRow]]:
    """Every source's episodes in a deterministic order; those discovery already found bad become quarantine rows."""
    items: list[WorkItem] = []
    bad: list[QuarantineRow] = []
    for source in spec.sources:
        adapter = get_adapter(source.adapter, source.options)
        try:
            refs = sorted(adapter.discover(source.root), key=lambda r: r.sort_key)
        except AdapterError as e:
            bad.append(_row(source, None, "discover", type(e).__name__, e.reason, file=e.file, field=e.field))
            continue
        except Exception as e:  # an unreadable source costs that source only, never the job
            log.exception("discovery of source %s failed", source.name)
            bad.append(_row(source, None, "discover", type(e).__name__, str(e)))
            continue
        for ref in refs:
            if ref.error is not None:
                bad.append(_discovery_row(adapter, source, ref))
            else:
                items.append(WorkItem(len(items), source, ref))
    return items, bad


def _discovery_row(adapter: Any, source: SourceSpec, ref: EpisodeRef) -> QuarantineRow:
    """A ref discovery flagged: reading it re-raises the adapter's error with its file and field as columns."""
    try:
        adapter.read(ref)
    except AdapterError as e:
        return _row(source, ref, "discover", "DiscoveryError", e.reason, file=e.file, field=e.field)
    except Exception:  # fall back to the message discovery recorded
        pass
    return _row(source, ref, "discover", "DiscoveryError", ref.error or "flagged by discovery")


def _row(source: SourceSpec, ref: EpisodeRef | None, stage: str, error_class: str, message: str,
         **extra: Any) -> QuarantineRow:  # fmt: skip
    uid = episode_uid(source.name, ref.subset, ref.raw_id) if ref else f"{source.name}/*"
    return QuarantineRow(
        episode_uid=uid, source=source.name, subset=ref.subset if ref else "", adapter=source.adapter,
        raw_path=ref.paths[0] if ref and ref.paths else str(source.root), stage=stage, error_class=error_class,
        message=message, file=extra.get("file"), field=extra.get("field"), quarantined_at=datetime.now(UTC),
    )  # fmt: skip


def done_uids(output: Path) -> set[str]:
    """Raw episodes an earlier run finished: their episodes are committed, or they are quarantined."""
    done: set[str] = set()
    for dataset in find_datasets(output):
        episodes = dataset / EPISODES_PATH
        if episodes.exists():
            for _, line in read_jsonl(episodes):
                raw_uid = EpisodeLineage.of(line).raw_uid
                if raw_uid is not None:
                    done.add(raw_uid)
    for part in parquet_files(output, QUARANTINE_DIR):  # committed parts only, never a crashed run's temp file
        done.update(pq.read_table(part, columns=["episode_uid"]).column("episode_uid").to_pylist())
    return done


def _clean_orphans(output: Path) -> None:
    """Staging left by a killed run: reopening each dataset rolls commits forward and drops unfinished episodes."""
    for dataset in sorted((output / "datasets").glob("*/*")):
        if (dataset / INFO_PATH).exists():
            LeRobotWriter.open(dataset).close()
        elif (dataset / STAGING).exists():  # a dataset never created: only a killed run's staging is there
            shutil.rmtree(dataset, ignore_errors=True)


class Committer:
    """The single writer: commits each raw episode's staged episodes in discovery order, per dataset."""

    def __init__(self, spec: JobSpec, report: IngestReport) -> None:
        self.spec, self.report = spec, report
        self.writers: dict[str, LeRobotWriter] = {}
        self.quarantine: list[QuarantineRow] = []
        self._parts = 0
        self._run = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")

    def accept(self, item: WorkItem, result: dict[str, Any]) -> None:
        tally = self.report.tallies.setdefault(item.source.name, SourceTally())
        if result["status"] == "staged":
            try:
                self._commit(result)
                tally.written += len(result["episodes"])
                tally.frames += sum(e["staged"]["length"] for e in result["episodes"])
                return
            except (EpisodeError, DatasetError) as e:
                result = _quarantined({"uid": item.uid}, "write", type(e).__name__, str(e))
        tally.quarantined += 1
        row = _row(item.source, item.ref, result["stage"], result["error_class"], result["message"],
                   file=result.get("file"), field=result.get("field"))  # fmt: skip
        self.quarantine.append(row.model_copy(update={"episode_uid": item.uid}))
        if len(self.quarantine) >= QUARANTINE_FLUSH:
            self.flush()

    def _commit(self, result: dict[str, Any]) -> None:
        by_dataset: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for ep in result["episodes"]:
            by_dataset[ep["dataset"]].append(ep)
        for dataset, eps in by_dataset.items():
            staged = [StagedEpisode.model_validate(e["staged"]) for e in eps]
            features = {k: FeatureSpec.model_validate(v) for k, v in eps[0]["features"].items()}
            try:
                writer = self._writer(dataset, features, eps[0]["robot_type"])
            except DatasetError:
                for st in staged:
                    shutil.rmtree(st.stage_dir, ignore_errors=True)
                raise
            writer.commit_group(staged)

    def _writer(self, dataset: str, features: dict[str, FeatureSpec], robot_type: str) -> LeRobotWriter:
        if dataset not in self.writers:
            root = self.spec.output / dataset
            self.writers[dataset] = LeRobotWriter.create_or_open(
                root,
                fps=self.spec.canonicalize.fps,
                features=features,
                robot_type=robot_type,
                codec=self.spec.codec,
                recover=False,  # recovered at job start; workers' finished episodes wait in its staging area now
            )
        writer = self.writers[dataset]
        have = {k: (f.dtype, tuple(f.shape)) for k, f in writer.user_features.items()}
        want = {k: (f.dtype, tuple(f.shape)) for k, f in features.items()}
        if have != want:
            diff = sorted(set(have.items()) ^ set(want.items()))
            raise DatasetError(f"{dataset}: this episode's features differ from the dataset's: {diff[:4]}")
        return writer

    def flush(self) -> None:
        if self.quarantine:
            write_quarantine_part(self.spec.output, self.quarantine, f"{self._run}-{self._parts:05d}")
            self._parts += 1
            self.quarantine = []

    def close(self) -> None:
        self.flush()
        for w in self.writers.values():
            w.close()


def run_ingest(spec: JobSpec, *, address: str | None = None, progress: bool | None = None) -> IngestReport:
    t0 = time.perf_counter()
    output = spec.output
    output.mkdir(parents=True, exist_ok=True)
    lock = JobLock(output)
    try:
        (output / JOB_DIR / "spec.yaml").write_text(dump_spec(spec))
        report = IngestReport(output)
        items, discovery_bad = discover(spec)
        done = done_uids(output)
        todo = [it for it in items if it.uid not in done]
        report.skipped = len(items) - len(todo)
        discovery_bad = [r for r in discovery_bad if r.episode_uid not in done]
        committer = Committer(spec, report)
        for row in discovery_bad:
            committer.report.tallies.setdefault(row.source, SourceTally()).quarantined += 1
            committer.quarantine.append(row)
        for s in spec.sources:
            report.tallies.setdefault(s.name, SourceTally())
        if todo:
            _clean_orphans(output)
            _run_on_ray(spec, todo, committer, address, progress)
        committer.close()
        if todo:  # a worker killed mid-episode left its staging behind; the retry wrote the episode
            _clean_orphans(output)
        if todo or discovery_bad or not (output / "catalog" / "episodes").exists():
            rebuild_catalog(output)
        report.seconds = time.perf_counter() - t0
        return report
    finally:
        lock.release()


def _run_on_ray(spec: JobSpec, todo: list[WorkItem], committer: Committer, address: str | None,
                progress: bool | None) -> None:  # fmt: skip
    import ray

    started = _init_ray(spec, address)
    try:
        task = ray.remote(max_retries=spec.parallelism.task_retries, num_cpus=1)(process_episode)
        bar = Progress(len(todo), "ingest", unit="ep", enabled=progress)
        for item, result in _in_order(todo, RayTasks(task), spec):
            committer.accept(item, result)
            bar.update(1, frames=sum(e["staged"]["length"] for e in result.get("episodes", [])))
        bar.close()
    finally:
        if started:
            ray.shutdown()


class Tasks(Protocol):
    """What `_in_order` needs of a task system: Ray in a job (`RayTasks`), a scripted fake in tests."""

    def submit(self, item: dict[str, Any]) -> Any: ...  # starts a task; returns its handle

    def wait(self, handles: list[Any]) -> list[Any]: ...  # blocks until some of `handles` finish; returns those

    def get(self, handle: Any) -> dict[str, Any]: ...  # a finished task's result; raises if the task died


@dataclass(frozen=True)
class RayTasks:
    task: Any  # a `ray.remote` function

    def submit(self, item: dict[str, Any]) -> Any:
        return self.task.remote(item)

    def wait(self, handles: list[Any]) -> list[Any]:
        import ray

        return ray.wait(handles, num_returns=1)[0]

    def get(self, handle: Any) -> dict[str, Any]:
        import ray

        return ray.get(handle)


def _in_order(todo: list[WorkItem], tasks: Tasks, spec: JobSpec) -> Iterator[tuple[WorkItem, dict[str, Any]]]:
    """Submit with at most `max_in_flight` running; yield results in submission order (deterministic commits).

    Finished results wait for the head of the line (up to `commit_window` of them), so one long episode does not
    leave the other workers idle; only running episodes hold frames in memory."""
    codec = spec.codec
    if codec.threads is None and spec.parallelism.encoder_threads is not None:
        codec = codec.model_copy(update={"threads": spec.parallelism.encoder_threads})  # same bytes, fewer threads
    payload = {"canonicalize": spec.canonicalize.model_dump(mode="json"), "codec": codec.model_dump(mode="json"),
               "output": str(spec.output)}  # fmt: skip
    pending: dict[Any, int] = {}
    results: dict[int, dict[str, Any]] = {}
    next_submit = next_yield = 0
    running, window = spec.parallelism.max_in_flight, spec.parallelism.commit_window
    while next_yield < len(todo):
        while next_submit < len(todo) and len(pending) < running and len(pending) + len(results) < window:
            it = todo[next_submit]
            item = {**payload, "uid": it.uid, "source": it.source.model_dump(mode="json"),
                    "ref": it.ref.model_dump(mode="json")}  # fmt: skip
            pending[tasks.submit(item)] = next_submit
            next_submit += 1
        if next_yield in results:
            yield todo[next_yield], results.pop(next_yield)
            next_yield += 1
            continue
        for handle in tasks.wait(list(pending)):
            pos = pending.pop(handle)
            try:
                results[pos] = tasks.get(handle)
            except Exception as e:  # the task itself died past its retries: this episode only
                results[pos] = _quarantined({"uid": todo[pos].uid}, "worker", type(e).__name__, str(e)[:2000])


def _init_ray(spec: JobSpec, address: str | None) -> bool:
    """Ray as every job starts it, with SVT-AV1's log level on every worker; True when this call started it."""
    par = spec.parallelism
    return init_ray(address, par.num_cpus, par.object_store_mb, env={"SVT_LOG": "1"})


def cli_ingest(args: Any) -> int:
    from jobs.spec import SpecError, load_spec

    try:
        spec = load_spec(Path(args.spec))
    except SpecError as e:
        print(str(e), file=sys.stderr)
        return 2
    try:
        report = run_ingest(spec, address=args.address)
    except JobLockedError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(report.table())
    strict = args.strict or spec.strict
    if strict and report.quarantined:
        print(f"error: --strict and {report.quarantined} episodes were quarantined", file=sys.stderr)
        return 1
    return 0
