"""The corpus on disk (DESIGN.md section 6): its folders, the episode uid, the lineage record, the quarantine row.

    CORPUS/datasets/<source>/<subset>/      one LeRobot v2.1 dataset per source/subset (the source of truth)
    CORPUS/catalog/episodes/*.parquet       the catalog, rebuilt from the datasets' meta
    CORPUS/catalog/quarantine/*.parquet     episodes that were never written, one `QuarantineRow` each
    CORPUS/manifests/<name>/                curated training manifests
    CORPUS/job/                             the running job's lock and spec

Every `meta/episodes.jsonl` line we write carries, beside lerobot's own keys, the episode's lineage under
`LINEAGE_KEY`: an `EpisodeLineage`. Datasets written by other tools have none (or only a caption), so every field
is optional when read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.actions import ActionKind
from schemas.arrow import arrow_schema
from schemas.behaviour import BehaviourConfig
from schemas.behaviour_record import BehaviourRecord
from schemas.canonical import ACTION
from schemas.frozen import Frozen
from schemas.lerobot import InfoJson
from schemas.qa import QAConfig, QARecord
from schemas.tiers import QualityTier, TierVerdict, notes_of, reasons_of, said_once, tier_of
from schemas.verdicts import STEP, CorpusVerdicts

DATASETS_DIR = "datasets"
EPISODES_DIR = "catalog/episodes"
QUARANTINE_DIR = "catalog/quarantine"
MANIFESTS_DIR = "manifests"
JOB_DIR = "job"
FINISHED = f"{JOB_DIR}/ingest.finished"  # present while the last ingest that started work ran to its end

LINEAGE_KEY = "eidata"  # the key of an episode's lineage in its `episodes.jsonl` line
NO_LINEAGE = "no eidata lineage"  # tier reason of an episode written by another tool
EXTERNAL_PIPELINE = "external"  # pipeline_version of datasets written by other tools


def episode_uid(source: str, subset: str, raw_id: str) -> str:
    """The stable id of an episode across reruns and corpora: `source/subset/raw id` (cut spans add `#...`)."""
    return f"{source}/{subset}/{raw_id}"


def dataset_dir(source: str, subset: str) -> str:
    """Where the episodes of one source/subset are written, relative to the corpus root."""
    return f"{DATASETS_DIR}/{source}/{subset}"


_NOT_PLAIN = ("//", "/./", "/../")


def relative_posix(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> str:
    """`Path(path).relative_to(folder).as_posix()`, without the `Path`s where `path`'s string starts with `folder/`:
    a dataset's name in its corpus (issue 99). `Path.relative_to` parses both paths into parts: 30k datasets named
    this way two or three times over were 2-3 CPU-s of every command at 1M episodes. A path whose string is the
    folder's, a slash and plain names (no empty, `.` or `..` part, no trailing slash: what `Path` would normalize) is
    cut by its string; any other is left to `relative_to`, with its `ValueError` for a path outside the folder."""
    text, base = os.fspath(path), os.fspath(folder)
    plain = not any(part in text for part in _NOT_PLAIN) and not text.endswith(("/", "/.", "/.."))
    if plain and base not in ("", ".") and text.startswith(f"{base}/"):
        return text[len(base) + 1 :]
    return Path(path).relative_to(folder).as_posix()


class SourceAnnotation(Frozen):
    """A source's own annotation of one episode, as its adapter read it (`RawEpisode.annotation`): canonicalization
    carries it to the episode's lineage (`EpisodeLineage.source_annotation`) untouched. Each adapter with one
    subclasses this with its fields (`kind` first, then the subclass's, in that order in the lineage)."""

    kind: str = Field(description="which annotation it is, e.g. `ego4d_goalstep`")


class EpisodeLineage(BaseModel):
    """Where an episode came from and what ingest decided about it: `episodes.jsonl` -> `"eidata": {...}`.

    Dumped with `exclude_unset`, so a record read from disk and written back keeps exactly the keys it had."""

    model_config = ConfigDict(extra="allow")

    episode_uid: str | None = Field(None, description="`episode_uid(source, subset, raw_id)` of this episode")
    raw_uid: str | None = Field(None, description="the raw episode it was cut from (the uid without `#...`)")
    source: str | None = Field(None, description="the job's source name")
    subset: str | None = None
    raw_id: str | None = Field(None, description="the adapter's stable id inside the subset")
    raw_path: str | None = Field(None, description="the first raw file or folder it was read from")
    raw_fps: int | float | None = Field(None, description="the source's native rate (Hz)")
    span_s: list[float] | None = Field(None, description="[start, end] of this episode in the raw episode's clock")
    embodiment: str | None = None
    tier: QualityTier | None = Field(
        None, description="`tier_of(default_tier, tier_verdicts)`, kept for readers that do not compute it"
    )
    default_tier: QualityTier | None = Field(
        None,
        description="the tier its verdicts lower: its source's default (the adapter's or the job spec's) before issue "
        "77, high since (a default below high is a verdict, `source_default`); unset before issue 69",
    )
    tier_verdicts: list[TierVerdict] | None = Field(
        None,
        description="every verdict on its tier, kept as given (code, tier, sentence, figures, step): its tier is "
        "`tier_of` them; unset before issue 69 (`kept_verdicts` derives them from tier_reasons then)",
    )
    tier_reasons: list[str] | None = Field(
        None, description="why its tier is what it is: every verdict's sentence, with its figures, notes included"
    )
    tier_notes: list[str] | None = Field(
        None,
        description="those of tier_reasons that are notes (verdicts of tier high: a unit read, a cut), which lower "
        "nothing; unset before issue 59 and where there is none",
    )
    success: bool | None = None
    mask: list[int] | None = Field(None, description="1 for each of the 50 canonical dims that holds real data")
    action_kind: ActionKind | None = Field(
        None,
        description="which action it has: canonical (the mask fills a dim), native (no canonical dim; its native "
        "command `action.native` moves and is its action) or none (`schemas.actions`); unset before issue 55",
    )
    interpolated_frames: int | None = None
    validity: dict[str, Any] | None = Field(None, description="frames dropped or flagged, per reason")
    source_findings: list[str] | None = Field(
        None, description="what its source could not give that concerns it (`schemas.findings`), one line each"
    )
    native_discrete: dict[str, str] | None = Field(
        None, description="native columns sampled at a row, never blended, and why (`ingest.canonical.natives`)"
    )
    native_accumulated: dict[str, str] | None = Field(
        None,
        description="native delta columns accumulated over each 0.1 s (their sum kept), and the evidence they are "
        "deltas: the maker's setting the file names, or an option (`ingest.canonical.natives`)",
    )
    row_clock: str | None = Field(
        None, description="set when each frame took its image and state from one source row (a wall-clock recorder)"
    )
    hand_notes: list[str] | None = Field(
        None,
        description="how its hands were built (`HandSignals.notes`): a hand absent and why, MANO keypoints measured "
        "against the source's own, why a source keeps short episodes",
    )
    camera_size_split: str | None = Field(
        None, description="set when its camera sizes put it in a dataset of its own size (`ingest.lerobot.routing`)"
    )
    signature_split: str | None = Field(
        None, description="set when its features (natives, widths, cameras) put it in a dataset of its signature"
    )
    reading: str | None = Field(
        None,
        description="the fingerprint of how its source was read (`schemas.reading`: adapter, options, settings, code); "
        "the corpus's job/readings.jsonl holds the reading it names; unset before issue 98",
    )
    native_windows: dict[str, list[float]] | None = Field(
        None,
        description="native streams present in only part of it: stream -> [first, last] s of this episode where it "
        "has data; its columns elsewhere hold the nearest value (`ingest.canonical.span`)",
    )
    clock: dict[str, Any] | None = Field(
        None, description="the one clock its recording's streams were put on, chosen by evidence, and the offset found"
    )
    camera_models: dict[str, dict[str, Any]] | None = Field(
        None,
        description="camera feature -> its lens model as the source gave it (`schemas.camera_model`: pinhole or "
        "kannala_brandt with k1..k4, native pixels); the stored video's are in its feature info `camera.model`",
    )
    pipeline_version: str | None = None
    source_annotation: dict[str, Any] | None = Field(
        None, description="the source's own annotation of the episode, as the adapter read it (an Ego4D Goal-Step goal)"
    )
    qa: QARecord | None = Field(None, description="geometry QA (`ingest.qa.geometry`), measured fields only")
    behaviour: BehaviourRecord | None = Field(None, description="behaviour QA (`ingest.qa`), measured fields only")
    caption: dict[str, Any] | str | None = Field(
        None, description="a `schemas.captions.CaptionRecord` (ours) or a bare string (another tool's)"
    )
    qa_config: QAConfig | None = Field(
        None, description="the geometry QA thresholds its dataset is judged with (its job's, as they were at ingest)"
    )
    behaviour_config: BehaviourConfig | None = Field(
        None, description="the behaviour QA thresholds ingest judged this episode with (its job's, as they were)"
    )
    verdicts: CorpusVerdicts | None = Field(
        None, description="the corpus-level verdicts (`eidata verdicts`): set only on an episode they judged"
    )

    @classmethod
    def of(cls, line: Mapping[str, Any]) -> EpisodeLineage:
        """The lineage of one `episodes.jsonl` line (or an `EpisodeEntry`'s extras); empty when it has none."""
        return cls.model_validate(line.get(LINEAGE_KEY) or {})

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)

    def kept_verdicts(self) -> tuple[QualityTier, list[TierVerdict]]:
        """(its default tier, its verdicts): as kept, or for a lineage written before they were kept (issue 69) as
        its tier and sentences say (`derived_verdicts`). ValueError for a lineage without a tier (another tool's)."""
        if self.tier_verdicts is not None:
            return QualityTier(self.default_tier or QualityTier.high), list(self.tier_verdicts)
        if self.tier is None:
            raise ValueError(f"episode {self.episode_uid}: its lineage has no tier, so no verdict to read")
        return derived_verdicts(self)

    def caption_text(self) -> str | None:
        cap = self.caption
        if isinstance(cap, dict):  # {"text": ..., "model": ...} from a captioning job
            cap = cap.get("text")
        return cap if isinstance(cap, str) and cap.strip() else None

    def action_kind_in(self, info: InfoJson) -> ActionKind:
        """The one reading of an episode's action kind (`schemas.actions.ActionKind`; the catalog and the trainer
        call it): its `action_kind`, set by ingest; for an episode ingested before it was recorded, or another tool's,
        canonical where its mask (its own, else info.json's `features.action.info.mask`) fills a dim, a foreign
        dataset's action vector without a mask its own (native: real unless said otherwise), else none."""
        if self.action_kind is not None:
            return self.action_kind
        mask = self.mask
        if mask is None:
            ft = info.features.get(ACTION)
            if ft is None:
                return ActionKind.none
            mask = (ft.info or {}).get("mask")
            if mask is None:
                return ActionKind.native
        return ActionKind.canonical if any(mask) else ActionKind.none


