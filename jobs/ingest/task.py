"""What crosses the worker boundary, typed both ways: an `EpisodeTask` in, an `EpisodeResult` out (`Staged`, `Rejected`
or `Deferred`). All models are validated once, where the spec was loaded; Ray pickles them as they are. A worker is any
callable from one to the other, passed to the job (`jobs.ingest.job.run_ingest`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from adapters.base import EpisodeRef
from adapters.storage.beneath import Fence
from ingest.lerobot.staging import StagedEpisode
from ingest.lerobot.video import VideoCodec
from jobs.runtime.deadline import TaskDeadline
from jobs.runtime.retry import EnvironmentRetry
from jobs.spec_models import JobSpec, SourceSpec
from schemas.canonicalize import CanonicalizeSpec
from schemas.corpus import Fault, Stage, episode_uid
from schemas.lerobot_features import FeatureSpec
from schemas.pose_agreement import PoseAgreement


@dataclass(frozen=True)
class WorkItem:
    """One raw episode to do, as discovery found it."""

    position: int  # the ref's place in its source's sorted discovery order
    source: SourceSpec
    ref: EpisodeRef

    @property
    def uid(self) -> str:
        return episode_uid(self.source.name, self.ref.subset, self.ref.raw_id)


@dataclass(frozen=True)
class TaskSettings:
    """What every episode task gets besides its own raw episode."""

    canonicalize: CanonicalizeSpec
    codec: VideoCodec
    output: Path
    deadline: TaskDeadline
    pin_cpus: int | None = None  # CPUs the task holds to (`parallelism.pin_tasks`), else none
    environment: EnvironmentRetry = field(default_factory=EnvironmentRetry)  # how long the environment is waited out
    memory_mib: int | None = None  # what the task may take on top of its worker (`parallelism.task_memory_mib`)

    @classmethod
    def of(cls, spec: JobSpec, output: Path) -> TaskSettings:
        """A task's settings from the job's spec; `output` the folder it writes in (a prepared spec's output)."""
        par = spec.parallelism
        codec = spec.codec
        if codec.threads is None and par.encoder_threads is not None:
            codec = codec.model_copy(update={"threads": par.encoder_threads})  # same bytes, fewer threads
        pin = 1 if par.pin_tasks else None
        return cls(spec.canonicalize, codec, output, par.deadline, pin, par.environment, par.task_memory_mib)


@dataclass(frozen=True)
class EpisodeTask:
    item: WorkItem
    settings: TaskSettings

    @property
    def uid(self) -> str:
        return self.item.uid

    @property
    def source(self) -> SourceSpec:
        return self.item.source

    @property
    def ref(self) -> EpisodeRef:
        return self.item.ref


@dataclass(frozen=True)
class StagedOutput:
    """One canonical episode staged in `dataset`, with what its dataset is created from if it is the first."""

    dataset: str  # datasets/<source>/<subset>, relative to the output
    staged: StagedEpisode
    robot_type: str
    features: dict[str, FeatureSpec]
    action_kind: str = "canonical"  # `schemas.actions.ActionKind`: the ingest summary counts each kind
    tier: str = ""  # its tier once judged (the summary says what a spec's tier became)
    action_cause: str = ""  # why its action is not canonical (`schemas.actions.NotCanonical`), "" when it is or unsaid
    poses: tuple[PoseAgreement, ...] = ()  # each recorded pose compared with FK of its joints (the summary's count)


@dataclass(frozen=True)
class Staged:
    uid: str
    episodes: tuple[StagedOutput, ...]
    parts: tuple[Rejected, ...] = ()  # parts of the raw episode quarantined while these were kept
    retried: int = 0  # writes done once more after an encoder fault (`ingest.lerobot.encoder_faults`)

    @property
    def frames(self) -> int:
        return sum(e.staged.length for e in self.episodes)

    @property
    def action_kinds(self) -> Counter[str]:
        return Counter(e.action_kind for e in self.episodes)

    @property
    def tiers(self) -> Counter[str]:
        return Counter(e.tier for e in self.episodes if e.tier)

    @property
    def action_causes(self) -> Counter[tuple[str, str]]:
        """Its episodes without a canonical action by (kind, cause)."""
        return Counter((e.action_kind, e.action_cause) for e in self.episodes if e.action_kind != "canonical")

    @property
    def poses(self) -> list[tuple[str, tuple[PoseAgreement, ...]]]:
        """(robot, its comparisons) of each episode that compared a recorded pose with FK."""
        return [(e.robot_type, e.poses) for e in self.episodes if e.poses]


@dataclass(frozen=True)
class Rejected:
    """A raw episode that could not be staged: where, and the first real cause (a quarantine row's content)."""

    uid: str
    stage: Stage
    error_class: str
    message: str
    file: str | None = None
    field: str | None = None
    part: str = ""  # the tag of the raw episode's part it names (`#keep1`), "" for the whole raw episode
    retried: int = 0  # writes done once more after an encoder fault before this rejection
    fault: Fault = "data"  # "environment": the likelier cause, retried by `--retry-quarantined` (schemas.corpus)

    def __post_init__(self) -> None:  # a library's words name the descriptor a fenced read used: name the file
        object.__setattr__(self, "message", Fence.named(self.message))


@dataclass(frozen=True)
class Deferred:
    """A raw episode that an error of the environment (a full disk, a store that does not answer, a worker killed on
    every attempt) kept from finishing past its retries: never quarantined; the job ends and its next run does it."""

    uid: str
    stage: Stage
    cause: str  # `Class: message` of the first cause of the environment's kind (`schemas.faults`)
    retried: int = 0

    @property
    def frames(self) -> int:
        return 0


EpisodeResult = Staged | Rejected | Deferred
Worker = Callable[[EpisodeTask], EpisodeResult]  # read -> canonicalize -> stage one raw episode (`worker.py`)
