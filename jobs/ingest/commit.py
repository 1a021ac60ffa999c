"""Committing staged episodes: committer actors, one writer per dataset, fed by the driver in discovery order.

Each dataset is owned by one of `parallelism.committers` Ray actors (the first actor with the fewest datasets when a
dataset first appears). The driver sends an actor the staged episodes of one raw episode at a time, in each source's
discovery order; Ray runs an actor's calls from one caller in the order they were sent, so episode indices are what a
single committer would write, byte for byte, while different datasets commit at once on different actors. The
actors run on the driver's node (pinned): a worker node lost mid-job never takes a writer with it, and the driver's
node going away ends the job anyway. They reserve no CPU: a commit is mostly file moves and small writes.

A commit that fails for a reason of the environment (a full disk, a bucket that does not answer, a dataset still locked
by a killed run's writer) is no quarantine reason: its dataset takes no further commit in this job (the episodes after
it would take its index), the driver hears of it as `deferred` and ends the job, and the rerun commits the episode at
the index an uninterrupted run gives it (`jobs.runtime.retry`).

Datasets by signature (the policy the committer's check names). A LeRobot dataset has one feature set, fixed by its
first committed episode. An episode whose features differ from its dataset's is written, never quarantined, to a
sibling dataset of its own signature, its staged files moved there; the catalog lists each as a dataset of the source
(it lists every dataset folder), and the episode's lineage and the job's summary say why:
- only its cameras' sizes differ (egocentric clips at 480x360 and at 640x360): `<subset>@<W>x<H>` (its cameras' sizes
  in key order, joined by `+`), lineage `camera_size_split`. Camera rates need nothing: every camera is written at the
  canonical fps. One dataset of one size instead is `canonicalize.image.size` (e.g. `640x360`, fit `pad`: aspect
  kept), decided before any commit;
- anything else (natives present or absent, another native width or other native names, other cameras): a dataset
  `<subset>@<diff>~<hash>`, `<diff>` naming what differs from the first dataset (`+key` a feature it adds, `-key` one
  it lacks, `key<width>` another width or other names) and `<hash>` 8 hex digits of its whole signature, so every
  episode of one signature lands in one dataset whatever the order; lineage `signature_split`. N recordings of K
  signatures are N episodes in K datasets.
Why not one dataset with the union of the features and a mask per native: LeRobot's consumers (lerobot-train's
normalisation, its dataset loader, policies' input features) take every feature of every frame as real, and a
stand-in value for a stream a recording never had (0, or NaN, which the writer refuses) would be learned as data
unless every consumer applied a mask it does not know of. Measured on the real folder of two Interbotix arms
(the real sample rosbag_interbotix, 4 recordings: a WidowX 200's 29 state + 1 command columns three times, a WidowX
250's 6 command columns): a union has 36 native columns, 6 of them stand-ins in every wx200 frame and 30 in every
wx250 frame, 9,330 of its 21,564 native cells (43 %) values no recorder sent; two datasets (30 and 6 columns) have
none. A stream missing only in part of a recording is another matter: the recording has it, so it keeps its columns
and its values over its window, and each native column has a validity mask beside it (`observation.state.
native_valid`, `action.native_valid`: float32 0/1 of the native's width and names, in info.json and the stats), 0
where its stream has no sample (the column there holds the nearest sample, as the writer refuses NaN); the lineage
names each such window (`ingest.canonical.span`, `native_windows`). The mask is written for every dataset with natives
(all 1 where every stream covers the episode), so it never splits a dataset by itself, and a mask follows its native
in a signature's name. Measured on the real ATS db3 (the real sample rosbag_ats/rosbags, three JointStates starting 0.4,
1.8 and 3.3 s in): the 12.4 s any of them covers (10.9 s written, the idle end the QA cuts said) instead of the 9.6 s
all three covered, the two later ones 0 in their first 13 and 28 frames; on a Franka recording with a controller
switch (larics/for_franka_ros @ c63d5d4, a ROS 1 bag with no licence, kept beside the repository): one episode over
the whole of /joint_states instead of a quarantine, each controller's JointState 1 over its own window (30 s, then
22 s) and 0 elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.storage.faults import environment_fault
from ingest.lerobot.errors import DatasetError, EpisodeError, WriterFailedError, WriterLockedError
from ingest.lerobot.staging import StagedEpisode
from ingest.lerobot.video import VideoCodec
from ingest.lerobot.writer import LeRobotWriter
from ingest.lerobot.writer_dir import STAGING
from ingest.storage.corpus import Corpus
from jobs.ingest.quarantine import QuarantineWriter, rejected_row
from jobs.ingest.report import SourceTally
from jobs.ingest.task import Deferred, EpisodeResult, Rejected, StagedOutput, WorkItem
from jobs.spec_models import JobSpec
from schemas.canonical import CANONICAL_FPS, NATIVE_VALID
from schemas.corpus import LINEAGE_KEY, QuarantineRow
from schemas.lerobot import INFO_PATH, FeatureSpec, default_features, load_info

LOCK_WAIT_S = 60.0  # a killed driver's committers may hold their datasets' locks until Ray reaps them


@dataclass(frozen=True)
class CommitFailed:
    """A committer's answer for a raw episode whose episodes it could not commit."""

    error_class: str
    message: str
    deferred: bool = False  # an error of the environment: no quarantine row, the job ends (see the module)


