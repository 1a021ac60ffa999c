"""Committing staged episodes: committer actors, one writer per dataset, fed by the driver in discovery order.

Each dataset is owned by one of `parallelism.committers` Ray actors (the first actor with the fewest datasets when a
dataset first appears). The driver sends an actor the staged episodes of one raw episode at a time, in each source's
discovery order; Ray runs an actor's calls from one caller in the order they were sent, so episode indices are what a
single committer would write, byte for byte, while different datasets commit at once on different actors. The
actors run on the driver's node (pinned): a worker node lost mid-job never takes a writer with it, and the driver's
node going away ends the job anyway. They reserve no CPU: a commit is mostly file moves and small writes.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.lerobot.errors import DatasetError, EpisodeError
from ingest.lerobot.staging import StagedEpisode
from ingest.lerobot.video import VideoCodec
from ingest.lerobot.writer import LeRobotWriter
from jobs.catalog.build import write_quarantine_part
from jobs.ingest.discovery import WorkItem, quarantine_row
from jobs.spec import JobSpec
from schemas.corpus import QuarantineRow
from schemas.lerobot import FeatureSpec

QUARANTINE_FLUSH = 200  # quarantine rows buffered before they are written out
LOCK_WAIT_S = 60.0  # a killed driver's committers may hold their datasets' locks until Ray reaps them


@dataclass
class SourceTally:
    written: int = 0
    quarantined: int = 0
    frames: int = 0


def open_writer(root: Path, *, wait_s: float = LOCK_WAIT_S, **kw: Any) -> LeRobotWriter:
    """`LeRobotWriter.create_or_open`, waiting up to `wait_s` for a writer of a killed run (a committer actor of a
    dead driver, not yet reaped by Ray) to let go of the dataset's lock."""
    if kw:
        return LeRobotWriter.create_or_open(root, lock_wait_s=wait_s, **kw)
    return LeRobotWriter.open(root, lock_wait_s=wait_s)


class DatasetCommitter:
    """The writers of the datasets one committer owns (a Ray actor in a job; a plain object in benchmarks)."""

    def __init__(self, output: str, fps: int, codec: dict[str, Any]) -> None:
        self.output, self.fps, self.codec = Path(output), fps, VideoCodec.model_validate(codec)
        self.writers: dict[str, LeRobotWriter] = {}

    def commit(self, episodes: list[dict[str, Any]]) -> dict[str, Any]:
        """Commit one raw episode's staged episodes (those of this committer's datasets), grouped per dataset."""
        by_dataset: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for ep in episodes:
            by_dataset[ep["dataset"]].append(ep)
        try:
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
        except (EpisodeError, DatasetError) as e:
            return {"ok": False, "error_class": type(e).__name__, "message": str(e)}
        return {"ok": True}

    def _writer(self, dataset: str, features: dict[str, FeatureSpec], robot_type: str) -> LeRobotWriter:
        if dataset not in self.writers:
            self.writers[dataset] = open_writer(
                self.output / dataset,
                fps=self.fps,
                features=features,
                robot_type=robot_type,
                codec=self.codec,
                recover=False,  # recovered at job start; workers' finished episodes wait in its staging area now
            )
        writer = self.writers[dataset]
        have = {k: (f.dtype, tuple(f.shape)) for k, f in writer.user_features.items()}
        want = {k: (f.dtype, tuple(f.shape)) for k, f in features.items()}
        if have != want:
            diff = sorted(set(have.items()) ^ set(want.items()))
            raise DatasetError(f"{dataset}: this episode's features differ from the dataset's: {diff[:4]}")
        return writer

    def close(self) -> int:
        for w in self.writers.values():
            w.close()
        n, self.writers = len(self.writers), {}
        return n


@dataclass
class _Sent:
    item: WorkItem
    written: int
    frames: int
    calls: int  # commit calls still out for this raw episode
    failure: dict[str, Any] | None = None


