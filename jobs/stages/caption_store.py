"""Captions in a dataset's meta: which episodes need one, and what to record (`schemas.captions` has the contract).

This module chooses; the dataset's writer writes, in one journaled meta update (`ingest.lerobot.writer`), so a
run killed at any point leaves the dataset as before or, on the next open, as after; lines of episodes not captioned
keep their bytes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from adapters.lerobot_format.files import load_info, read_jsonl
from ingest.lerobot.errors import DatasetError, WriterLockedError
from ingest.lerobot.writer import LeRobotWriter, MetaUpdate
from schemas.canonical import main_video_key
from schemas.captions import CaptionKind, CaptionRecord
from schemas.corpus import LINEAGE_KEY, EpisodeLineage
from schemas.lerobot import EPISODES_PATH, INFO_PATH

log = logging.getLogger(__name__)


class CaptionStoreError(RuntimeError):
    """A dataset's meta cannot take the captions (locked too long, or its meta disagrees with itself)."""


@dataclass(frozen=True)
class CaptionWork:
    """One episode to caption: what the captioners need to know about it."""

    dataset: str  # the dataset folder
    episode_index: int
    length: int
    original: str | None  # the episode's first task
    video: str | None  # the mp4 of the camera shown to the VLM (None: the dataset has no video)


@dataclass(frozen=True)
class NewCaption:
    episode_index: int
    text: str
    kind: CaptionKind
    model: str
    original: str | None
    fallback_from: str | None = None


def existing_caption(line: dict[str, Any], where: str) -> CaptionRecord | None:
    raw = EpisodeLineage.of(line).caption
    if not isinstance(raw, dict):  # none, or a bare string from another tool: treat as not ours, so it gets redone
        return None
    try:
        return CaptionRecord.model_validate(raw)
    except ValueError as e:
        raise CaptionStoreError(f"{where}: invalid eidata.caption ({e})") from e


def plan_dataset(
    dataset_root: Path, kind: CaptionKind, model: str, *, force: bool = False, camera: str | None = None
) -> tuple[list[CaptionWork], int]:
    """(episodes to caption, how many are skipped) for a run of (`kind`, `model`). Skipped: episodes captioned by
    the same model and kind (or a rule fallback for that VLM), and VLM captions when this run is rule-based (rules
    never replace a VLM caption); `force` recaptions everything."""
    dataset_root = Path(dataset_root)
    info = load_info(dataset_root / INFO_PATH)
    key = main_video_key(info.video_keys, camera)
    work, skipped = [], 0
    for lineno, line in read_jsonl(dataset_root / EPISODES_PATH):
        index = int(line["episode_index"])
        old = existing_caption(line, f"{dataset_root / EPISODES_PATH}:{lineno}")
        if old is not None and not force and (old.made_by(kind, model) or (kind == "rule" and old.kind == "vlm")):
            skipped += 1
            continue
        tasks = line.get("tasks") or []
        video = str(dataset_root / info.video_file(index, key)) if key is not None else None
        work.append(CaptionWork(str(dataset_root), index, int(line["length"]), tasks[0] if tasks else None, video))
    return work, skipped


def apply_captions(dataset_root: Path, captions: list[NewCaption], *, lock_timeout_s: float = 60.0) -> int:
    """Record `captions` in the dataset's meta through its writer: each new text as a task (an identical one
    reused) and each episode's lineage, waiting up to `lock_timeout_s` for another writer; how many changed."""
    dataset_root = Path(dataset_root)
    if not captions:
        return 0

    def plan(update: MetaUpdate) -> None:
        for c in {c.episode_index: c for c in captions}.values():
            record = CaptionRecord(
                text=c.text,
                task_index=update.add_task(c.text),
                kind=c.kind,
                model=c.model,
                original=c.original,
                fallback_from=c.fallback_from,
            )
            update.edit_episode(c.episode_index, partial(_with_caption, record))

    try:
        changed = LeRobotWriter.update_meta(dataset_root, plan, lock_wait_s=lock_timeout_s)
    except WriterLockedError as e:
        raise CaptionStoreError(f"{dataset_root}: cannot take the writer lock ({e})") from e
    except DatasetError as e:
        raise CaptionStoreError(str(e)) from e
    log.debug("%s: %d captions", dataset_root, changed)
    return changed


def _with_caption(record: CaptionRecord, line: dict[str, Any]) -> dict[str, Any]:
    """The episode's line with `record` as its lineage's caption; every other key kept."""
    lineage = EpisodeLineage.of(line)
    lineage.caption = record.to_lineage()
    return {**line, LINEAGE_KEY: lineage.to_json()}