@dataclass(frozen=True)
class Committed:
    """A committer's answer for a raw episode committed to a dataset of its own signature (see the module): each
    dataset it went to instead of its subset's, with why."""

    splits: tuple[tuple[str, str], ...]


def open_writer(root: Path, *, wait_s: float = LOCK_WAIT_S, **kw: Any) -> LeRobotWriter:
    """`LeRobotWriter.create_or_open`, waiting up to `wait_s` for a writer of a killed run (a committer actor of a
    dead driver, not yet reaped by Ray) to let go of the dataset's lock."""
    if kw:
        return LeRobotWriter.create_or_open(root, lock_wait_s=wait_s, **kw)
    return LeRobotWriter.open(root, lock_wait_s=wait_s)


class DatasetCommitter:
    """The writers of the datasets one committer owns (a Ray actor in a job; a plain object in benchmarks)."""

    def __init__(self, corpus: Corpus, codec: VideoCodec) -> None:
        self.corpus, self.output, self.codec = corpus, corpus.root, codec
        self.writers: dict[str, LeRobotWriter] = {}
        self.stopped: dict[str, str] = {}  # dataset -> the error of the environment that ended its commits

    def commit(self, episodes: list[StagedOutput]) -> CommitFailed | Committed | None:
        """Commit one raw episode's staged episodes (those of this committer's datasets), grouped per dataset; None
        when each went to its subset's dataset, `Committed` naming the datasets of another signature it went to."""
        splits: dict[str, str] = {}
        by_dataset: dict[str, list[StagedOutput]] = defaultdict(list)
        for ep in episodes:
            by_dataset[ep.dataset].append(ep)
        for dataset, eps in by_dataset.items():
            staged = [e.staged for e in eps]
            if dataset in self.stopped:  # an earlier episode of it is left to the next run: so is this one
                _discard(staged)
                return CommitFailed("HeldBack", f"{dataset}: {self.stopped[dataset]}", deferred=True)
            try:
                target, staged, why = self._sized(dataset, eps[0].features, staged)
                if why:
                    splits[target] = why
                dataset = target
                writer = self._writer(dataset, eps[0].features, eps[0].robot_type)
            except Exception as e:
                _discard(staged)  # no writer took them
                return self._failed(dataset, e)
            try:  # the writer removes what it did not commit and keeps what its journal names
                writer.commit_group(staged)
            except Exception as e:
                return self._failed(dataset, e)
        return Committed(tuple(splits.items())) if splits else None

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
            self.writers[dataset] = open_writer(
                self.output / dataset,
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
                f"{dataset}: this episode's features differ from the dataset's own signature (a dataset of another "
                f"signature is named for it, `<subset>@<diff>~<hash>`, when it is first opened): {diff[:4]}"
            )
        return writer

    def _features(self, dataset: str) -> dict[str, FeatureSpec] | None:
        """The features `dataset` has (its open writer's, else its info.json's), None while it does not exist."""
        if dataset in self.writers:
            return self.writers[dataset].user_features
        info = self.output / dataset / INFO_PATH
        if not info.is_file():
            return None
        return {k: f for k, f in load_info(info).features.items() if k not in default_features()}

    def _sized(
        self, dataset: str, features: dict[str, FeatureSpec], staged: list[StagedEpisode]
    ) -> tuple[str, list[StagedEpisode], str]:
        """Where staged episodes of `features` are committed under the signature policy (see the module): `dataset`,
        or its sibling for their signature, their staging folders moved into its staging area and their lineage
        saying why (the third value; "" when they stay)."""
        have = self._features(dataset)
        if have is None or _signature(have) == _signature(features):
            return dataset, staged, ""
        target = size_sibling(dataset, have, features)
        if target is not None:
            key = "camera_size_split"
            why = (
                f"cameras {_sizes(features)} where {dataset} has {_sizes(have)} (its first episode's): "
                f"written to {target}, one dataset per camera size"
            )
        else:
            key, target = "signature_split", signature_sibling(dataset, have, features)
            why = (
                f"features differ from {dataset}'s (its first episode's): {feature_diff(have, features)}; written to "
                f"{target}, one dataset per signature"
            )
        area = self.output / target / STAGING
        area.mkdir(parents=True, exist_ok=True)
        moved = []
        for st in staged:
            os.replace(st.stage_dir, area / st.stage_dir.name)
            lineage = {**st.extra.get(LINEAGE_KEY, {}), key: why}
            moved.append(
                st.model_copy(
                    update={"stage_dir": area / st.stage_dir.name, "extra": {**st.extra, LINEAGE_KEY: lineage}}
                )
            )
        return target, moved, why

    def close(self) -> int:
        for w in self.writers.values():
            w.close()
        n, self.writers = len(self.writers), {}
        return n


