"""The episode records of the steps (`ingest.steps`): the canonical episode as canonicalization hands it over
(arrays on the grid, `Natives` beside them, cameras still lazy: `ResampledCamera`, which source frame each grid frame
shows at which stored size, and the `Evidence` the judging decides on), and the `JudgedEpisode` the judging makes of
it (its verdicts and QA records), each frozen, the later one a canonical episode plus what its step set; with what
each step kept and rejected of one raw episode (`Kept`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Generic, TypeVar

import numpy as np

from adapters.base import CameraSource
from schemas.actions import ActionKind, action_kind
from schemas.behaviour import BehaviourConfig
from schemas.behaviour_record import BehaviourRecord
from schemas.camera_model import CameraModel
from schemas.canonicalize import KinematicLimits, Workspace
from schemas.corpus import SourceAnnotation, Stage
from schemas.image_size import FrameFit
from schemas.lerobot import ActionSegment
from schemas.qa import IdleCut, QAConfig, QARecord, ValidityReport
from schemas.robots.joint_space import JointUnitsRecord
from schemas.tiers import QualityTier, TierVerdict, reasons_of, tier_of

PIPELINE_VERSION = "eidata-canon-1"  # the lineage's `pipeline_version` of every episode canonicalization makes


@dataclass
class ResampledCamera:
    """A camera on the canonical grid: grid frame k shows source frame `indices[k]` (repeats when up-sampling), at
    the stored size `fit` plans (None: native). Only the frames the grid shows are converted and resized."""

    source: CameraSource
    indices: np.ndarray
    fit: FrameFit | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.fit.out_hw if self.fit is not None else (self.source.height, self.source.width)

    @property
    def intrinsics(self) -> np.ndarray | None:
        """The source's 3x3 pinhole matrix, in pixels of the frames this camera yields (`shape`), or None."""
        K = self.source.intrinsics
        if K is None:
            return None
        return self.fit.intrinsics(K) if self.fit is not None else np.asarray(K, dtype=np.float64)

    @property
    def camera_model(self) -> CameraModel | None:
        """The source's lens model (`schemas.camera_model`) in pixels of the frames this camera yields, or None."""
        lens = self.source.camera_model
        if lens is None or self.fit is None:
            return lens
        return lens.with_K(self.fit.intrinsics(lens.resized((self.source.height, self.source.width)).K()), self.shape)

    def frames(self) -> Iterator[np.ndarray]:
        wanted = sorted(set(int(i) for i in self.indices))
        it = self.source.frames(wanted, self.fit) if self.fit is not None else self.source.frames(wanted)
        current_idx, current = -1, None
        for target in self.indices:
            while current_idx < target:
                current_idx, current = next(it)
            yield current


@dataclass(frozen=True)
class CameraChecks:
    """What the writer needs to measure an episode's cameras on the frames it encodes (`ingest.qa.phase`):
    the behaviour thresholds and the workspace that says when the robot moves."""

    config: BehaviourConfig
    workspace: Workspace | None = None


@dataclass(frozen=True)
class QuarantinedPart:
    """A part of a span that a behaviour finding quarantined while other parts of it were kept: its own quarantine
    row (`jobs.ingest.worker`), `tag` the part's suffix of the raw episode's uid."""

    tag: str
    message: str


@dataclass(frozen=True)
class PosedCamera:
    """The camera a moving-camera episode's trajectory poses, as stored (`ingest.canonical.posed`): its lens in pixels
    of its stored frames (any `schemas.camera_model`), the (N, 9) trajectory (position + 6D rotation, OpenCV axes) of
    the episode's frames, and the fraction of the raw episode's hand samples that lie outside its video (None: no hand
    sample)."""

    lens: CameraModel
    trajectory: np.ndarray
    hands_past_video: float | None = None


@dataclass(frozen=True)
class Evidence:
    """What canonicalization measured of one episode that the judging step decides its tier on (`ingest.qa.judge`):
    its span's validity report, the idle ends cut from it, where it lies in its span (a behaviour finding that
    quarantines one part is named in the others' reasons), the kinematic limits and hand slots its geometry is
    measured against, and the camera its trajectory poses."""

    validity: ValidityReport
    idle: IdleCut
    span: tuple[float, float, str]  # the span's start and end (s, the source's clock) and its uid suffix
    part: tuple[int, int]  # frames [a, b) of the span this episode was cut from, before its idle ends were cut
    tag: str  # the part's suffix of the raw episode's uid (`#span<k>`, `#keep<j>`), "" for a whole raw episode
    limits: KinematicLimits
    keypoint_slots: np.ndarray | None  # None: human hands (every slot)
    camera: PosedCamera | None = None


