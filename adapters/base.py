"""The adapter contract's records (the base class: `adapters.source_adapter`): an episode found (`EpisodeRef`), read
one (`RawEpisode`) in the source's own terms, and the error naming where a read failed (`AdapterError`).

Adapters know source formats and nothing about output. A `RawEpisode` keeps every stream with its own timestamps,
native names, units and frames; cameras are lazy (frames decoded while iterated, never a whole video in memory).
Each adapter also declares in `RawEpisode.hands` which of its streams carry the hands (`HandSignals`): that is the
only source knowledge canonicalization needs. What discovery learns about the source as a whole (declared episodes or
cameras without files, files outside the layout, folders skipped and why) it notes as `SourceFinding`s
(`SourceAdapter.note`, read back by `findings`), and `expects` says what a root of the source holds, for a root that
yields nothing (`schemas.findings`). Canonicalization (resampling, poses, frames, hands) happens later, in
`ingest/canonical/`, and knows no adapter by name.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from adapters.storage.beneath import Fence
from schemas.camera_model import CameraModel
from schemas.canonical import Camera
from schemas.corpus import SourceAnnotation, episode_uid
from schemas.findings import SourceFinding
from schemas.image_size import FrameFit
from schemas.lerobot import ActionSegment
from schemas.mano import ManoConvention
from schemas.robots.joint_space import JointSpaceOptions
from schemas.tiers import QualityTier, TierVerdict


class AdapterError(Exception):
    """A per-episode read failure naming the adapter, file, episode and field. Other episodes go on."""

    def __init__(
        self,
        message: str,
        *,
        adapter: str,
        file: Path | str | None = None,
        episode: str | None = None,
        field: str | None = None,
    ) -> None:
        self.adapter, self.file, self.episode, self.field = adapter, str(file) if file else None, episode, field
        self.reason = message = Fence.named(message)  # a library names the descriptor a fenced read used: the file
        parts = (("file", self.file), ("episode", episode), ("field", repr(field) if field else None))
        where = [f"adapter {adapter}"] + [f"{k} {v}" for k, v in parts if v]
        super().__init__(f"{', '.join(where)}: {message}")

    def locator(self) -> dict[str, Any]:
        """The error as an `EpisodeRef.locator` keeps it, for `SourceAdapter.raise_discovered` to raise at read."""
        return {"error": {"message": self.reason, "file": self.file, "field": self.field}}


@contextmanager
def reraised(
    errors: type[Exception] | tuple[type[Exception], ...], as_error: Callable[[Exception], Exception]
) -> Iterator[None]:
    """An exception of `errors` raised in the block is raised again as `as_error(it)`, caused by it: one `with` where
    a read would repeat `try` / `except` / `raise ... from` around each call."""
    try:
        yield
    except errors as e:
        raise as_error(e) from e


class AdapterOptions(BaseModel):
    """Options every adapter accepts; adapters subclass this for their own (validated before any work). `moved`
    names the options an adapter no longer takes and where they went: one still given is refused at its key with
    that place (a spec error naming the field), never taken for a typo."""

    model_config = ConfigDict(extra="forbid")
    moved: ClassVar[dict[str, str]] = {}
    # options that change what a run costs, never which episodes are written nor what they hold: left out of how a
    # source was read (`schemas.reading`), so turning one does not ask for a re-read
    unread: ClassVar[frozenset[str]] = frozenset()

    subset: str | None = Field(None, description="subset name; defaults to the adapter's reading of the root")
    cameras: list[str] | None = Field(None, description="native camera names to read (default: the adapter's)")
    max_episodes: int | None = Field(None, ge=1, description="stop discovery after this many episodes")

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, data: Any) -> Any:
        gone = [key for key in cls.moved if isinstance(data, dict) and key in data]
        if gone:
            raise ValidationError.from_exception_data(
                cls.__name__,
                [
                    InitErrorDetails(
                        type=PydanticCustomError("moved_option", "{moved}", {"moved": cls.moved[key]}),
                        loc=(key,),
                        input=data[key],
                    )
                    for key in gone
                ],
            )
        return data


class EpisodeRef(BaseModel):
    """A discovered episode: enough to read it later in another process. Sorted by (subset, raw_id)."""

    model_config = ConfigDict(frozen=True)

    adapter: str
    source: str
    subset: str
    raw_id: str = Field(description="stable id derived from the source (file path, episode id, record position)")
    paths: tuple[str, ...] = Field(description="the raw files this episode reads")
    locator: dict[str, Any] = Field(default_factory=dict, description="adapter-specific position (shard, offset)")
    error: str | None = Field(None, description="set when discovery already found this episode unreadable")
    root: str | None = Field(None, description="the source root discovery found it under, every path read beneath it")

    @property
    def uid(self) -> str:
        return episode_uid(self.source, self.subset, self.raw_id)

    @property
    def sort_key(self) -> tuple[tuple[tuple[int, int | str], ...], ...]:
        """Natural order: numbers inside ids compare as numbers (task_98 before task_327)."""
        return (natural_key(self.subset), natural_key(self.raw_id))


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    # (kind, value) pairs keep str and int from ever being compared with each other
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", text) if p)


@dataclass(frozen=True)
class Relative:
    """The components of a stream that are relative: per-step increments (a delta action) whose sum is the motion.
    Resampling accumulates them over each grid step (`ingest.canonical.resample.accumulate`) where an absolute value
    is sampled; `why` is the evidence (the maker's setting the file names, or an option), kept in the lineage."""

    components: tuple[int, ...]  # indices into the flattened per-step vector
    why: str


@dataclass(frozen=True)
class Stream:
    """One native signal: `values[i]` was measured at `timestamps[i]` (seconds from the episode start)."""

    timestamps: np.ndarray  # (T,) float64, non-decreasing
    values: np.ndarray  # (T, ...) in native units
    names: tuple[str, ...] | None = None  # per last-axis component, when the source names them
    unit: str = ""  # e.g. "m", "rad", "quat_xyzw", "se3_4x4", "0..1", "m/s", "joint_rad"
    frame: str | None = None  # coordinate frame of poses, e.g. "robot_base", "arkit_world", "camera"
    relative: Relative | None = None  # components that are deltas, accumulated when resampled (None: all absolute)

    def __post_init__(self) -> None:
        if len(self.timestamps) != len(self.values):
            raise ValueError(f"{len(self.timestamps)} timestamps for {len(self.values)} values")
        width = int(np.prod(self.values.shape[1:])) if self.values.ndim > 1 else 1
        if self.relative is not None and not all(0 <= c < width for c in self.relative.components):
            raise ValueError(f"relative components {self.relative.components} outside the stream's {width}")

    def __len__(self) -> int:
        return len(self.timestamps)


CameraConvention = Literal["opencv", "opengl"]  # a camera pose's axes (`HandSignals.camera_convention`)

# How a wrist rotation stream is given: a quaternion (x, y, z, w), roll/pitch/yaw in radians about the fixed x, y, z
# axes, or whole 4x4 poses (then the track has no separate position stream).
WRIST_ROTATION_UNITS = ("quat_xyzw", "euler_xyz", "se3_4x4")


@dataclass(frozen=True)
class ManoParams:
    """A hand as MANO parameters, evaluated into MANO-21 keypoints by `ingest.canonical` (adapters never run the model):
    `wrist` (T,4,4) global orientation and translation, `pose` in `convention`'s form (`schemas.mano`), `betas` (10,) or
    (T,10); `frame_pose` (T,4,4) the moving frame they were fitted in (HOI4D: each frame's camera), which carries the
    keypoints into `HandSignals.frame` (MANO's `transl` adds the unrotated rest wrist: the wrist alone cannot move)."""

    wrist: Stream
    pose: Stream
    betas: np.ndarray
    model_dir: str  # folder of MANO_LEFT.npz / MANO_RIGHT.npz (an adapter's `mano_model_dir` option)
    convention: ManoConvention = field(default_factory=ManoConvention)
    frame_pose: np.ndarray | None = None


@dataclass
class HandTrack:
    """One hand's native signals, on their own timestamps, in `HandSignals.frame`.

    The wrist is declared, not built: `position` (T,3) m plus `rotation` in one of `WRIST_ROTATION_UNITS` (a position
    alone: a wrist with no orientation, its rotation out of the mask, Aria MPS's first wrist file). `gripper`
    is the opening 0 (closed) .. 1 (open) from the source's unit; `keypoints` are MANO-21 points (T,21,3) in metres,
    or `mano` declares the MANO parameters they are evaluated from (`ingest.canonical` fills `keypoints`); given both,
    the keypoints are the truth and the MANO ones are measured against them (`ingest.canonical.mano.evaluate`)."""

    position: Stream | None = None
    rotation: Stream | None = None
    gripper: Stream | None = None
    keypoints: Stream | None = None
    confidence: Stream | None = None  # (T,) tracking confidence 0..1
    # (T,5,3) thumb..pinky tips in the wrist frame, metres: a robot hand's by its kinematics (no MANO keypoints); a
    # finger the hand lacks is NaN throughout and stays out of the mask
    fingertips: Stream | None = None
    mano: ManoParams | None = None
    gripper_command: Stream | None = None  # the opening 0..1 the action commands, none measured (hand_state)

    def __post_init__(self) -> None:
        if self.rotation is not None and self.rotation.unit not in WRIST_ROTATION_UNITS:
            raise ValueError(f"wrist rotation unit {self.rotation.unit!r} is not one of {WRIST_ROTATION_UNITS}")
        if self.position is None and self.rotation is not None and self.rotation.unit != "se3_4x4":
            raise ValueError(f"a {self.rotation.unit} wrist rotation needs a position stream")

    @property
    def has_wrist(self) -> bool:
        return self.position is not None or (self.rotation is not None and self.rotation.unit == "se3_4x4")


@dataclass
class HandSignals:
    """Which streams of an episode are the hands (0 = left, 1 = right), and how to read them."""

    hands: dict[int, HandTrack] = field(default_factory=dict)
    frame: str = "robot_base"
    apply_offset: bool = True  # poses are at the source's EEF point: move them to the canonical wrist
    recorded_point: tuple[str, str] | None = None  # (tcp | flange | wrist, why) declared; None: eef_offsets by name
    camera: Stream | None = None  # world_from_camera (T,4,4) of a moving camera, for decoupling
    # The axes of `camera`'s poses, as the source's own code uses them: "opencv" looks along +z with x right, y down
    # (EgoDex); "opengl" looks along -z with x right, y up (ARKit's camera API, the default: keeps sources that
    # declare none as they were). Canonicalize takes the wearer's heading from it, stores its trajectory in OpenCV axes.
    camera_convention: CameraConvention = "opengl"
    up_world: np.ndarray | None = None  # the world's up axis, for decoupling
    canonical: tuple[Stream, Stream | None, Stream | None] | None = None  # already canonical: state, action, keypoints
    native_state_keys: list[str] | None = None  # the streams kept as `observation.state.native` (None: every one)
    notes: list[str] = field(default_factory=list)
    # recorded poses of a hand not read as its wrist (an unstated quaternion order, another frame): label -> (hand,
    # (T,4,4) poses), compared with the wrist canonicalization builds (ingest.canonical.eef_agreement), never canonical
    references: dict[str, tuple[int, Stream]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.canonical and not any(
            h.has_wrist
            or h.keypoints is not None
            or h.gripper is not None
            or h.fingertips is not None
            or h.mano is not None
            for h in self.hands.values()
        )


class CameraSource(ABC):
    """A lazily decoded camera. `frames()` streams HxWx3 uint8 RGB; nothing is decoded before iteration."""

    def __init__(
        self,
        name: str,
        canonical: Camera | None,
        timestamps: np.ndarray,
        height: int,
        width: int,
        intrinsics: np.ndarray | None = None,
    ) -> None:
        self.name, self.canonical, self.height, self.width = name, canonical, height, width
        self.timestamps = np.asarray(timestamps, dtype=np.float64)
        self.intrinsics = intrinsics  # 3x3 pinhole matrix when the source has one
        self.camera_model: CameraModel | None = None  # its lens as the source gives it (a fisheye: no `intrinsics`)

    def __len__(self) -> int:
        return len(self.timestamps)

    @abstractmethod
    def frames(self, indices: list[int] | None = None, fit: FrameFit | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (frame number, RGB frame) in increasing order, for `indices` (sorted) or all frames; at the stored
        size `fit` plans (`schemas.image_size`) when given, else native."""


@dataclass(frozen=True)
class Language:
    """An instruction or narration, over [start_s, end_s] of the episode (None = the whole episode)."""

    text: str
    kind: str = "instruction"  # "instruction", "narration", "description", "summary", "subtask", "scene"
    start_s: float | None = None
    end_s: float | None = None


@dataclass(frozen=True)
class RawEpisode:
    """One episode as the source has it, before any canonicalization, which reads it and never changes it (frozen:
    a step that wants another value makes a copy, `dataclasses.replace`). Beside the streams, an adapter may declare,
    typed: `verdicts` on its default `tier`, each with its code (a simulation lowers it; a note says where the default
    came from); `annotation`, the source's own annotation of the episode (`schemas.corpus.SourceAnnotation`);
    `derived`, the streams it computed from others (kept out of the natives: MANO-21 keypoints from tracked joints);
    `joint_space`, a joint-space embodiment's conventions (`schemas.robots.joint_space.JointSpaceOptions`)."""

    ref: EpisodeRef
    robot_type: str | None
    embodiment: str  # a name in the embodiment registry
    # the subset's default, never lowered here: `verdicts` and the judging lower it (`tier_of`); a source's own reason
    # to start below high is a verdict too (`schemas.tiers.source_default`), so a curator overrules it by its code
    tier: QualityTier
    native_fps: float | None  # the source's control / recording rate
    states: dict[str, Stream] = field(default_factory=dict)
    actions: dict[str, Stream] = field(default_factory=dict)
    cameras: dict[str, CameraSource] = field(default_factory=dict)  # native camera name -> source
    camera_poses: dict[str, Stream] = field(default_factory=dict)  # camera name -> world_from_camera 4x4 over time
    signals: dict[str, Stream] = field(default_factory=dict)  # other per-step columns: labels, clocks, other topics
    # the task's per-step outcomes (reward, discount, done or success flag), beside the state (`OUTCOME_NATIVE`)
    outcomes: dict[str, Stream] = field(default_factory=dict)
    language: list[Language] = field(default_factory=list)
    action_config: list[ActionSegment] | None = None
    success: bool | None = None
    verdicts: tuple[TierVerdict, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)  # anything else native worth keeping (lineage)
    hands: HandSignals = field(default_factory=HandSignals)  # filled by the adapter's `read`
    findings: list[SourceFinding] = field(default_factory=list)  # the source findings that concern this episode
    annotation: SourceAnnotation | None = None
    derived: frozenset[str] = frozenset()  # stream keys (states, actions, signals, outcomes)
    joint_space: JointSpaceOptions | None = None
    clock: dict[str, Any] | None = None  # its streams' one clock, chosen by evidence, and offset (lineage `clock`)
    keep_short: str = ""  # why its spans are kept however short (validity's `min_length_frames` 1); "": the spec's

    @property
    def has_action(self) -> bool:
        return bool(self.actions)

    @property
    def duration_s(self) -> float:
        ends = [s.timestamps[-1] for s in (*self.states.values(), *self.actions.values()) if len(s)]
        ends += [c.timestamps[-1] for c in self.cameras.values() if len(c)]
        return float(max(ends)) if ends else 0.0