@dataclass
class Committer:
    """The driver's side: routes each raw episode's result to its datasets' committer actors, in the order given
    (`accept`), and books what the actors report back (tallies, quarantine rows), a bounded number of calls behind."""

    spec: JobSpec
    tallies: dict[str, SourceTally]
    committers: int | None = None  # default: spec.parallelism.committers; 0: commit in the driver
    max_outstanding: int = 256  # commit calls sent and not yet reported back
    quarantine: list[QuarantineRow] = field(default_factory=list)
    actors: list[Any] = field(default_factory=list)
    local: DatasetCommitter | None = None  # committers: 0
    route: dict[str, int] = field(default_factory=dict)  # dataset -> actor
    outstanding: dict[Any, _Sent] = field(default_factory=dict)  # call -> its raw episode
    _parts: int = 0
    _run: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f"))

    def accept(self, item: WorkItem, result: dict[str, Any]) -> None:
        tally = self.tallies.setdefault(item.source.name, SourceTally())
        if result["status"] != "staged":
            tally.quarantined += 1
            self._quarantine(item, result)
            self.finished(item)
            return
        by_actor: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for ep in result["episodes"]:
            by_actor[self._actor_of(ep["dataset"])].append(ep)
        sent = _Sent(
            item, len(result["episodes"]), sum(e["staged"]["length"] for e in result["episodes"]), len(by_actor)
        )
        if self.local is not None:  # committers: 0, the commit in the driver itself
            for eps in by_actor.values():
                self._booked(sent, self.local.commit(eps))
            return
        for actor, eps in by_actor.items():
            self.outstanding[self.actors[actor].commit.remote(eps)] = sent
        self._reap(block=len(self.outstanding) > self.max_outstanding)

    def add_quarantine(self, row: QuarantineRow) -> None:
        self.tallies.setdefault(row.source, SourceTally()).quarantined += 1
        self.quarantine.append(row)
        if len(self.quarantine) >= QUARANTINE_FLUSH:
            self.flush()

    def _actor_of(self, dataset: str) -> int:
        """A new dataset gets a new actor while there are fewer than `committers`, then the least loaded one."""
        if dataset not in self.route:
            n = self.spec.parallelism.committers if self.committers is None else self.committers
            if n == 0:
                self.local = self.local or DatasetCommitter(*self._args())
                return 0
            if len(self.actors) < n:
                self.start_actor()
            loads = [0] * len(self.actors)
            for a in self.route.values():
                loads[a] += 1
            self.route[dataset] = loads.index(min(loads))
        return self.route[dataset]

    def _args(self) -> tuple[str, int, dict[str, Any]]:
        return str(self.spec.output), self.spec.canonicalize.fps, self.spec.codec.model_dump(mode="json")

    def start_actor(self) -> None:
        """One more committer actor, on the driver's node."""
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        actor = ray.remote(num_cpus=0, max_restarts=0)(DatasetCommitter).options(scheduling_strategy=here)
        self.actors.append(actor.remote(*self._args()))

    def _reap(self, *, block: bool = False, everything: bool = False) -> None:
        """Book the calls already answered; `block`: until at most `max_outstanding` are out; `everything`: all."""
        import ray

        while self.outstanding:
            calls = list(self.outstanding)
            if everything:
                ready, _ = ray.wait(calls, num_returns=len(calls))
            else:
                ready, _ = ray.wait(calls, num_returns=len(calls), timeout=0)
                if not ready and block:
                    ready, _ = ray.wait(calls, num_returns=1)
            for call in ready:
                self._booked(self.outstanding.pop(call), ray.get(call))
            if not block or len(self.outstanding) <= self.max_outstanding:
                return

    def _booked(self, sent: _Sent, outcome: dict[str, Any]) -> None:
        if not outcome["ok"] and sent.failure is None:
            sent.failure = outcome
        sent.calls -= 1
        if sent.calls:
            return
        tally = self.tallies.setdefault(sent.item.source.name, SourceTally())
        if sent.failure is None:
            tally.written += sent.written
            tally.frames += sent.frames
        else:
            tally.quarantined += 1
            self._quarantine(sent.item, {"stage": "write", **sent.failure})
        self.finished(sent.item)

    def finished(self, item: WorkItem) -> None:
        """Called once per raw episode when it is committed (its files in its datasets) or quarantined: the point
        tests and benchmarks hook."""

    def poll(self) -> None:
        """Book the commits answered so far (the driver calls this while it waits for episode tasks)."""
        self._reap()

    def _quarantine(self, item: WorkItem, result: dict[str, Any]) -> None:
        row = quarantine_row(
            item.source,
            item.ref,
            result["stage"],
            result["error_class"],
            result["message"],
            file=result.get("file"),
            field=result.get("field"),
        )
        self.quarantine.append(row.model_copy(update={"episode_uid": item.uid}))
        if len(self.quarantine) >= QUARANTINE_FLUSH:
            self.flush()

    def flush(self) -> None:
        if self.quarantine:
            write_quarantine_part(self.spec.output, self.quarantine, f"{self._run}-{self._parts:05d}")
            self._parts += 1
            self.quarantine = []

    def close(self) -> None:
        """Wait for every commit, write the quarantine, release the datasets (the actors end)."""
        import ray

        try:
            self._reap(everything=True)
            if self.actors:
                ray.get([a.close.remote() for a in self.actors])
            if self.local is not None:
                self.local.close()
        finally:
            for a in self.actors:
                ray.kill(a)
            self.actors = []
            self.flush()