def tier_fields(default: QualityTier, verdicts: Iterable[TierVerdict]) -> dict[str, Any]:
    """The lineage's tier keys of an episode with this default and these verdicts, each computed from them: the
    verdicts kept (`said_once`), its tier (`tier_of`), its sentences (`tier_reasons`, notes included) and notes
    (`tier_notes`)."""
    kept = said_once(verdicts)  # each sentence once, the reason that set the tier first
    notes = notes_of(kept)
    return {
        "tier": tier_of(default, kept),
        "default_tier": QualityTier(default),
        "tier_verdicts": kept,
        "tier_reasons": reasons_of(kept),
        **({"tier_notes": notes} if notes else {}),
    }


_FINDING_CODE = re.compile(r"(qa_[a-z0-9_]+): ")  # `schemas.qa.Finding.reason`: the code leads its sentence


def derived_verdicts(lin: EpisodeLineage) -> tuple[QualityTier, list[TierVerdict]]:
    """(default tier, verdicts) of a lineage written before verdicts were kept (issue 69), from what it kept: each
    of ingest's sentences a verdict (a note where `tier_notes` lists it, or its tier high and notes not yet told
    apart; else of its ingest tier, the code a finding's sentence leads with), then the verdict step's findings
    (`CorpusVerdicts.found`). The default is the ingest tier where no sentence lowered it, else high: either way
    `tier_of` them gives the tier it stored."""
    step = lin.verdicts
    before = step is not None and step.tier_before is not None
    ingest = QualityTier(step.tier_before if before else lin.tier or QualityTier.high)  # type: ignore[union-attr]
    said = list((step.reasons_before or []) if before else lin.tier_reasons or [])  # type: ignore[union-attr]
    noted = said if lin.tier_notes is None and ingest is QualityTier.high else list(lin.tier_notes or [])
    kept: list[TierVerdict] = []
    for r in said:
        code = m.group(1) if (m := _FINDING_CODE.match(r)) else ""
        kept.append(TierVerdict(tier=QualityTier.high if r in noted else ingest, reason=r, code=code))
    lowered = any(v.tier is not QualityTier.high for v in kept)
    kept += [f.verdict(STEP) for f in (step.found if step is not None else [])]
    return (QualityTier.high if lowered else ingest), kept


