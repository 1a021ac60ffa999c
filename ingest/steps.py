"""Ingest's steps, written once, in the order one raw episode passes them (`STEPS`). Each takes the frozen record the
one before answered and answers the next:

    read          None           -> RawEpisode     its adapter's
    canonicalize  RawEpisode     -> Canonicalized  on the 10 Hz grid, cut at gaps, validity and idle ends: measured
    judge         Canonicalized  -> Judged         the arrays' verdicts, the tier they give, the parts quarantined
    write         Judged         -> Encoded        frames and videos staged, each camera frame measured as it passes
    judge         Encoded        -> Written        the cameras' verdicts on those measures, then the lineage

Each answer holds its own episode record, the later carrying the earlier, so nothing a later step sets is an optional
field of an earlier record: `CanonicalEpisode` (arrays, natives, evidence), `JudgedEpisode` (a canonical episode
plus its verdicts and QA records), `EncodedEpisode` (plus where it is staged), `WrittenEpisode` (plus its typed
lineage). `CHAIN` joins the steps so a type checker sees each step take what the one before answers.

The cameras are judged on the thumbnails the write took of each frame it encoded, so no frame is decoded twice (a
second decode would add 31 % to the write step: 678 camera frames of the real GR00T sample, 256x256, one core); the
lineage is written after them, so it holds every verdict. Reading and writing need a job (an adapter, a
deadline, retries): a `Run` gives them (`jobs.ingest.worker.Attempt`). The worker runs the list, `eidata trace`
prints each answer (tests and benchmarks run them on an episode already read: `tests/fixtures/offline.py`).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from adapters.base import RawEpisode
from ingest.canonical.canonicalize import canonicalize_spans
from ingest.canonical.store import lineage, stage_canonical, with_lineage
from ingest.episode import Canonicalized, Judged, JudgedEpisode, Kept
from ingest.lerobot.staging import StagedEpisode
from ingest.lerobot.video import VideoCodec
from ingest.qa import judge as judging
from ingest.qa.phase import FrameTap
from schemas.canonicalize import CanonicalizeSpec
from schemas.corpus import EpisodeLineage, Stage
from schemas.lerobot_features import FeatureSpec
from schemas.robots.registry import EmbodimentRegistry


@dataclass(frozen=True)
class EncodedEpisode:
    """The write step's record of one judged episode: staged in its dataset (`dataset`, relative to the output), with
    the feature set it was staged with and the thumbnails of its camera frames taken as they were encoded."""

    dataset: str
    episode: JudgedEpisode
    staged: StagedEpisode  # its frames and videos in the dataset's staging area, no lineage yet
    features: dict[str, FeatureSpec]
    frames: FrameTap


@dataclass(frozen=True)
class WrittenEpisode:
    """The last step's record of one episode: judged, its cameras too, staged (its paths) with the feature set, and
    its lineage, what the commit writes into `episodes.jsonl` (`staged.extra` carries it as JSON)."""

    dataset: str
    episode: JudgedEpisode
    staged: StagedEpisode
    features: dict[str, FeatureSpec]
    lineage: EpisodeLineage


@dataclass(frozen=True)
class Encoded:
    """The write step's answer: the judge step's (`judged`: the parts it quarantined, the spans rejected) and each
    kept episode staged, its cameras measured, not judged."""

    judged: Judged
    episodes: tuple[EncodedEpisode, ...]


@dataclass(frozen=True)
class Written:
    """The last step's answer: the judge step's, and each staged episode with its camera verdicts and its lineage,
    ready to commit."""

    judged: Judged
    episodes: tuple[WrittenEpisode, ...]


class Run(Protocol):
    """What the steps ask of whoever runs them: the canonicalization settings and embodiments, the source's name, and
    the reading and writing a job owns (`jobs.ingest.worker.Attempt`)."""

    @property
    def spec(self) -> CanonicalizeSpec: ...

    @property
    def registry(self) -> EmbodimentRegistry | None: ...

    @property
    def source(self) -> str | None: ...

    @property
    def reading(self) -> str | None:
        """The fingerprint of how the source is read (`schemas.reading`), kept in each episode's lineage."""

    def read(self) -> RawEpisode: ...

    def write(self, judged: Judged) -> Encoded: ...


def read(run: Run, _: None) -> RawEpisode:
    """The raw episode, from its adapter."""
    return run.read()


def canonicalize(run: Run, raw: RawEpisode) -> Canonicalized:
    """Onto the 10 Hz grid, cut at gaps, by validity and at idle ends (`ingest.canonical`): measured, not judged."""
    return canonicalize_spans(raw, run.spec, run.registry, source=run.source)


def judge(run: Run, canonical: Canonicalized) -> Judged:
    """Each episode's verdicts on its arrays, hence its tier; the parts a behaviour finding quarantines."""
    return judging.judge(canonical, run.spec)


