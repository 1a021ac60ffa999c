"""`eidata export ROOT --format gr00t`: a GR00T `meta/modality.json` beside every canonical dataset of a corpus.

The 50-dim canonical `observation.state` / `action` (DESIGN.md section 3) are cut into the per-hand slices LDA /
starVLA configs name: `{hand}_eef_position` (3), `{hand}_eef_rotation` (6, `rotation_6d`), `{hand}_gripper` (1),
`{hand}_fingertips` (15, five tips xyz in the wrist frame), only the parts some episode fills (the union of the lineage
masks; without lineage, info.json's mask). Action wrist slices are deltas (`absolute: false`); gripper command and
fingertips at t+1 are absolute. Cameras get their short name as alias.

GR00T reads language per frame from integer columns indexing `tasks.jsonl`: the task is `task_index` itself
(`annotation.human.action.task_description`); a caption is declared (`annotation.eidata.caption`) only when the dataset
has that per-frame column (lineage captions cannot be read by GR00T: the export counts the episodes it leaves out).
Every slice is checked against the features it names before the file is written atomically and read back. A bucket's
corpus is exported on its scratch under the output's lease, each dataset's new file published as one meta-change
commit record at the clean end (DESIGN.md 3.2); a dry run reads it without the lease.
"""

from __future__ import annotations

import argparse
import logging
from contextlib import closing
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ValidationError

from adapters.storage.faults import reraise_environment
from adapters.storage.urls import StorageError
from ingest.files.atomic import write_text_atomic
from ingest.lerobot.settled import settled_datasets
from ingest.progress import Progress
from ingest.storage.corpus import NotACorpus, open_corpus, read_corpus
from ingest.storage.lease import OutputLeasedError
from jobs.runtime.stage import Failed, Stage, Usage
from schemas.canonical import (
    ACTION,
    ACTION_NAMES,
    CANONICAL_DIM,
    FINGERTIPS_XYZ,
    GRIPPER,
    HANDS,
    STATE,
    STATE_NAMES,
    WRIST_POS,
    WRIST_ROT6D,
    hand_dims,
)
from schemas.corpus import EpisodeLineage
from schemas.dataset_meta import MODALITY_PATH
from schemas.lerobot import EPISODES_PATH, INFO_PATH, InfoJson, load_info, read_jsonl
from schemas.modality import VIDEO_PREFIX, ColumnSpec, ModalityJson, SliceSpec, check_modality
from schemas.storage import StorageOptions

log = logging.getLogger(__name__)

# (key suffix, dims inside one hand's block, rotation type, action value absolute?)
PARTS: tuple[tuple[str, slice, str | None, bool], ...] = (
    ("eef_position", WRIST_POS, None, False),
    ("eef_rotation", WRIST_ROT6D, "rotation_6d", False),
    ("gripper", GRIPPER, None, True),
    ("fingertips", FINGERTIPS_XYZ, None, True),
)
TASK_ANNOTATION = "human.action.task_description"  # GR00T's usual language key, mapped onto `task_index`
CAPTION_ANNOTATION = "eidata.caption"  # column `annotation.eidata.caption`, when a dataset has one
Status = Literal["written", "unchanged", "skipped", "error"]


class ExportError(ValueError):
    """The modality built for a dataset does not fit its features (names the dataset and the slice)."""


class DatasetExport(BaseModel):
    """What the export did for one dataset."""

    dataset: str
    status: Status
    state: list[str] = []
    action: list[str] = []
    video: list[str] = []
    annotation: list[str] = []
    notes: list[str] = []


# -- pure: the modality of one dataset --------------------------------------------------------------------------


def is_canonical(info: InfoJson) -> bool:
    """A dataset with our 50-dim layout (names included): anything else has no meaning for these slices."""
    state, action = info.features.get(STATE), info.features.get(ACTION)
    return (
        state is not None
        and action is not None
        and state.flat_names() == list(STATE_NAMES)
        and action.flat_names() == list(ACTION_NAMES)
    )