# "worker": the Ray task itself died past its retries (out of memory, a killed worker), whatever step it was in
Stage = Literal["discover", "read", "canonicalize", "judge", "write", "worker"]
# whose fault a quarantine is: the data's (a rerun skips the episode) or the environment's, where the environment is
# the likelier cause and cannot be told apart (a task past its deadline on every attempt: a stalled encoder on a loaded
# machine; a worker killed on each attempt in two runs in a row), so that `eidata ingest --retry-quarantined` tries it
# again. An error known to be the environment's (a full
# disk, a store down) is never quarantined: it ends the job (`jobs.runtime.retry`).
Fault = Literal["data", "environment"]


class QuarantineRow(BaseModel):
    """One rejected episode (or raw item that never became one) in `catalog/quarantine/*.parquet`."""

    model_config = ConfigDict(extra="forbid")

    episode_uid: str | None = Field(None, description="source/subset/raw id when known (not for discover errors)")
    source: str = Field(description="the source name, as in the catalog")
    subset: str | None = Field(None, description="the subset name when known")
    adapter: str = Field(description="registry name of the adapter that read it")
    raw_path: str = Field(description="the raw file or folder it came from")
    stage: Stage = Field(description="the pipeline step that rejected it")
    error_class: str = Field(description="exception class name, e.g. CorruptVideoError")
    message: str = Field(description="the error message, with the specific reason")
    file: str | None = Field(None, description="the offending file inside the raw episode, when known")
    field: str | None = Field(None, description="the offending field or stream, when known")
    quarantined_at: datetime = Field(description="when the run that rejected it wrote this row (UTC)")
    # null in parts written before issue 38 (`jobs.ingest.resume.LEGACY_ENVIRONMENT`)
    fault: Fault = Field("data", description="data: the episode's own; environment: `--retry-quarantined` retries it")
    # null in parts written before issue 98
    reading: str | None = Field(
        None, description="the fingerprint of how its source was read when it was rejected (`schemas.reading`)"
    )


QUARANTINE_SCHEMA = arrow_schema(QuarantineRow)
