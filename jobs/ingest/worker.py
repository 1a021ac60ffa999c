"""The per-episode worker (a Ray task in a job): read one raw episode, canonicalize it, stage its canonical episodes.

It answers, never raises for bad input: `Staged`, or `Rejected` with the stage that failed and the first real cause
(datatrove's keep-or-drop step: the reasons come back as values and the job's quarantine writer records them). An error
of the environment (a full disk, a store that does not answer: `adapters.storage.faults`) is no reason: the whole
episode is tried again with backoff (`jobs.runtime.retry`), and past its retries the answer is `Deferred`, which ends
the job without a quarantine row.
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import replace
from functools import partial

from adapters import get_adapter
from adapters.base import AdapterError
from adapters.storage.faults import environment_fault
from ingest.canonical.canonicalize import Canonicalized, canonicalize_spans
from ingest.canonical.store import dataset_features, stage_canonical
from ingest.lerobot.encoder_faults import write_retrying_encoder_faults
from ingest.lerobot.errors import EpisodeError
from ingest.lerobot.routing import route
from ingest.lerobot.staging import StagedEpisode
from ingest.qa.phase import BehaviourRejected
from jobs.ingest.task import Deferred, EpisodeResult, EpisodeTask, Rejected, Staged, StagedOutput
from jobs.runtime.cpu_slots import held_to_cpus
from jobs.runtime.deadline import TIMEOUT_CLASS, episode_pixels, hung_attempts, timeout_message, watchdog
from jobs.runtime.retry import retry_environment
from schemas.corpus import Stage, dataset_dir


def process_episode(task: EpisodeTask) -> EpisodeResult:
    """Read -> canonicalize -> stage one raw episode. Never raises for bad input."""
    settings = task.settings
    hung = hung_attempts(settings.output, task.uid) if settings.deadline.enabled else []
    if len(hung) > settings.deadline.retries:  # killed by its deadline on every attempt allowed: no further try
        return Rejected(task.uid, "write", TIMEOUT_CLASS, timeout_message(hung), fault="environment")
    retried: list[str] = []  # encoder faults written over once more (ingest.lerobot.encoder_faults), all attempts
    with held_to_cpus(settings.pin_cpus) if settings.pin_cpus else contextlib.nullcontext():
        try:
            return retry_environment(lambda: _process(task, retried), settings.environment, task.uid)
        except _EnvironmentFault as e:  # past its retries
            return Deferred(task.uid, e.stage, environment_fault(e) or str(e), retried=len(retried))


class _EnvironmentFault(Exception):
    """An error of the environment at `stage`, raised from it (its cause stays the chain's first)."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        super().__init__(f"at stage {stage}")


def _process(task: EpisodeTask, retried: list[str]) -> EpisodeResult:
    source, settings, spec = task.source, task.settings, task.settings.canonicalize
    stage: Stage = "read"
    staged: list[StagedEpisode] = []
    try:
        raw = get_adapter(source.adapter, source.options, source.storage).read(task.ref)
        if source.tier is not None:
            raw = replace(raw, tier=source.tier)
        stage = "canonicalize"
        result = canonicalize_spans(raw, spec, source=source.name)
        if not result.episodes:
            return Rejected(task.uid, stage, "RejectedEpisode", result.rejection_message())
        stage = "write"
        out = []
        limit = settings.deadline.seconds(*episode_pixels(result.episodes))
        with watchdog(limit, settings.output, task.uid) if settings.deadline.enabled else contextlib.nullcontext():
            for ep in result.episodes:
                features = dataset_features(ep)  # staged in its subset's dataset; the committer routes it for good
                dataset = route(dataset_dir(source.name, ep.subset), features).dataset
                # an encoder fault is written over once, under the same deadline (its rates are ~25x slack)
                write = partial(stage_canonical, settings.output / dataset, ep, settings.codec)
                st = write_retrying_encoder_faults(write, ep.uid, retried)
                staged.append(st)
                out.append(StagedOutput(dataset, st, ep.embodiment, features))
        return Staged(task.uid, tuple(out), quarantined_parts(task.uid, result), retried=len(retried))
    except Exception as e:  # bad input of any kind is this episode's problem only
        for st in staged:
            shutil.rmtree(st.stage_dir, ignore_errors=True)
        if environment_fault(e) is not None:  # not the episode's: tried again, else the job ends
            raise _EnvironmentFault(stage) from e
        return replace(rejected_by(task.uid, stage, e), retried=len(retried))


def quarantined_parts(uid: str, result: Canonicalized) -> tuple[Rejected, ...]:
    """The parts of a raw episode not kept while others were: those a behaviour finding quarantined
    (`quarantined_parts`, the same on each kept part of one span), once each, and the spans validity rejected or gaps
    left too short (`result.rejections`): each its own `Rejected`."""
    parts = {p.tag: p.message for ep in result.episodes for p in ep.quarantined_parts}
    return tuple(
        Rejected(uid + tag, "canonicalize", BehaviourRejected.__name__, msg, part=tag) for tag, msg in parts.items()
    ) + tuple(Rejected(uid + r.tag, "canonicalize", "RejectedEpisode", r.note, part=r.tag) for r in result.rejections)


def rejected_by(uid: str, stage: Stage, e: Exception) -> Rejected:
    """The `Rejected` result of an exception: its reason, and the file and field it names when it names them."""
    message = getattr(e, "reason", None) or str(e)
    if isinstance(e, EpisodeError):
        return Rejected(uid, stage, type(e).__name__, message, field=e.feature)
    if isinstance(e, AdapterError):
        return Rejected(uid, stage, type(e).__name__, message, file=e.file, field=e.field)
    return Rejected(uid, stage, type(e).__name__, message)