def _sizes(features: Mapping[str, FeatureSpec]) -> str:
    """The cameras' sizes, `WxH` each in key order, joined by `+`."""
    return "+".join(f"{f.shape[1]}x{f.shape[0]}" for _, f in sorted(features.items()) if f.dtype == "video")


def _signature(features: Mapping[str, FeatureSpec]) -> dict[str, tuple[str, tuple[int, ...], str]]:
    """What a dataset's feature set is, per key: dtype, shape and, for a native vector, its column names (two
    recordings' natives of one width from other topics are other data)."""
    return {
        k: (f.dtype, tuple(f.shape), json.dumps(f.names) if k.endswith(".native") else "")
        for k, f in sorted(features.items())
    }


def size_sibling(dataset: str, have: Mapping[str, FeatureSpec], want: Mapping[str, FeatureSpec]) -> str | None:
    """The dataset an episode of features `want` goes to when `dataset` has `have` (the size policy, see the
    module): `<dataset>@<W>x<H>` when they differ only in the sizes of their cameras, else None (the same features,
    or other differences: `signature_sibling`)."""
    if set(have) != set(want) or any(have[k].dtype != want[k].dtype for k in have):
        return None
    changed = [k for k in have if _signature({k: have[k]}) != _signature({k: want[k]})]
    if not changed or any(have[k].dtype != "video" for k in changed):
        return None
    return f"{dataset}@{_sizes(want)}"


MASKS = frozenset(NATIVE_VALID.values())  # each native's validity mask, of its native's width and names


def _short(key: str) -> str:
    """A feature key as a dataset name shows it: `observation.state.native` -> `state.native`, a camera by its name."""
    return key.removeprefix("observation.").removeprefix("images.")


def feature_diff(have: Mapping[str, FeatureSpec], want: Mapping[str, FeatureSpec]) -> str:
    """What `want` has that `have` does not, in words: features added, lacking, of another shape or other names."""
    a, b = _signature(have), _signature(want)
    parts = [f"adds {k} {list(want[k].shape)}" for k in sorted(set(b) - set(a))]
    parts += [f"lacks {k}" for k in sorted(set(a) - set(b))]
    for k in sorted(set(a) & set(b)):
        if a[k][:2] != b[k][:2]:
            was = f"{have[k].dtype} {list(have[k].shape)}"
            parts.append(f"{k} {want[k].dtype} {list(want[k].shape)} where it has {was}")
        elif a[k] != b[k]:
            gone = [n for n in _flat_names(have[k]) if n not in _flat_names(want[k])]
            parts.append(f"{k} names other columns ({len(gone)} of its {have[k].shape[0]} not among them: {gone[:3]})")
    return "; ".join(parts)


def _flat_names(f: FeatureSpec) -> list[str]:
    names = f.names
    if isinstance(names, dict):
        names = next(iter(names.values()), [])
    return [str(n) for n in names or []]


