"""What an LDA export writes, decided before anything is written: the datasets and episodes it takes (every dataset
of the corpus, or a manifest's episodes: `--manifest` read as every export reads it, `jobs.catalog.manifest_arg`),
each one's layout, and the datasets LDA cannot train on, each with why. One of those refuses the whole export (exit 1,
nothing written): an export with a source missing would train a team on less than it curated, and say so nowhere.
Each episode's line is read from the catalog where its census describes the dataset as it is (`census.described`,
issue 99: no dataset's episodes.jsonl opened), else from the dataset's episodes.jsonl.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from adapters.lerobot_format.files import load_info, read_jsonl
from adapters.storage.corpus import Corpus
from ingest.lerobot.settled import settled_datasets
from jobs.catalog import selection
from jobs.catalog.census import described
from jobs.catalog.rows import episodes_files
from jobs.export.gr00t import is_canonical
from jobs.export.lda.columns import layout_of
from schemas.actions import ActionKind
from schemas.canonical import ACTION, ACTION_NATIVE, CANONICAL_DIM, MAIN_CAMERA_ORDER, STATE_NATIVE
from schemas.corpus import DATASETS_DIR, LINEAGE_KEY, EpisodeLineage
from schemas.episode_lines import kept_fields
from schemas.lda import NATIVE_MAX_WIDTH, NATIVE_TAGS, Layout
from schemas.lerobot import EPISODES_PATH, INFO_PATH, InfoJson
from schemas.modality import VIDEO_PREFIX

LINE_FIELDS = ("episode_index", "length")  # of a DatasetPlan's `episodes.jsonl` line, what the plan and writer read
LINEAGE_FIELDS = {LINEAGE_KEY: ("mask", "action_kind")}


class LdaExportError(ValueError):
    """A dataset that cannot be exported (names the dataset, and the file, episode and field where one is at fault)."""


class Refused(LdaExportError):
    """The export as asked cannot be written whole: every dataset LDA cannot train on, each with why."""

    def __init__(self, refused: list[tuple[str, str]]) -> None:
        self.refused = refused
        lines = "".join(f"\n  {name}: {why}" for name, why in refused)
        super().__init__(f"{len(refused)} dataset(s) LDA cannot train on; nothing written:{lines}")


@dataclass
class DatasetPlan:
    src: Path
    name: str  # its path below ROOT/datasets/, and below --out
    info: InfoJson
    lines: list[dict[str, Any]]  # the episodes.jsonl lines of the episodes written, their `LINE_FIELDS`
    masks: list[np.ndarray]  # per episode, the 50 canonical dims it fills
    layout: Layout
    hands: tuple[int, ...]
    main: str  # the video key of `video.main`
    subset: bool  # a manifest's part of the dataset, not all of it
    native: tuple[int, int] | None = None  # layout native: the widths of its state and command


def missing_files(plan: DatasetPlan) -> list[str]:
    """The episode files (data parquet, each camera's mp4) the export of `plan` reads and its dataset lacks: each one
    fails the dataset when written, so a dry run says so without reading them."""
    rels = episodes_files(plan.info, [int(line["episode_index"]) for line in plan.lines])
    base = f"{plan.src}/"  # a string per file, no Path made (1M episodes' files); the Path's spelling where it fails
    return [str(plan.src / rel) for rel in rels if not os.path.isfile(base + rel) and not (plan.src / rel).is_file()]


def plan_dataset(
    src: Path, name: str, episodes: set[int] | None = None, planned: Mapping[int, dict[str, Any]] | None = None
) -> DatasetPlan | str:
    """The plan of dataset `src` (its episodes in `episodes`, None: all), or why LDA cannot train on it. `planned`:
    its every episode's line as the catalog holds them (`adapters.storage.plan_lines`), else its episodes.jsonl is
    read."""
    info = load_info(src / INFO_PATH)
    if not is_canonical(info):
        return "not a canonical eidata dataset (50-dim state/action)"
    # the manifest's episodes' lines alone, cut to what the plan and the writer read: a plan is held per dataset
    if planned is None:
        read = (line for _, line in read_jsonl(src / EPISODES_PATH, episodes))
    else:  # in the catalog's order, which is episodes.jsonl's (`jobs.catalog.rows.dataset_rows`)
        read = (planned[i] for i in planned if episodes is None or i in episodes)
    lines = [kept_fields(line, LINE_FIELDS, LINEAGE_FIELDS) for line in read]
    if episodes is not None:
        missing = sorted(episodes - {int(line["episode_index"]) for line in lines})
        if missing:
            return f"the manifest names episodes {missing[:5]} that {src / EPISODES_PATH} does not hold: curate again"
        lines = [line for line in lines if int(line["episode_index"]) in episodes]
    info_mask = (info.features[ACTION].info or {}).get("mask")
    masks = [np.asarray(EpisodeLineage.of(line).mask or info_mask or [1] * CANONICAL_DIM, bool) for line in lines]
    used = np.any(masks, axis=0) if masks else np.zeros(CANONICAL_DIM, dtype=bool)
    main = next((f"{VIDEO_PREFIX}{c}" for c in MAIN_CAMERA_ORDER if f"{VIDEO_PREFIX}{c}" in info.video_keys), None)
    if main is None:
        return f"no camera among {list(MAIN_CAMERA_ORDER)}: LDA reads images"
    found = layout_of(info.robot_type or "", used)
    if found is not None:
        return DatasetPlan(src, name, info, lines, masks, *found, main, episodes is not None)
    kinds = sorted({str(EpisodeLineage.of(line).action_kind or "unknown") for line in lines})
    if kinds != [ActionKind.native]:
        return f"no wrist pose in use and not every episode's action its native command (action kind {kinds})"
    widths = []
    for key in (STATE_NATIVE, ACTION_NATIVE):
        ft = info.features.get(key)
        if ft is None or len(ft.shape) != 1 or not 0 < ft.shape[0] <= NATIVE_MAX_WIDTH:
            shape = None if ft is None else list(ft.shape)
            return f"{key} {shape}: LDA takes a robot without a wrist pose as its {key}, 1 to {NATIVE_MAX_WIDTH} values"
        widths.append(int(ft.shape[0]))
    return DatasetPlan(src, name, info, lines, masks, "native", (), main, episodes is not None, (widths[0], widths[1]))


def plan_export(root: Path, manifest: str | None = None) -> list[DatasetPlan]:
    """Every dataset's plan (a manifest's: its episodes only), or `Refused` naming each dataset LDA cannot take."""
    if manifest is None:
        selected: dict[Path, set[int] | None] = dict.fromkeys(settled_datasets(root))
    else:
        try:  # read as every command reads a manifest
            selected = {root / ds: set(v) for ds, v in selection.manifest_episodes(root, manifest).items()}
        except selection.SelectionError as e:
            raise LdaExportError(str(e)) from None
        if not selected:
            raise LdaExportError(f"--manifest {manifest}: the manifest has no episodes")
    plans, refused = [], []
    # every line of the datasets the catalog describes (`census`), cut to `episodes` below; the others' meta is read
    rels = {src: src.relative_to(root).as_posix() if src.is_relative_to(root) else str(src) for src in selected}
    planned = Corpus(root).plan_lines(dict.fromkeys(described(root, rels.values())))
    for src, episodes in selected.items():
        name = src.relative_to(root / DATASETS_DIR).as_posix() if src.is_relative_to(root / DATASETS_DIR) else str(src)
        if not (src / INFO_PATH).is_file():
            refused.append((name, f"not in the corpus ({src / INFO_PATH} missing): curate again"))
            continue
        found = plan_dataset(src, name, episodes, planned.get(rels[src]))
        if isinstance(found, str):
            refused.append((name, found))
        else:
            plans.append(found)
    widths = list(dict.fromkeys(p.native for p in plans if p.native))
    for p in plans:
        if p.native and widths.index(p.native) >= len(NATIVE_TAGS):
            why = f"one more native width than LDA tags to give ({len(NATIVE_TAGS)}: one modality.json per tag)"
            refused.append((p.name, f"{why}; export it in another mixture"))
    if refused:
        raise Refused(refused)
    return plans
