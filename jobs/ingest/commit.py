"""Committing staged episodes: committer actors, one writer per dataset, fed by the driver in discovery order.

Each dataset is owned by one of `parallelism.committers` Ray actors. Ray runs an actor's calls from one caller in the
order they were sent, so episode indices are what a single committer would write, byte for byte, while different
datasets commit at once on different actors. The actors run on the driver's node (pinned): a worker node lost
mid-job never takes a writer with it. They reserve no CPU: a commit is mostly file moves and small writes.

A commit that fails for a reason of the environment is no quarantine reason: its dataset takes no further commit in
this job (the episodes after it would take its index), the driver hears of it as `deferred` and ends the job, and the
rerun commits the episode at the index an uninterrupted run gives it (`jobs.runtime.retry`). Each episode is routed
once, by the driver as it takes the episode's result (`Committer.accept`): one of another feature set than its
subset's dataset goes to a sibling dataset of its own signature (`ingest.lerobot.routing`), whose committer commits it
from the staging area it was staged in, as it is.
"""

from __future__ import annotations

import shutil
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from adapters.storage.corpus import Corpus
from ingest.lerobot import routing
from ingest.lerobot.errors import DatasetError, EpisodeError, WriterFailedError, WriterLockedError
from ingest.lerobot.staging import StagedEpisode
from ingest.lerobot.video import VideoCodec
from ingest.lerobot.writer import LeRobotWriter
from jobs.ingest.adopt import forget
from jobs.ingest.quarantine import QuarantineWriter, rejected_row
from jobs.ingest.report import SourceTally
from jobs.ingest.task import Deferred, EpisodeResult, Rejected, StagedOutput, WorkItem
from jobs.spec_models import JobSpec
from schemas.canonical import CANONICAL_FPS
from schemas.corpus import LINEAGE_KEY, QuarantineRow
from schemas.faults import environment_fault
from schemas.lerobot_features import FeatureSpec
from schemas.pose_agreement import PoseAgreement

LOCK_WAIT_S = 60.0  # a killed driver's committers may hold their datasets' locks until Ray reaps them


@dataclass(frozen=True)
class CommitFailed:
    """A committer's answer for a raw episode whose episodes it could not commit."""

    error_class: str
    message: str
    deferred: bool = False  # an error of the environment: no quarantine row, the job ends (see the module)


class DatasetCommitter:
    """The writers of the datasets one committer owns (a Ray actor in a job; a plain object in benchmarks)."""

    def __init__(self, corpus: Corpus, codec: VideoCodec) -> None:
        self.corpus, self.output, self.codec = corpus, corpus.root, codec
        self.writers: dict[str, LeRobotWriter] = {}
        self.stopped: dict[str, str] = {}  # dataset -> the error of the environment that ended its commits

    def commit(self, episodes: list[StagedOutput]) -> CommitFailed | None:
        """Commit one raw episode's staged episodes (those of this committer's datasets, each routed already),
        grouped per dataset, from where they were staged; None when each is committed."""
        by_dataset: dict[str, list[StagedOutput]] = defaultdict(list)
        for ep in episodes:
            by_dataset[ep.dataset].append(ep)
        for dataset, eps in by_dataset.items():
            staged = [e.staged for e in eps]
            if dataset in self.stopped:  # an earlier episode of it is left to the next run: so is this one
                _discard(staged)
                return CommitFailed("HeldBack", f"{dataset}: {self.stopped[dataset]}", deferred=True)
            try:
                writer = self._writer(dataset, eps[0].features, eps[0].robot_type)
            except Exception as e:
                _discard(staged)  # no writer took them
                return self._failed(dataset, e)
            try:  # the writer removes what it did not commit and keeps what its journal names
                writer.commit_group(staged)
            except Exception as e:
                return self._failed(dataset, e)
        return None

    def _failed(self, dataset: str, e: Exception) -> CommitFailed:
        """The answer for a commit of `dataset` that raised `e`; an error that is neither the environment's nor the
        episode's or dataset's (a bug) is raised again."""
        cause = environment_fault(e)
        if cause is None and isinstance(e, WriterLockedError | WriterFailedError):
            cause = str(e)  # a killed run's writer still holding the dataset; this writer's earlier failure
        if cause is not None:
            self.stopped[dataset] = f"an earlier commit of this dataset failed ({cause})"
            return CommitFailed(type(e).__name__, f"{dataset}: commit failed: {cause}", deferred=True)
        if isinstance(e, EpisodeError | DatasetError):
            return CommitFailed(type(e).__name__, str(e))
        raise e

    def _writer(self, dataset: str, features: dict[str, FeatureSpec], robot_type: str) -> LeRobotWriter:
        if dataset not in self.writers:
            self.writers[dataset] = LeRobotWriter.create_or_open(
                self.output / dataset,
                lock_wait_s=LOCK_WAIT_S,
                fps=CANONICAL_FPS,
                features=features,
                robot_type=robot_type,
                codec=self.codec,
                recover=False,  # recovered at job start; workers' finished episodes wait in its staging area now
            )
            self.corpus.attach(self.writers[dataset], dataset)  # its commits published where the corpus lives
        writer = self.writers[dataset]
        have = {k: (f.dtype, tuple(f.shape)) for k, f in writer.user_features.items()}
        want = {k: (f.dtype, tuple(f.shape)) for k, f in features.items()}
        if have != want:
            diff = sorted(set(have.items()) ^ set(want.items()))
            raise DatasetError(
                f"{dataset}: this episode's features differ from the dataset's own signature (the driver routes an "
                f"episode of another signature to a dataset named for it, `<subset>@<label>`): {diff[:4]}"
            )
        return writer

    def close(self) -> int:
        for w in self.writers.values():
            w.close()
        n, self.writers = len(self.writers), {}
        return n


