"""The per-episode worker (a Ray task in a job): one raw episode through the ingest steps, `STEPS`: read (its
adapter), canonicalize, judge, stage (`run_steps`; `eidata trace` prints each step's answer for one episode).

It answers, never raises for bad input: `Staged`, or `Rejected` with the stage that failed and the first real cause
(datatrove's keep-or-drop step: the reasons come back as values and the job's quarantine writer records them). An error
of the environment (a full disk, a store that does not answer: `adapters.storage.faults`) is no reason: the whole
episode is tried again with backoff (`jobs.runtime.retry`), and past its retries the answer is `Deferred`, which ends
the job without a quarantine row.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from adapters import get_adapter
from adapters.base import AdapterError, RawEpisode
from adapters.registry import adapter_class
from adapters.storage.beneath import fenced
from adapters.storage.faults import environment_fault
from adapters.storage.memory_limit import active, task_memory
from adapters.storage.vanished import SourceVanishedError, vanished
from ingest.canonical.canonicalize import canonicalize_spans
from ingest.canonical.declared import as_declared
from ingest.canonical.store import dataset_features, stage_canonical
from ingest.episode import CanonicalEpisode, Canonicalized
from ingest.lerobot.encoder_faults import write_retrying_encoder_faults
from ingest.lerobot.errors import EpisodeError
from ingest.lerobot.routing import route
from ingest.lerobot.staging import StagedEpisode
from ingest.qa.judge import camera_judge, judge
from ingest.qa.phase import BehaviourRejected
from jobs.ingest.adopt import record
from jobs.ingest.task import Deferred, EpisodeResult, EpisodeTask, Rejected, Staged, StagedOutput
from jobs.runtime.cpu_slots import held_to_cpus
from jobs.runtime.deadline import TIMEOUT_CLASS, episode_pixels, hung_attempts, timeout_message, watchdog
from jobs.runtime.retry import retry_environment
from jobs.spec_robots import RobotSpec
from schemas.corpus import Stage, dataset_dir
from schemas.robots.declared import registry_with
from schemas.robots.registry import EmbodimentRegistry

REJECTED = "RejectedEpisode"  # the error class of a raw episode (or part) its steps rejected as a value
MEMORY_LIMIT = "MemoryLimit"  # the error class of a raw episode whose task reached its memory limit


def process_episode(task: EpisodeTask) -> EpisodeResult:
    """One raw episode through `STEPS`, tried again on the environment's faults. Never raises for bad input."""
    settings = task.settings
    hung = hung_attempts(settings.output, task.uid) if settings.deadline.enabled else []
    if len(hung) > settings.deadline.retries:  # killed by its deadline on every attempt allowed: no further try
        return Rejected(task.uid, "write", TIMEOUT_CLASS, timeout_message(hung), fault="environment")
    retried: list[str] = []  # encoder faults written over once more (ingest.lerobot.encoder_faults), all attempts
    pinned = held_to_cpus(settings.pin_cpus) if settings.pin_cpus else contextlib.nullcontext()
    with pinned, task_memory(settings.memory_mib):
        try:
            result = retry_environment(lambda: _process(task, retried), settings.environment, task.uid)
        except _EnvironmentFault as e:  # past its retries
            return Deferred(task.uid, e.stage, environment_fault(e) or str(e), retried=len(retried))
    if isinstance(result, Staged):  # last: a kill from now on keeps it (jobs.ingest.adopt)
        record(settings.output, task, result)
    return result


