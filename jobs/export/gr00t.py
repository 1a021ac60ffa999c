"""`eidata export ROOT --format gr00t [--out DIR]`: a GR00T `meta/modality.json` for every dataset of a corpus, written
beside the dataset (in place, the default) or with a copy of the dataset under DIR (`gr00t_copy.py`); the slices by
action kind, the refusals, the consumer proof and GR00T's timing are in jobs/export/README.md ("GR00T"). Native
slices are read as recorded (`schemas.actions.CONVENTIONS["gr00t"]`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from contextlib import closing
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ValidationError

from adapters.lerobot_format.files import SHARED_INFOS, load_info, load_modality, read_jsonl
from adapters.storage.atomic import atomic_write
from adapters.storage.corpus import Corpus
from ingest.lerobot.settled import settled_datasets
from ingest.progress import Progress
from jobs.catalog.census import described
from jobs.export.gr00t_config import modality_configs
from schemas.actions import ActionKind
from schemas.canonical import (
    ACTION,
    ACTION_NAMES,
    ACTION_NATIVE,
    CANONICAL_DIM,
    FINGERTIPS_XYZ,
    GRIPPER,
    HANDS,
    STATE,
    STATE_NAMES,
    STATE_NATIVE,
    WRIST_POS,
    WRIST_ROT6D,
    hand_dims,
)
from schemas.corpus import LINEAGE_KEY, EpisodeLineage
from schemas.episode_lines import PlanTexts, kept_fields
from schemas.faults import reraise_environment
from schemas.lerobot import EPISODES_PATH, INFO_PATH, MODALITY_PATH, InfoJson
from schemas.modality import VIDEO_PREFIX, ColumnSpec, ModalityJson, SliceSpec, check_modality
from schemas.quirks import Quirk

# (key suffix, dims inside one hand's block, rotation type, action value absolute?)
PARTS: tuple[tuple[str, slice, str | None, bool], ...] = (
    ("eef_position", WRIST_POS, None, False),
    ("eef_rotation", WRIST_ROT6D, "rotation_6d", False),
    ("gripper", GRIPPER, None, True),
    ("fingertips", FINGERTIPS_XYZ, None, True),
)
NATIVE_KEY = "native"  # a robot without a description: `state.native` / `action.native`, each its column whole
NATIVE_COLUMNS = {"state": STATE_NATIVE, "action": ACTION_NATIVE}
TASK_ANNOTATION = "human.action.task_description"  # GR00T's usual language key, mapped onto `task_index`
CAPTION_ANNOTATION = "eidata.caption"  # column `annotation.eidata.caption`, when a dataset has one
# "to write": a dry run's plan; "refused": a dataset that cannot be described (the export exits 1)
Status = Literal["written", "to write", "unchanged", "refused", "error"]
FAILED: tuple[Status, ...] = ("refused", "error")

DESCRIBED_LINEAGE = ("mask", "action_kind", "caption")  # of an episode's lineage, what `describe` reads


class ExportError(ValueError):
    """The modality built for a dataset does not fit its features (names the dataset and the slice)."""


class RefusedError(ExportError):
    """A dataset whose action GR00T cannot be given (names the dataset and why)."""


class DatasetExport(BaseModel):
    """What the export did for one dataset."""

    dataset: str
    status: Status
    kind: ActionKind | None = None
    state: list[str] = []
    action: list[str] = []
    video: list[str] = []
    annotation: list[str] = []
    notes: list[str] = []
    path: str = ""  # the folder GR00T reads (an `--out` copy's)

    @property
    def configs(self) -> str:
        """GR00T's `modality_configs` for this dataset (`gr00t_config.py`)."""
        return modality_configs(self.video, self.state, self.action, self.annotation)


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


def dataset_kind(info: InfoJson, used: np.ndarray, kinds: list[ActionKind | None]) -> ActionKind:
    """The action a dataset gives GR00T: canonical where an episode fills a canonical dim; else native where it keeps
    `action.native` and some episode's command is native (or, ingested before the lineage said, not said to be
    none); else none."""
    if used.any():
        return ActionKind.canonical
    if ACTION_NATIVE in info.features and (not kinds or any(k is not ActionKind.none for k in kinds)):
        return ActionKind.native
    return ActionKind.none


def _video_annotation(info: InfoJson) -> tuple[dict[str, ColumnSpec], dict[str, ColumnSpec]]:
    video = {
        k.removeprefix(VIDEO_PREFIX) if k.startswith(VIDEO_PREFIX) else k.replace(".", "_"): ColumnSpec(original_key=k)
        for k in info.video_keys
    }
    annotation = {TASK_ANNOTATION: ColumnSpec(original_key="task_index")}
    if f"annotation.{CAPTION_ANNOTATION}" in info.features:
        annotation[CAPTION_ANNOTATION] = ColumnSpec()
    return video, annotation


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
    video, annotation = _video_annotation(info)
    return ModalityJson(state=state, action=action, video=video, annotation=annotation), expected