def _discard(staged: list[StagedEpisode]) -> None:
    for st in staged:
        shutil.rmtree(st.stage_dir, ignore_errors=True)


@dataclass
class _Sent:
    item: WorkItem
    written: int
    frames: int
    calls: int  # commit calls still out for this raw episode
    failure: CommitFailed | None = None
    parts: tuple[Rejected, ...] = ()  # its parts quarantined while these were kept: rows once the commit is answered
    action_kinds: Counter[str] = field(default_factory=Counter)  # its episodes by kind of action
    tiers: Counter[str] = field(default_factory=Counter)  # its episodes by tier
    action_causes: Counter[tuple[str, str]] = field(default_factory=Counter)  # not canonical: by (kind, cause)
    poses: list[tuple[str, tuple[PoseAgreement, ...]]] = field(default_factory=list)  # per episode, its FK checks
    remote: bool = False  # sent to committer actors: counted in `Committer.unanswered` until answered
    splits: dict[str, str] = field(default_factory=dict)  # each dataset of another signature it goes to, and why


@dataclass
class Committer:
    """The driver's side: routes each raw episode's episodes to their datasets, once each, and sends them to those
    datasets' committer actors, in the order given (`accept`); books what the actors report back (tallies, quarantine
    rows), a bounded number of calls behind. Every quarantine row goes to the one `quarantine` writer; `on_done`
    hears of each raw episode once it is committed (its files in its datasets) or quarantined."""

    spec: JobSpec
    tallies: dict[str, SourceTally]
    quarantine: QuarantineWriter
    committers: int | None = None  # default: spec.parallelism.committers; 0: commit in the driver
    lag: int | None = None  # raw episodes sent and not yet answered, past which `accept` waits (spec's commit_lag)
    on_done: Callable[[WorkItem], None] | None = None
    corpus: Corpus | None = None  # the job's corpus handle (default: the folder `spec.output`)
    actors: list[Any] = field(default_factory=list)
    local: DatasetCommitter | None = None  # committers: 0
    route: dict[str, int] = field(default_factory=dict)  # dataset -> actor
    outstanding: dict[Any, _Sent] = field(default_factory=dict)  # call -> its raw episode
    # raw episodes an error of the environment kept from being committed (a worker's answer or a commit's): the job
    # ends once it has one, the next run does them
    deferred: list[tuple[WorkItem, Deferred]] = field(default_factory=list)
    saved: int = 0  # raw episodes committed or quarantined so far: what a kill now would keep (the progress line's)
    unanswered: int = 0  # raw episodes sent to the committer actors whose commit is not answered yet
    declared: routing.Declared = field(init=False)  # the features of each subset's dataset, as routing declares them

    def __post_init__(self) -> None:
        self.declared = routing.Declared(Path(self.spec.output))

    def accept(self, item: WorkItem, result: EpisodeResult) -> None:
        self.tallies.setdefault(item.source.name, SourceTally()).encoder_retries += result.retried
        if isinstance(result, Deferred):
            self.deferred.append((item, result))
            return
        if isinstance(result, Rejected):
            self._reject(item, result)
            return
        routed = [self._routed(ep) for ep in result.episodes]
        by_actor: dict[int, list[StagedOutput]] = defaultdict(list)
        for ep, _ in routed:
            by_actor[self._actor_of(ep.dataset)].append(ep)
        sent = _Sent(item, len(result.episodes), result.frames, len(by_actor), parts=result.parts)
        sent.action_kinds, sent.tiers = result.action_kinds, result.tiers
        sent.action_causes, sent.poses = result.action_causes, result.poses
        sent.splits = {ep.dataset: why for ep, why in routed if why}
        if self.local is not None:  # committers: 0, the commit in the driver itself
            for eps in by_actor.values():
                self._booked(sent, self.local.commit(eps))
            return
        for actor, eps in by_actor.items():
            self.outstanding[self.actors[actor].commit.remote(eps)] = sent
        sent.remote, self.unanswered = True, self.unanswered + 1
        self._reap(block=self.unanswered > self.max_unanswered)

    def _routed(self, ep: StagedOutput) -> tuple[StagedOutput, str]:
        """`ep` routed to its dataset (`ingest.lerobot.routing`, the one call for it), its lineage saying why when it
        is a sibling of its subset's, and why (else ""); its staged folder stays where it is."""
        to = self.declared.route(ep.dataset, ep.features)
        if to.split is None:
            return ep, ""
        st = ep.staged
        extra = {**st.extra, LINEAGE_KEY: {**st.extra.get(LINEAGE_KEY, {}), to.split: to.why}}
        return replace(ep, dataset=to.dataset, staged=st.model_copy(update={"extra": extra})), to.why

    @property
    def max_unanswered(self) -> int:
        """The bound on committed episodes behind those handed over (`parallelism.commit_lag`): past it the driver
        waits for the committers before it takes another result, so a kill finds at most this many uncommitted."""
        return self.spec.parallelism.commit_lag if self.lag is None else self.lag

    def add_quarantine(self, row: QuarantineRow) -> None:
        """A quarantine row: a source's or a ref's that never reached a worker (discovery's), a rejected episode's."""
        self.tallies.setdefault(row.source, SourceTally()).quarantine(row)
        self.quarantine.add(row)

    def _actor_of(self, dataset: str) -> int:
        """A new dataset gets a new actor while there are fewer than `committers`, then the least loaded one."""
        if dataset not in self.route:
            n = self.spec.parallelism.committers if self.committers is None else self.committers
            if n == 0:
                self.local = self.local or DatasetCommitter(*self._args())
                return 0
            loads = [0] * len(self.actors)
            for a in self.route.values():
                loads[a] += 1
            if len(self.actors) < n and min(loads, default=1) > 0:  # every actor has a dataset: one more
                self.start_actor()
                loads.append(0)
            self.route[dataset] = loads.index(min(loads))
        return self.route[dataset]

    def _args(self) -> tuple[Corpus, VideoCodec]:
        return self.corpus or Corpus(Path(self.spec.output)), self.spec.codec

    def prestart(self) -> None:
        """The first committer actor started now, while the first episodes run: a worker process starts in seconds
        on a loaded machine, and the first commits would wait for it (review 6: 0 of 48 finished were committed)."""
        n = self.spec.parallelism.committers if self.committers is None else self.committers
        if n > 0 and not self.actors:
            self.start_actor()

    def start_actor(self) -> None:
        """One more committer actor, on the driver's node."""
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        actor = ray.remote(num_cpus=0, max_restarts=0)(DatasetCommitter).options(scheduling_strategy=here)
        self.actors.append(actor.remote(*self._args()))

    def _reap(self, *, block: bool = False, everything: bool = False) -> None:
        """Book the answered calls; `block`: until at most `max_unanswered` raw episodes are out; `everything`: all."""
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
            if not block or self.unanswered <= self.max_unanswered:
                return

    def _booked(self, sent: _Sent, answer: CommitFailed | None) -> None:
        if answer is not None and sent.failure is None:
            sent.failure = answer
        sent.calls -= 1
        if sent.calls:
            return
        self.unanswered -= sent.remote
        if sent.failure is not None and sent.failure.deferred:  # no row: the next run does it all again
            self.deferred.append((sent.item, Deferred(sent.item.uid, "write", sent.failure.message)))
            return
        for part in sent.parts:  # a rerun redoes a raw episode whose commit was not answered: no row before
            self.add_quarantine(rejected_row(sent.item, part))
        if sent.failure is not None:
            f = sent.failure
            self._reject(sent.item, Rejected(sent.item.uid, "write", f.error_class, f.message))
            return
        tally = self.tallies.setdefault(sent.item.source.name, SourceTally())
        tally.written += sent.written
        tally.frames += sent.frames
        tally.action_kinds.update(sent.action_kinds)
        tally.tiers.update(sent.tiers)
        tally.action_causes.update(sent.action_causes)
        for robot, poses in sent.poses:
            tally.pose_checked(robot, poses)
        for dataset, why in sent.splits.items():
            tally.datasets.setdefault(dataset, why)  # the first episode's reason names the dataset
        self._done(sent.item)

    def _reject(self, item: WorkItem, rejected: Rejected) -> None:
        self.add_quarantine(rejected_row(item, rejected))
        self._done(item)

    def _done(self, item: WorkItem) -> None:
        self.saved += 1
        forget(Path(self.spec.output), item.uid)  # its staged result's record: nothing left to adopt
        if self.on_done is not None:
            self.on_done(item)

    def poll(self) -> None:
        """Book the commits answered so far, and write the quarantine rows buffered for `flush_after_s` (the driver
        calls this while it waits for episode tasks)."""
        self._reap()
        self.quarantine.tick()

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
            self.quarantine.flush()