@dataclass(frozen=True)
class Natives:
    """The source's own columns on the grid beside the canonical ones (`ingest.canonical.natives.grid_natives`): its
    state (and other signals), its actions and its per-step outcomes (a reward, a done flag), each (N, D) float32 or
    None, with its column names and, beside it, its (N, D) 0/1 validity: 1 where its stream has a sample at the frame
    (`natives.native_valid`)."""

    state: np.ndarray | None = None
    state_names: list[str] = field(default_factory=list)
    action: np.ndarray | None = None
    action_names: list[str] = field(default_factory=list)
    state_units: list[str] = field(default_factory=list)  # per state column, its stream's unit ("" unknown)
    state_valid: np.ndarray | None = None
    action_valid: np.ndarray | None = None
    outcome: np.ndarray | None = None  # `schemas.canonical.OUTCOME_NATIVE`
    outcome_names: list[str] = field(default_factory=list)
    outcome_valid: np.ndarray | None = None
    discrete: dict[str, str] = field(default_factory=dict)  # columns sampled at a row, and why (`native_kinds`)
    accumulated: dict[str, str] = field(default_factory=dict)  # delta columns summed per frame, and why

    def frames(self, a: int, b: int) -> Natives:
        """Frames [a, b) of every column."""

        def cut(x: np.ndarray | None) -> np.ndarray | None:
            return None if x is None else x[a:b]

        return replace(
            self,
            state=cut(self.state),
            action=cut(self.action),
            outcome=cut(self.outcome),
            state_valid=cut(self.state_valid),
            action_valid=cut(self.action_valid),
            outcome_valid=cut(self.outcome_valid),
        )


@dataclass(frozen=True)
class CanonicalEpisode:
    """One canonical episode as canonicalization made it, frozen: arrays on the grid, natives beside them, the notes
    of how it was made (`verdicts`) and what the judging step decides on (`evidence`); measured, not judged. The
    judging step's answer is a `JudgedEpisode`, a new record, so each step's answer is what it was when it gave it."""

    uid: str
    source: str
    subset: str
    raw_id: str
    raw_path: str
    embodiment: str
    mask: np.ndarray  # (50,) bool: dims that carry real values
    timestamps: np.ndarray  # (N,) = frame_index / fps
    state: np.ndarray  # (N, 50) float32
    action: np.ndarray  # (N, 50) float32
    keypoints: np.ndarray  # (N, 2, 21, 3) float32
    interpolated: np.ndarray  # (N,) bool
    cameras: dict[str, ResampledCamera]
    task: str
    verdicts: tuple[TierVerdict, ...]  # every reason its tier is what it is, in order: its tier is `tier_of` them
    native_fps: float | None
    success: bool | None
    evidence: Evidence  # what canonicalization measured for the judging step (`ingest.qa.judge`)
    # (N, 2) bool: each hand tracked at the frame (`schemas.canonical.HAND_VALID`). Where a hand is not, `state` holds
    # its last tracked values for the QA's motion measures (`hand_state.untracked_held`) and `action`, `keypoints`
    # hold 0; the writer writes 0 in all three.
    hand_valid: np.ndarray
    natives: Natives = field(default_factory=Natives)  # the source's own columns beside the canonical
    action_config: list[ActionSegment] | None = None
    span_s: tuple[float, float] = (0.0, 0.0)  # where this episode lies in the raw episode's clock
    validity: dict[str, int] = field(default_factory=dict)  # frames of its span each check flagged (`ValidityReport`)
    joint_units: JointUnitsRecord | None = None  # the unit its arm joints were read in (`ingest.canonical.joint_units`)
    native_limits: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # native arm joint -> its limits
    annotation: SourceAnnotation | None = None  # the source's own annotation of the raw episode (its adapter's)
    source_findings: list[str] = field(default_factory=list)  # what its source could not give that concerns it
    notes: list[str] = field(default_factory=list)  # how its hands were built (`HandSignals.notes`)
    eef_offset: str = ""  # which EEF offset moved the source's poses to the canonical wrist, or why none
    row_clock: str | None = None  # set when each frame took its image and state from one row (`span._grid`)
    native_windows: dict[str, list[float]] = field(default_factory=dict)  # streams present in part (`span`)
    clock: dict[str, Any] | None = None  # the recording's clock, chosen by its adapter (`RawEpisode.clock`)

    @property
    def tier(self) -> QualityTier:
        """Computed, never assigned: high lowered by the verdicts (`schemas.tiers.tier_of`); a source's default below
        high is one of them (`schemas.tiers.source_default`), so a curator overrules it by its code."""
        return tier_of(QualityTier.high, self.verdicts)

    @property
    def tier_reasons(self) -> list[str]:
        return reasons_of(self.verdicts)

    @property
    def raw_uid(self) -> str:
        """The raw episode this one was cut from (uids of cut spans carry a `#span`/`#keep` suffix)."""
        return self.uid.split("#", 1)[0]

    @property
    def num_frames(self) -> int:
        return len(self.timestamps)

    @property
    def action_kind(self) -> ActionKind:
        """canonical (the mask fills a dim), native (none does, but its native command moves: a robot without a
        description, whose command is then its action) or none (`schemas.actions`)."""
        return action_kind(self.mask, self.natives.action, self.natives.action_valid)

    @property
    def has_action(self) -> bool:
        return self.action_kind is not ActionKind.none

    @property
    def has_hands(self) -> bool:
        return bool(np.any(self.keypoints))