def used_dims(info: InfoJson, episode_masks: list[list[int]]) -> np.ndarray:
    """(50,) bool: dims any episode fills (its lineage mask); without lineage, info.json's mask; else all."""
    if episode_masks:
        return np.any(np.asarray(episode_masks, dtype=bool), axis=0)
    mask = (info.features[ACTION].info or {}).get("mask")
    return np.asarray(mask, dtype=bool) if mask is not None else np.ones(CANONICAL_DIM, dtype=bool)


def build_modality(info: InfoJson, used: np.ndarray) -> tuple[ModalityJson, dict[tuple[str, str], list[str]]]:
    """The modality of a canonical dataset and, per (group, key), the canonical names its slice must cover."""
    state: dict[str, SliceSpec] = {}
    action: dict[str, SliceSpec] = {}
    expected: dict[tuple[str, str], list[str]] = {}
    for h, hand in enumerate(HANDS):
        for part, dims, rotation, action_absolute in PARTS:
            sl = hand_dims(h, dims)
            if not used[sl].any():
                continue
            key = f"{hand}_{part}"
            common: dict[str, Any] = {"start": sl.start, "end": sl.stop, "rotation_type": rotation}
            state[key] = SliceSpec(**common, dtype=info.features[STATE].dtype)
            action[key] = SliceSpec(**common, absolute=action_absolute, dtype=info.features[ACTION].dtype)
            expected[("state", key)] = list(STATE_NAMES[sl])
            expected[("action", key)] = list(ACTION_NAMES[sl])
    video = {
        k.removeprefix(VIDEO_PREFIX) if k.startswith(VIDEO_PREFIX) else k.replace(".", "_"): ColumnSpec(original_key=k)
        for k in info.video_keys
    }
    annotation = {TASK_ANNOTATION: ColumnSpec(original_key="task_index")}
    if f"annotation.{CAPTION_ANNOTATION}" in info.features:
        annotation[CAPTION_ANNOTATION] = ColumnSpec()
    return ModalityJson(state=state, action=action, video=video, annotation=annotation), expected


# -- one dataset on disk -----------------------------------------------------------------------------------------


def export_dataset(root: Path, name: str | None = None, *, dry_run: bool = False) -> DatasetExport:
    """Build, check and (unless `dry_run`) atomically write `meta/modality.json` of one dataset."""
    root = Path(root)
    name = name or root.name
    try:
        info = load_info(root / INFO_PATH)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(map(str, err["loc"])) + ": " if err["loc"] else ""
        raise ExportError(f"{root / INFO_PATH}: not a LeRobot info.json ({where}{err['msg']})") from e
    except OSError as e:
        raise ExportError(f"{root / INFO_PATH}: cannot read ({e})") from e
    if not is_canonical(info):
        why = "not a canonical eidata dataset (observation.state / action are not the 50-dim canonical layout)"
        return DatasetExport(dataset=name, status="skipped", notes=[why])
    lines = read_jsonl(root / EPISODES_PATH) if (root / EPISODES_PATH).is_file() else []
    lineages = [EpisodeLineage.of(line) for _, line in lines]
    masks = [lin.mask for lin in lineages if lin.mask is not None]
    modality, expected = build_modality(info, used_dims(info, masks))
    problems = check_modality(modality, info, expected)
    if any(p.severity == "error" for p in problems):
        raise ExportError(f"{root}: modality does not fit the features: " + "; ".join(p.message for p in problems))
    notes = [f"{p.severity}: {p.message}" for p in problems]
    captions = sum(lin.caption_text() is not None for lin in lineages)
    if captions and CAPTION_ANNOTATION not in modality.annotation:
        notes.append(
            f"{captions} captioned episode(s): the caption is in episodes.jsonl lineage only, GR00T reads language "
            f"from a per-frame column (annotation.{CAPTION_ANNOTATION}), so it is not declared"
        )
    if not modality.state:
        notes.append("no state/action part is filled (actionless): video and language only")
    path = root / MODALITY_PATH
    text = modality.dumps()
    status: Status = "unchanged" if path.is_file() and path.read_text(encoding="utf-8") == text else "written"
    if status == "written" and not dry_run:
        write_text_atomic(path, text)
        if ModalityJson.load(path) != modality:  # what GR00T will read is what was checked
            raise ExportError(f"{path}: reads back different from what was written")
    groups = {k: list(getattr(modality, k)) for k in ("state", "action", "video", "annotation")}
    return DatasetExport(dataset=name, status=status, notes=notes, **groups)


