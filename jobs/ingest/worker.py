"""The per-episode worker (a Ray task in a job): one raw episode through the ingest steps (`ingest.steps.CHAIN`),
reading and writing through its `Attempt` (`run_steps`; `eidata trace` prints each step's answer for one episode).

It answers, never raises for bad input (datatrove's keep-or-drop step: the reasons come back as values). An error of
the environment is no reason: the episode is tried again with backoff (`jobs.runtime.retry`), and past its retries the
answer is `Deferred`, which ends the job without a quarantine row.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TypeVar

from adapters import get_adapter
from adapters.base import AdapterError, RawEpisode
from adapters.hostile.isolated import failure, last_opened
from adapters.hostile.limits import mechanism
from adapters.hostile.sandbox import Killed, answer
from adapters.registry import adapter_class
from adapters.storage.beneath import Fence
from adapters.storage.root import Root
from ingest.canonical.declared import as_declared
from ingest.canonical.store import dataset_features
from ingest.episode import Judged, JudgedEpisode, Kept
from ingest.lerobot.encoder_faults import write_retrying_encoder_faults
from ingest.lerobot.errors import EpisodeError
from ingest.lerobot.staging import StagedEpisode
from ingest.qa.phase import BehaviourRejected, FrameTap
from ingest.steps import CHAIN, Chain, Encoded, EncodedEpisode, Written, WrittenEpisode, encode
from jobs.ingest.adopt import record
from jobs.ingest.readings import reading_of
from jobs.ingest.task import Deferred, EpisodeResult, EpisodeTask, Rejected, Staged, StagedOutput
from jobs.runtime.cpu_slots import held_to_cpus
from jobs.runtime.deadline import TIMEOUT_CLASS, episode_pixels, hung_attempts, timeout_message, watchdog
from jobs.runtime.retry import retry_environment
from jobs.spec_robots import RobotSpec
from schemas.actions import ActionKind, not_canonical
from schemas.canonicalize import CanonicalizeSpec
from schemas.corpus import Stage, dataset_dir
from schemas.faults import environment_fault
from schemas.pose_agreement import compared
from schemas.robots.declared import registry_with
from schemas.robots.registry import EmbodimentRegistry
from schemas.storage import SourceVanishedError
from schemas.tiers import SOURCE_DEFAULTS, QualityTier, source_default

REJECTED = "RejectedEpisode"  # the error class of a raw episode (or part) its steps rejected as a value
MEMORY_LIMIT = "MemoryLimit"  # the error class of a raw episode whose parse reached its memory limit
PARSE_DIED = "ParseProcessDied"  # the error class of a raw episode whose parse process died otherwise (a signal)


def process_episode(task: EpisodeTask) -> EpisodeResult:
    """One raw episode through `CHAIN` in a parse process of its own under the task's memory limit
    (`adapters.hostile.sandbox`), tried again on the environment's faults. Never raises for bad input: a parse process
    the limit killed is tried once more, then its episode is quarantined naming the file it was reading and the
    limit; one its deadline killed is tried again up to the deadline's retries (`jobs.runtime.deadline`)."""
    settings, killed = task.settings, 0
    while True:
        hung = hung_attempts(settings.output, task.uid) if settings.deadline.enabled else []
        if len(hung) > settings.deadline.retries:  # killed by its deadline on every attempt allowed: no further try
            return Rejected(task.uid, "write", TIMEOUT_CLASS, timeout_message(hung), fault="environment")
        try:
            result = answer(_attempts, task, mib=settings.memory_mib, what=f"episode {task.uid}")
            break
        except Killed as e:
            if len(hung_attempts(settings.output, task.uid)) > len(hung):  # its deadline's kill: the loop decides
                continue
            killed += 1
            if killed > 1:  # the same death twice: the episode's, not a passing one
                return died(task.uid, e, retried=killed - 1)
    if isinstance(result, Staged):  # last: a kill from now on keeps it (jobs.ingest.adopt)
        record(settings.output, task, result)
    return result


def _attempts(task: EpisodeTask) -> EpisodeResult:
    """In the parse process: the episode's steps, tried again on the environment's faults."""
    settings, retried = task.settings, list[str]()  # encoder faults written over once more (encoder_faults)
    pinned = held_to_cpus(settings.pin_cpus) if settings.pin_cpus else contextlib.nullcontext()
    with pinned:
        try:
            return retry_environment(lambda: _process(task, retried), settings.environment, task.uid)
        except EnvironmentFault as e:  # past its retries
            return Deferred(task.uid, e.stage, environment_fault(e) or str(e), retried=len(retried))