@dataclass(frozen=True, kw_only=True)
class JudgedEpisode(CanonicalEpisode):
    """A canonical episode judged (`ingest.qa.judge`): its verdicts extended (hence its tier), the geometry QA of its
    arrays with the thresholds it was judged with, its behaviour record (the cameras merged in once the write
    measured them) with the checks the writer's frames are measured by, and the other parts of its span a behaviour
    finding quarantined. Each is set by the judging, so none is optional."""

    qa: QARecord  # geometry QA of this episode's arrays (`ingest.qa.geometry.measure`)
    qa_config: QAConfig  # the geometry thresholds its dataset is judged with (to the lineage)
    behaviour: BehaviourRecord  # behaviour QA (`ingest.qa.phase`); cameras added while written
    camera_checks: CameraChecks  # what the writer's frames are measured by (`ingest.qa.phase.assess_cameras`)
    quarantined_parts: tuple[QuarantinedPart, ...] = ()  # the other parts of its span a behaviour finding rejected

    @classmethod
    def of(
        cls,
        ep: CanonicalEpisode,
        *,
        qa: QARecord,
        qa_config: QAConfig,
        behaviour: BehaviourRecord,
        camera_checks: CameraChecks,
    ) -> JudgedEpisode:
        """`ep` judged: its fields as they are (its verdicts the judging's too) and what the judging set."""
        made = {f.name: getattr(ep, f.name) for f in fields(CanonicalEpisode)}
        return cls(**made, qa=qa, qa_config=qa_config, behaviour=behaviour, camera_checks=camera_checks)


NOTHING_KEPT = "no span of the episode survived validity"


@dataclass(frozen=True)
class SpanRejection:
    """A span validity rejected as a whole (or the parts gaps left too short), and why; `tag` the part's suffix of
    the raw episode's uid when other spans of it are kept."""

    start_s: float
    end_s: float
    reason: str
    tag: str = ""
    stage: Stage = "canonicalize"  # the step that rejected it: "judge" when a finding quarantined its every part

    @property
    def note(self) -> str:
        return f"span [{self.start_s:.2f}, {self.end_s:.2f}] s rejected: {self.reason}"


E = TypeVar("E", bound=CanonicalEpisode)


@dataclass(frozen=True)
class Kept(Generic[E]):
    """What a step kept of one raw episode: its episodes, the spans rejected (validity's, gaps', the judge's), and the
    tier reasons every episode carries (the raw episode's, then canonicalization's own)."""

    episodes: tuple[E, ...]
    rejections: tuple[SpanRejection, ...]
    reasons: tuple[str, ...]

    def rejection_message(self) -> str:
        """Why nothing was kept: every reason recorded, the rejected spans' last."""
        return "; ".join([*self.reasons, *(r.note for r in self.rejections)]) or NOTHING_KEPT


@dataclass(frozen=True)
class Canonicalized(Kept[CanonicalEpisode]):
    """The canonicalize step's answer: episodes on the grid with notes and `evidence`, measured, not judged."""


@dataclass(frozen=True)
class Judged(Kept[JudgedEpisode]):
    """The judge step's answer: each kept episode with its verdicts (hence its tier), QA records and the parts of its
    span a finding quarantined; a span with no part left is one of `rejections`."""