# -- a corpus ----------------------------------------------------------------------------------------------------


def export_gr00t(corpus_root: Path, *, dry_run: bool = False, progress: bool | None = None) -> list[DatasetExport]:
    """Every dataset under `ROOT/datasets/`; a dataset that fails its checks is reported, the others go on."""
    corpus_root = Path(corpus_root)
    datasets = settled_datasets(corpus_root)
    out = []
    with closing(Progress(len(datasets), "export gr00t", unit="dataset", enabled=progress)) as bar:
        for ds in datasets:
            rel = ds.relative_to(corpus_root).as_posix()
            try:
                out.append(export_dataset(ds, rel, dry_run=dry_run))
            except (ValueError, OSError) as e:  # ExportError, unreadable meta: name the dataset, keep going
                reraise_environment(e)
                out.append(DatasetExport(dataset=rel, status="error", notes=[str(e)]))
            bar.update(1)
    return out


def export_corpus(
    where: Path | str, options: StorageOptions | None = None, *, dry_run: bool = False, progress: bool | None = None
) -> list[DatasetExport]:
    """`export_gr00t` of the corpus at `where` (a folder, or a bucket URL with `options`, else the AWS environment),
    opened for the export (`open_corpus`: a bucket's leased, its new files published at the clean end), or only read
    for a dry run (`read_corpus`: no lease, nothing written)."""
    if dry_run:
        with read_corpus(where, options, meta=True) as corpus:
            return export_gr00t(corpus.root, dry_run=True, progress=progress)
    with open_corpus(where, options, "export-gr00t", existing=True) as corpus:
        return export_gr00t(corpus.root, progress=progress)


def _summary(results: list[DatasetExport]) -> str:
    lines = []
    for r in results:
        lines.append(f"{r.status:9s} {r.dataset}")
        if r.status in ("written", "unchanged"):
            lines.append(f"          state/action: {', '.join(r.state) or '-'}")
            lines.append(f"          video: {', '.join(r.video) or '-'}; annotation: {', '.join(r.annotation)}")
        lines += [f"          note: {n}" for n in r.notes]
    return "\n".join(lines) + "\ngr00t: " + ", ".join(f"{n} {s}" for s, n in _counts(results).items())


def _root(args: argparse.Namespace) -> str:
    if getattr(args, "out", None):
        raise Usage("eidata export: --format gr00t writes meta/modality.json in place; --out is not used")
    return str(args.root)


def _export(where: str, args: argparse.Namespace) -> list[DatasetExport]:
    # the credential and endpoint from the AWS environment
    results = export_corpus(where, dry_run=bool(getattr(args, "dry_run", False)))
    if not results:
        raise Failed(f"eidata export: no dataset under {where.rstrip('/')}/datasets")
    return results


def _counts(results: list[DatasetExport]) -> dict[str, int]:
    return {s: sum(r.status == s for r in results) for s in ("written", "unchanged", "skipped", "error")}


# Exit 0 when every canonical dataset has a valid modality.json, 1 when one failed, 2 for a bad call
cli = Stage(
    "export",
    _root,
    _export,
    _summary,
    lambda results: bool(_counts(results)["error"]),
    usage_errors=(StorageError, NotACorpus),  # no corpus, no bucket, a refused credential: before any work
    job_errors=(OutputLeasedError,),
)