def native_modality(info: InfoJson, where: str) -> tuple[ModalityJson, dict[tuple[str, str], list[str]]]:
    """The modality of a robot without a description: `native` over `observation.state.native` (when kept) and
    `action.native`, each whole, absolute (GR00T pads an absolute chunk past the episode's end with its last row,
    `gr00t/data/dataset.py:733` @ f4e12be), and the names each slice must cover (info.json's). Refused when the
    command is not a 1-D vector with a name per value."""
    groups: dict[str, dict[str, SliceSpec]] = {"state": {}, "action": {}}
    expected: dict[tuple[str, str], list[str]] = {}
    for group, column in NATIVE_COLUMNS.items():
        ft = info.features.get(column)
        if ft is None:
            continue
        names = ft.flat_names()
        if len(ft.shape) != 1 or not names or len(names) != ft.shape[0]:
            shape = list(ft.shape)
            raise RefusedError(f"{where}: {column!r} is {ft.dtype}{shape} with names {names}: not a named vector")
        spec = SliceSpec(start=0, end=len(names), original_key=column, dtype=ft.dtype)
        groups[group][NATIVE_KEY] = spec.model_copy(update={"absolute": True}) if group == "action" else spec
        expected[(group, NATIVE_KEY)] = list(names)
    video, annotation = _video_annotation(info)
    return ModalityJson(**groups, video=video, annotation=annotation), expected


# -- one dataset on disk -----------------------------------------------------------------------------------------


class Described(BaseModel):
    """A dataset's modality, checked against its features, and what the user is told of it."""

    modality: ModalityJson
    kind: ActionKind
    info: InfoJson
    notes: list[str] = []


def describe(root: Path, name: str, lines: PlanTexts | None = None) -> Described:
    """The checked modality of the dataset at `root` (named `name` in messages); RefusedError for a dataset that
    cannot be described, ExportError for one whose modality does not fit its features. `lines`: its episodes'
    lines as the catalog holds them (`planned_lines`), else its episodes.jsonl is read."""
    root = Path(root)
    try:
        info = load_info(root / INFO_PATH, shared=True)  # read only here, and by `gr00t_copy`
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(map(str, err["loc"])) + ": " if err["loc"] else ""
        raise ExportError(f"{root / INFO_PATH}: not a LeRobot info.json ({where}{err['msg']})") from e
    except OSError as e:
        raise ExportError(f"{root / INFO_PATH}: cannot read ({e})") from e
    if not _canonical(info):
        why = "observation.state / action are not the 50-dim canonical layout"
        raise RefusedError(f"{name}: not a canonical eidata dataset ({why}): no GR00T modality can be given")
    lineages = _lineages(root, lines)
    masks = [lin.mask for lin, _ in lineages if lin.mask is not None]
    used = used_dims(info, masks)
    kind = dataset_kind(info, used, [lin.action_kind for lin, _ in lineages])
    notes = []
    modality, problems = _checked(info, used, kind, name)
    if kind is ActionKind.native:
        width = info.features[ACTION_NATIVE].shape[0]
        kept = " and observation.state.native" if modality.state else " (no observation.state.native: no state)"
        notes.append(f"robot without a description: its command action.native ({width} dims){kept}, at 10 Hz")
        still = sum(n for lin, n in lineages if lin.action_kind is ActionKind.none)
        if still:
            notes.append(f"{still} episode(s) whose command never moves (action_kind none) are read as recorded")
    if any(p.severity == "error" for p in problems):
        raise ExportError(f"{root}: modality does not fit the features: " + "; ".join(p.message for p in problems))
    notes += [f"{p.severity}: {p.message}" for p in problems]
    captions = sum(n for lin, n in lineages if lin.caption_text() is not None)
    if captions and CAPTION_ANNOTATION not in modality.annotation:
        notes.append(
            f"{captions} captioned episode(s): the caption is in episodes.jsonl lineage only, GR00T reads language "
            f"from a per-frame column (annotation.{CAPTION_ANNOTATION}), so it is not declared"
        )
    if kind is ActionKind.none:
        notes.append("no command (no canonical dim, no native command): video and language only")
    return Described(modality=modality, kind=kind, info=info, notes=notes)


def _lineages(root: Path, lines: PlanTexts | None) -> list[tuple[EpisodeLineage, int]]:
    """What the description reads of its episodes' lineages (mask, action kind, caption; the rest unvalidated), each
    with how many episodes have it: from `lines` (the catalog's: one per distinct `plan_line` text), else one per
    line of the dataset's episodes.jsonl. What is read of them (any mask's dims, any kind, counts) is the same."""
    cut = lambda line: EpisodeLineage.of(kept_fields(line, (), {LINEAGE_KEY: DESCRIBED_LINEAGE}))  # noqa: E731
    if lines is not None:  # the text's fields are the line's but its uid and index, which are not read here
        return [(cut(shared), n) for shared, n in lines.texts.values()]
    read = (line for _, line in read_jsonl(root / EPISODES_PATH)) if (root / EPISODES_PATH).is_file() else ()
    return [(cut(line), 1) for line in read]


# id of a shared info -> (that info, `is_canonical` of it): its names flattened once (a quarter of `describe`)
_CANONICAL: dict[int, tuple[InfoJson, bool]] = {}