class _EnvironmentFault(Exception):
    """An error of the environment at `stage`, raised from it (its cause stays the chain's first)."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        super().__init__(f"at stage {stage}")


@dataclass
class Attempt:
    """One attempt at one raw episode: what its steps share, and the step it is in (a failure's stage)."""

    task: EpisodeTask
    retried: list[str]  # encoder faults written over once more (ingest.lerobot.encoder_faults), all attempts
    stage: Stage = "read"
    staged: list[StagedEpisode] = field(default_factory=list)  # discarded when a later step fails


def read(run: Attempt, _: None) -> RawEpisode:
    """The raw episode from its adapter; the job spec's `tier` replaces the adapter's default tier: a default, which
    the judging step's verdicts still lower (a tier no episode of the source can keep is refused with the spec)."""
    source = run.task.source
    raw = get_adapter(source.adapter, source.options, source.storage).read(run.task.ref)
    if isinstance(source.robot, RobotSpec):  # a robot the spec declares: its episodes are named after it
        raw = as_declared(raw, source.robot.name, source.robot)
    return raw if source.tier is None else replace(raw, tier=source.tier)


def registry(run: Attempt) -> EmbodimentRegistry | None:
    """The shipped embodiments, and the robot the task's source declares (for this job only); None: the shipped."""
    robot = run.task.source.robot
    return registry_with({robot.name: robot}) if isinstance(robot, RobotSpec) else None


def canonicalize(run: Attempt, raw: RawEpisode) -> Canonicalized | Rejected:
    """Onto the 10 Hz grid, cut at gaps, by validity and at idle ends (`ingest.canonical`): measured, not judged."""
    result = canonicalize_spans(raw, run.task.settings.canonicalize, registry(run), source=run.task.source.name)
    return result if result.episodes else Rejected(run.task.uid, run.stage, REJECTED, result.rejection_message())


def judge_step(run: Attempt, result: Canonicalized) -> Canonicalized | Rejected:
    """Each episode's verdicts, hence its tier; the parts a behaviour finding quarantines (`ingest.qa.judge`)."""
    judged = judge(result, run.task.settings.canonicalize)
    return judged if judged.episodes else Rejected(run.task.uid, run.stage, REJECTED, judged.rejection_message())


def stage(run: Attempt, result: Canonicalized) -> Staged:
    """Each episode staged in its dataset under the task's deadline, its cameras judged as they are encoded."""
    task, settings = run.task, run.task.settings
    out = []
    limit = settings.deadline.seconds(*episode_pixels(result.episodes))
    embodiments = registry(run)
    with watchdog(limit, settings.output, task.uid) if settings.deadline.enabled else contextlib.nullcontext():
        for ep in result.episodes:
            # staged in its subset's dataset; the committer routes it for good
            features = dataset_features(ep, embodiments)
            dataset = route(dataset_dir(task.source.name, ep.subset), features).dataset

            def write(ep: CanonicalEpisode = ep, root: Path = settings.output / dataset) -> StagedEpisode:
                # a fresh tap each attempt
                return stage_canonical(root, ep, settings.codec, check=camera_judge(ep), registry=embodiments)

            # an encoder fault is written over once, under the same deadline (its rates are ~25x slack)
            st = write_retrying_encoder_faults(write, ep.uid, run.retried)
            run.staged.append(st)
            out.append(StagedOutput(dataset, st, ep.embodiment, features, ep.action_kind.value, ep.tier.value))
    return Staged(task.uid, tuple(out), quarantined_parts(task.uid, result), retried=len(run.retried))


# The ingest of one raw episode, in order: each step takes what the one before gave and answers the next value or a
# `Rejected` (datatrove's keep-or-drop, the reason as a value); its name is the stage a failure in it is filed under.
Step = tuple[Stage, Callable[[Attempt, Any], Any]]
STEPS: tuple[Step, ...] = (("read", read), ("canonicalize", canonicalize), ("judge", judge_step), ("write", stage))


def run_steps(run: Attempt, steps: tuple[Step, ...] = STEPS) -> Iterator[tuple[Stage, Any]]:
    """Each step's name and answer, in order, until one rejects (`eidata trace` prints them as they come)."""
    value: Any = None
    for name, step in steps:
        run.stage = name
        with fenced(run.task.source.root):  # every open of a source file beneath its root (adapters.storage.beneath)
            value = step(run, value)
        yield name, value
        if isinstance(value, Rejected):
            return


def _process(task: EpisodeTask, retried: list[str]) -> EpisodeResult:
    run = Attempt(task, retried)
    try:
        *_, (_, answer) = run_steps(run)  # the last step's answer: `Staged`, or the `Rejected` that ended the run
        return answer
    except Exception as e:  # bad input of any kind is this episode's problem only
        for st in run.staged:
            shutil.rmtree(st.stage_dir, ignore_errors=True)
        if (limit := active()) is not None and limit.reached(e):  # the file's, even where the library says ENOMEM
            named = e.file if isinstance(e, AdapterError) else None  # (cv2.error's `file` is OpenCV's source file)
            file = named or (task.ref.paths[0] if task.ref.paths else None)
            msg = e.reason if isinstance(e, AdapterError) and e.reason.startswith("memory limit") else None
            why = msg or limit.explain(e, file)
            return Rejected(task.uid, run.stage, MEMORY_LIMIT, why, file=file, retried=len(retried))
        if environment_fault(e) is not None:  # not the episode's: tried again, else the job ends
            raise _EnvironmentFault(run.stage) from e
        seen = adapter_class(task.source.adapter).refs_seen
        if (why := vanished(task.source.root, task.ref.paths, task.source.storage, all_seen=seen)) is not None:
            raise _EnvironmentFault(run.stage) from SourceVanishedError(why)  # the source went away, not bad data
        raw_file = task.ref.paths[0] if task.ref.paths else None
        return replace(rejected_by(task.uid, run.stage, e, raw_file), retried=len(retried))


def quarantined_parts(uid: str, result: Canonicalized) -> tuple[Rejected, ...]:
    """The parts of a raw episode not kept while others were: those a behaviour finding quarantined
    (`quarantined_parts`, the same on each kept part of one span), once each, and the spans validity rejected or gaps
    left too short, or whose every part a finding quarantined (`result.rejections`): each its own `Rejected`."""
    parts = {p.tag: p.message for ep in result.episodes for p in ep.quarantined_parts}
    return tuple(
        Rejected(uid + tag, "judge", BehaviourRejected.__name__, msg, part=tag) for tag, msg in parts.items()
    ) + tuple(Rejected(uid + r.tag, r.stage, REJECTED, r.note, part=r.tag) for r in result.rejections)


def rejected_by(uid: str, stage: Stage, e: Exception, raw_file: str | None = None) -> Rejected:
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