def write(run: Run, judged: Judged) -> Encoded:
    """Each kept episode staged in its dataset, its camera frames measured as they are encoded."""
    return run.write(judged)


def judge_cameras(run: Run, encoded: Encoded) -> Written:
    """Each staged episode's cameras judged on what the write measured, then its lineage (every verdict in it)."""
    out = []
    for e in encoded.episodes:
        ep, staged, lineage = cameras_judged(e.episode, e.staged, e.frames, run.reading)
        out.append(WrittenEpisode(e.dataset, ep, staged, e.features, lineage))
    return Written(encoded.judged, tuple(out))


# `(stage a failure in it is filed under, step)`, as the chain lists them (`Chain.steps`); they run through `walk`
Step = tuple[Stage, Callable[..., object]]
In = TypeVar("In", contravariant=True)
Out = TypeVar("Out", covariant=True)
Mid = TypeVar("Mid")
Next = TypeVar("Next")
T = TypeVar("T")


class Stopped:
    """What a walk returns when a step kept no episode (its answer, the last yielded, says why)."""


STOPPED = Stopped()
Walk = Generator[tuple[Stage, object], None, Out | Stopped]  # each (stage, answer), then the last answer


class Guard(Protocol):
    """What runs each step (`jobs.ingest.worker.run_steps`: its stage named, its source files opened beneath the
    root): called with the stage and the step's call, answers what the step answers."""

    def __call__(self, stage: Stage, step: Callable[[], T]) -> T: ...


class Chain(Generic[In, Out]):
    """Steps joined so a type checker sees each link, and runs them typed: `then` takes a step whose input is what the
    chain answers so far (mypy refuses a step out of order), and the chain answers what that step answers; `walk`
    passes each answer to the next step as the type the step takes, and yields it with its stage."""

    @property
    def steps(self) -> tuple[Step, ...]:
        return ()

    def then(self, stage: Stage, step: Callable[[Run, Out], Next]) -> Chain[In, Next]:
        return _Link(self, stage, step)

    def walk(self, run: Run, value: In, guard: Guard) -> Walk[Out]:
        """Each step's (stage, answer) as it comes; returns the last answer, or `STOPPED` after an answer that keeps
        no episode (a `Kept` with none)."""
        raise NotImplementedError


class _Start(Chain[T, T]):
    def walk(self, run: Run, value: T, guard: Guard) -> Walk[T]:
        return value
        yield  # a generator that yields nothing


class _Link(Chain[In, Next], Generic[In, Mid, Next]):
    def __init__(self, before: Chain[In, Mid], stage: Stage, step: Callable[[Run, Mid], Next]) -> None:
        self.before, self.stage, self.step = before, stage, step

    @property
    def steps(self) -> tuple[Step, ...]:
        return (*self.before.steps, (self.stage, self.step))

    def walk(self, run: Run, value: In, guard: Guard) -> Walk[Next]:
        got = yield from self.before.walk(run, value, guard)
        if isinstance(got, Stopped):
            return got
        given: Mid = got
        out = guard(self.stage, lambda: self.step(run, given))
        yield self.stage, out
        return STOPPED if isinstance(out, Kept) and not out.episodes else out


def start() -> Chain[None, None]:
    """The empty chain, which the first step's `then` extends (it takes None)."""
    return _Start()


# the steps up to the write: what `eidata trace` runs without `--write`
JUDGED: Chain[None, Judged] = start().then("read", read).then("canonicalize", canonicalize).then("judge", judge)
CHAIN: Chain[None, Written] = JUDGED.then("write", write).then("judge", judge_cameras)
STEPS: tuple[Step, ...] = CHAIN.steps


def encode(
    root: Path, ep: JudgedEpisode, codec: VideoCodec, registry: EmbodimentRegistry | None = None
) -> tuple[StagedEpisode, FrameTap]:
    """`ep` staged under `root`, and the thumbnails of its camera frames taken as they passed (a fresh tap)."""
    frames = FrameTap()
    return stage_canonical(root, ep, codec, frames=frames, registry=registry), frames


def cameras_judged(
    ep: JudgedEpisode, staged: StagedEpisode, frames: FrameTap, reading: str | None = None
) -> tuple[JudgedEpisode, StagedEpisode, EpisodeLineage]:
    """`ep` with its camera verdicts on `frames` (what its write measured), and `staged` with its lineage (the third,
    typed); raises
    `BehaviourRejected` for a finding that quarantines it, its staged folder removed."""
    try:
        judged = judging.judge_cameras(ep, frames)
    except BaseException:
        shutil.rmtree(staged.stage_dir, ignore_errors=True)
        raise
    kept = lineage(judged, reading)
    return judged, with_lineage(staged, kept), kept