def _canonical(info: InfoJson) -> bool:
    """`is_canonical(info)` of an info read only (`load_info(shared=True)`), asked once per info."""
    if (held := _CANONICAL.get(id(info))) is None:
        if len(_CANONICAL) >= SHARED_INFOS:
            _CANONICAL.clear()
        held = _CANONICAL[id(info)] = (info, is_canonical(info))
    return held[1]


# (id of a shared info, used dims, kind) -> (that info, its checked modality): the info held so its id stays its own
_CHECKED: dict[tuple[int, bytes, ActionKind], tuple[InfoJson, ModalityJson, list[Quirk]]] = {}


def _checked(info: InfoJson, used: np.ndarray, kind: ActionKind, name: str) -> tuple[ModalityJson, list[Quirk]]:
    """The modality of a dataset of `info` whose episodes use `used` with action `kind`, and what `check_modality`
    finds in it: made once per info (`load_info(shared=True)`), dims and kind (a corpus of copies has a few), read
    only. RefusedError naming `name` for a command GR00T cannot be given (not kept)."""
    at = (id(info), used.tobytes(), kind)
    if (held := _CHECKED.get(at)) is None:
        built = native_modality(info, name) if kind is ActionKind.native else build_modality(info, used)
        if len(_CHECKED) >= SHARED_INFOS:
            _CHECKED.clear()
        held = _CHECKED[at] = (info, built[0], check_modality(built[0], info, built[1]))
    return held[1], held[2]


def result_of(name: str, status: Status, described: Described) -> DatasetExport:
    groups = {k: list(getattr(described.modality, k)) for k in ("state", "action", "video", "annotation")}
    return DatasetExport(dataset=name, status=status, kind=described.kind, notes=described.notes, **groups)


def export_dataset(
    root: Path, name: str | None = None, *, dry_run: bool = False, lines: PlanTexts | None = None
) -> DatasetExport:
    """Build, check and (unless `dry_run`) atomically write `meta/modality.json` of one dataset, in place (`lines`:
    as `describe` takes them)."""
    root = Path(root)
    name = name or root.name
    described = describe(root, name, lines)
    path, modality = root / MODALITY_PATH, described.modality
    same = path.is_file() and path.read_text(encoding="utf-8") == modality.dumps()
    status: Status = "unchanged" if same else "to write" if dry_run else "written"  # a dry run's: planned, not done
    if status == "written":
        write_modality(path, modality)
    return result_of(name, status, described)


def write_modality(path: Path, modality: ModalityJson) -> None:
    """`modality` at `path`, atomically, and read back: what GR00T will read is what was checked."""
    atomic_write(path, modality.dumps())
    if load_modality(path) != modality:
        raise ExportError(f"{path}: reads back different from what was written")


# -- a corpus ----------------------------------------------------------------------------------------------------


def for_each_dataset(
    corpus_root: Path,
    what: str,
    export: Callable[[Path, str], DatasetExport],
    progress: bool | None,
    only: Mapping[str, object] | None = None,
) -> list[DatasetExport]:
    """`export(dataset, rel)` of every dataset under `ROOT/datasets/` (those `only` has as keys, if given); one that is
    refused or fails is reported (named, with why), the others go on."""
    corpus_root = Path(corpus_root)
    datasets = settled_datasets(corpus_root)
    if only is not None:
        datasets = [ds for ds in datasets if ds.relative_to(corpus_root).as_posix() in only]
    out = []
    with closing(Progress(len(datasets), what, unit="dataset", enabled=progress)) as bar:
        for ds in datasets:
            rel = ds.relative_to(corpus_root).as_posix()
            try:
                out.append(export(ds, rel))
            except RefusedError as e:
                out.append(DatasetExport(dataset=rel, status="refused", notes=[str(e)]))
            except (ValueError, OSError) as e:  # ExportError, unreadable meta: name the dataset, keep going
                reraise_environment(e)
                out.append(DatasetExport(dataset=rel, status="error", notes=[str(e)]))
            bar.update(1)
    return out


def planned_lines(corpus: Corpus, datasets: Collection[str] | None = None) -> dict[str, PlanTexts]:
    """Every episode of each dataset (of `datasets`, if given) as the catalog of `corpus` holds it (`Corpus.plan_texts`:
    no dataset's episodes.jsonl read, nothing made per episode but its index) for the datasets its census describes
    as they are (`census.described`, as the lda plan asks); every other dataset's lines are read from its meta."""
    return corpus.plan_texts(described(corpus.root, datasets))


def export_gr00t(
    corpus_root: Path,
    *,
    dry_run: bool = False,
    progress: bool | None = None,
    lines: Mapping[str, PlanTexts] | None = None,
) -> list[DatasetExport]:
    """Every dataset under `ROOT/datasets/`, its modality.json written in place (`lines`: `planned_lines`)."""
    lines = lines or {}
    export = lambda ds, rel: export_dataset(ds, rel, dry_run=dry_run, lines=lines.get(rel))  # noqa: E731
    return for_each_dataset(corpus_root, "export gr00t", export, progress)