def died(uid: str, e: Killed, retried: int = 0) -> Rejected:
    """A raw episode whose parse process died (`e`): quarantined naming the limit or the signal and the file it
    was reading, as the job does after the same death twice (the dry run's sample after once)."""
    return Rejected(uid, "read", MEMORY_LIMIT if e.oom else PARSE_DIED, str(e), file=e.reading, retried=retried)


class EnvironmentFault(Exception):
    """An error of the environment at `stage`, raised from it (its cause stays the chain's first): the episode is
    tried again, never quarantined for it (`failed`)."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        super().__init__(f"at stage {stage}")


@dataclass
class Attempt:
    """One attempt at one raw episode: what its steps share (a `ingest.steps.Run`: the reading and writing a job
    owns), and the step it is in (a failure's stage)."""

    task: EpisodeTask
    retried: list[str]  # encoder faults written over once more (ingest.lerobot.encoder_faults), all attempts
    stage: Stage = "read"
    staged: list[StagedEpisode] = field(default_factory=list)  # discarded when a later step fails

    @property
    def spec(self) -> CanonicalizeSpec:
        return self.task.settings.canonicalize

    @cached_property
    def registry(self) -> EmbodimentRegistry | None:
        """The shipped embodiments and the robot the task's source declares (this job only); None: the shipped."""
        robot = self.task.source.robot
        return registry_with({robot.name: robot}) if isinstance(robot, RobotSpec) else None

    @property
    def source(self) -> str:
        return self.task.source.name

    @cached_property
    def reading(self) -> str:
        """The fingerprint of how the task's source is read, as the driver recorded it (`jobs.ingest.readings`)."""
        settings = self.task.settings
        return reading_of(self.task.source, settings.canonicalize, settings.codec).fingerprint

    def read(self) -> RawEpisode:
        """The raw episode from its adapter; the job spec's `tier` replaces the adapter's default (its verdicts
        `source_default`, `source_no_action`) with a verdict of its own, which the judging step's verdicts still lower
        and a curator overrules by its code (a tier no episode of the source can keep is refused with the spec)."""
        source = self.task.source
        raw = get_adapter(source.adapter, source.options, source.storage).read(self.task.ref)
        if isinstance(source.robot, RobotSpec):  # a robot the spec declares: its episodes are named after it
            raw = as_declared(raw, source.robot.name, source.robot)
        if source.tier is None:
            return raw
        kept = tuple(v for v in raw.verdicts if v.code not in SOURCE_DEFAULTS)
        said = source_default(source.tier, f"source default {source.tier.value}: the job spec's `tier`")
        return replace(raw, tier=QualityTier.high, verdicts=(*kept, *said))

    def write(self, judged: Judged) -> Encoded:
        """Each episode staged in its dataset under the task's deadline, its camera frames measured as encoded."""
        task, settings = self.task, self.task.settings
        out = []
        limit = settings.deadline.seconds(*episode_pixels(judged.episodes))
        with watchdog(limit, settings.output, task.uid) if settings.deadline.enabled else contextlib.nullcontext():
            for ep in judged.episodes:
                # staged in its subset's staging area; the driver routes it, once (`ingest.lerobot.routing`)
                features = dataset_features(ep, self.registry)
                dataset = dataset_dir(task.source.name, ep.subset)

                def attempt(
                    ep: JudgedEpisode = ep, root: Path = settings.output / dataset
                ) -> tuple[StagedEpisode, FrameTap]:
                    return encode(root, ep, settings.codec, self.registry)  # a fresh tap each attempt

                # an encoder fault is written over once, under the same deadline (its rates are ~25x slack)
                st, frames = write_retrying_encoder_faults(attempt, ep.uid, self.retried)
                self.staged.append(st)
                out.append(EncodedEpisode(dataset, ep, st, features, frames))
        return Encoded(judged, tuple(out))


T = TypeVar("T")


def run_steps(run: Attempt, chain: Chain[None, object] = CHAIN) -> Iterator[tuple[Stage, object]]:
    """Each step's name and answer, in order, until one rejects (`eidata trace` prints them as they come): a step
    that keeps no episode answers `Rejected` (datatrove's keep-or-drop, the reason as a value), the last `Staged`.
    Every open of a source file is beneath its root (`adapters.storage.beneath`) while a step runs."""
    with Fence.rooted(run.task.source.root) as fence:

        def guard(stage: Stage, step: Callable[[], T]) -> T:
            run.stage = stage
            with Fence.active(fence):  # every open of a source file beneath its root (storage.beneath)
                return step()

        for name, value in chain.walk(run, None, guard):  # never across a yield
            yield name, _answer(run, value)


def _answer(run: Attempt, value: object) -> object:
    """A step's record as the job hears it: `Rejected` when it keeps no episode, `Staged` when it is the last."""
    if isinstance(value, Kept) and not value.episodes:
        return Rejected(run.task.uid, run.stage, REJECTED, value.rejection_message())
    if isinstance(value, Written):
        out = tuple(_output(e) for e in value.episodes)
        return Staged(run.task.uid, out, quarantined_parts(run.task.uid, value.judged), retried=len(run.retried))
    return value


def _output(written: WrittenEpisode) -> StagedOutput:
    """What the job tallies of a written episode, its cause and FK comparisons read from the verdicts its lineage
    keeps, the same the catalog shows."""
    ep, verdicts = written.episode, written.lineage.tier_verdicts or []
    cause = not_canonical(verdicts) if ep.action_kind is not ActionKind.canonical else None
    return StagedOutput(
        written.dataset,
        written.staged,
        ep.embodiment,
        written.features,
        ep.action_kind.value,
        ep.tier.value,
        cause.value if cause is not None else "",
        tuple(compared(verdicts)),
    )


def _process(task: EpisodeTask, retried: list[str]) -> EpisodeResult:
    run = Attempt(task, retried)
    try:
        *_, (_, answer) = run_steps(run)  # the last step's answer: `Staged`, or the `Rejected` that ended it
        assert isinstance(answer, Staged | Rejected), answer
        return answer
    except BaseException as e:  # bad input of any kind is this episode's problem only, a library's panic too
        if not failure(e):
            raise
        for st in run.staged:
            shutil.rmtree(st.stage_dir, ignore_errors=True)
        return failed(task, run.stage, e, len(retried))


def failed(task: EpisodeTask, stage: Stage, e: BaseException, retried: int = 0) -> Rejected:
    """The run's answer for the error `e` that ended `task`'s steps at `stage` (a failure: `adapters.hostile.isolated`),
    the quarantine row's reason; raises `EnvironmentFault` when the cause is the environment's (a full disk, a store
    that does not answer, a source gone since discovery), which is retried, never the episode's."""
    if isinstance(e, MemoryError):  # an allocation past the parse process's `RLIMIT_AS` (adapters.hostile.limits)
        named = e.file if isinstance(e, AdapterError) else None
        file = named or last_opened() or (task.ref.paths[0] if task.ref.paths else None)
        why = f"the memory limit of {task.settings.memory_mib} MiB ({mechanism()}) reached reading {file}: {e}"
        return Rejected(task.uid, stage, MEMORY_LIMIT, why, file=file, retried=retried)
    if environment_fault(e) is not None:  # not the episode's: tried again, else the job ends
        raise EnvironmentFault(stage) from e
    seen = adapter_class(task.source.adapter).refs_seen
    if (gone := Root(task.source.root, task.source.storage).vanished(task.ref.paths, all_seen=seen)) is not None:
        raise EnvironmentFault(stage) from SourceVanishedError(gone)  # the source went away, not bad data
    raw_file = task.ref.paths[0] if task.ref.paths else None
    return replace(rejected_by(task.uid, stage, e, raw_file), retried=retried)


def quarantined_parts(uid: str, result: Judged) -> tuple[Rejected, ...]:
    """The parts of a raw episode not kept while others were: those a behaviour finding quarantined
    (`quarantined_parts`, the same on each kept part of one span), once each, and the spans validity rejected or gaps
    left too short, or whose every part a finding quarantined (`result.rejections`): each its own `Rejected`."""
    parts = {p.tag: p.message for ep in result.episodes for p in ep.quarantined_parts}
    return tuple(
        Rejected(uid + tag, "judge", BehaviourRejected.__name__, msg, part=tag) for tag, msg in parts.items()
    ) + tuple(Rejected(uid + r.tag, r.stage, REJECTED, r.note, part=r.tag) for r in result.rejections)


def rejected_by(uid: str, stage: Stage, e: BaseException, raw_file: str | None = None) -> Rejected:
    """The `Rejected` result of an exception: its reason, and the file and field it names when it names them. An
    episode's bad value (`EpisodeError`, raised where it is staged) names `raw_file`, the raw file its values were
    read from (the lineage's `raw_path`), and the frame it is at."""
    message = getattr(e, "reason", None) or str(e)
    if isinstance(e, EpisodeError):
        message += f" (frame {e.frame})" if e.frame is not None and f"frame {e.frame}" not in message else ""
        return Rejected(uid, stage, type(e).__name__, message, file=raw_file, field=e.feature)
    if isinstance(e, AdapterError):
        return Rejected(uid, stage, type(e).__name__, message, file=e.file, field=e.field)
    return Rejected(uid, stage, type(e).__name__, message)