def signature_sibling(dataset: str, have: Mapping[str, FeatureSpec], want: Mapping[str, FeatureSpec]) -> str:
    """`<dataset>@<diff>~<hash>` for an episode of features `want` when `dataset` has `have` (see the module):
    `+key` added, `-key` lacking, `key<width>` another width or other names; the hash of `want`'s whole signature."""
    a, b = _signature(have), _signature(want)
    a, b = ({k: v for k, v in x.items() if k not in MASKS} for x in (a, b))  # a mask follows its native: not named
    words = [f"+{_short(k)}" for k in sorted(set(b) - set(a))] + [f"-{_short(k)}" for k in sorted(set(a) - set(b))]
    changed = [k for k in sorted(set(a) & set(b)) if a[k] != b[k]]
    words += [f"{_short(k)}{want[k].shape[0] if want[k].shape else ''}" for k in changed]
    diff = re.sub(r"[^A-Za-z0-9_.+-]+", "_", "_".join(words))[:48] or "features"
    digest = hashlib.sha256(json.dumps(_signature(want), sort_keys=True).encode()).hexdigest()[:8]
    return f"{dataset}@{diff}~{digest}"


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


@dataclass
class Committer:
    """The driver's side: routes each raw episode's result to its datasets' committer actors, in the order given
    (`accept`), and books what the actors report back (tallies, quarantine rows), a bounded number of calls behind.
    Every quarantine row goes to the one `quarantine` writer; `on_done` hears of each raw episode once it is
    committed (its files in its datasets) or quarantined."""

    spec: JobSpec
    tallies: dict[str, SourceTally]
    quarantine: QuarantineWriter
    committers: int | None = None  # default: spec.parallelism.committers; 0: commit in the driver
    max_outstanding: int = 256  # commit calls sent and not yet reported back
    on_done: Callable[[WorkItem], None] | None = None
    corpus: Corpus | None = None  # the job's corpus handle (default: the folder `spec.output`)
    actors: list[Any] = field(default_factory=list)
    local: DatasetCommitter | None = None  # committers: 0
    route: dict[str, int] = field(default_factory=dict)  # dataset -> actor
    outstanding: dict[Any, _Sent] = field(default_factory=dict)  # call -> its raw episode
    # raw episodes an error of the environment kept from being committed (a worker's answer or a commit's): the job
    # ends once it has one, the next run does them
    deferred: list[tuple[WorkItem, Deferred]] = field(default_factory=list)

    def accept(self, item: WorkItem, result: EpisodeResult) -> None:
        self.tallies.setdefault(item.source.name, SourceTally()).encoder_retries += result.retried
        if isinstance(result, Deferred):
            self.deferred.append((item, result))
            return
        if isinstance(result, Rejected):
            self._reject(item, result)
            return
        by_actor: dict[int, list[StagedOutput]] = defaultdict(list)
        for ep in result.episodes:
            by_actor[self._actor_of(ep.dataset)].append(ep)
        sent = _Sent(item, len(result.episodes), result.frames, len(by_actor), parts=result.parts)
        if self.local is not None:  # committers: 0, the commit in the driver itself
            for eps in by_actor.values():
                self._booked(sent, self.local.commit(eps))
            return
        for actor, eps in by_actor.items():
            self.outstanding[self.actors[actor].commit.remote(eps)] = sent
        self._reap(block=len(self.outstanding) > self.max_outstanding)

    def add_quarantine(self, row: QuarantineRow) -> None:
        """A quarantine row: a source's or a ref's that never reached a worker (discovery's), a rejected episode's."""
        self.tallies.setdefault(row.source, SourceTally()).quarantined += 1
        self.quarantine.add(row)

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

    def _args(self) -> tuple[Corpus, VideoCodec]:
        return self.corpus or Corpus(Path(self.spec.output)), self.spec.codec

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

    def _booked(self, sent: _Sent, answer: CommitFailed | Committed | None) -> None:
        if isinstance(answer, Committed):
            tally = self.tallies.setdefault(sent.item.source.name, SourceTally())
            for dataset, why in answer.splits:
                tally.datasets.setdefault(dataset, why)  # the first episode's reason names the dataset
        elif answer is not None and sent.failure is None:
            sent.failure = answer
        sent.calls -= 1
        if sent.calls:
            return
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
        self._done(sent.item)

    def _reject(self, item: WorkItem, rejected: Rejected) -> None:
        self.add_quarantine(rejected_row(item, rejected))
        self._done(item)

    def _done(self, item: WorkItem) -> None:
        if self.on_done is not None:
            self.on_done(item)

    def poll(self) -> None:
        """Book the commits answered so far (the driver calls this while it waits for episode tasks)."""
        self._reap()

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
