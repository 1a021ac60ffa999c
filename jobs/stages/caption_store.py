"""Captions in a dataset's meta: which episodes need one, and writing them (`schemas.captions` has the contract).

Writing holds the dataset's writer lock (`LeRobotWriter.open`, which also rolls forward an interrupted ingest commit
first), appends new caption texts to `meta/tasks.jsonl` (an existing identical text is reused), then rewrites
`info.json` (`total_tasks`) and `meta/episodes.jsonl`, each atomically and in that order. A crash between two of
them leaves a valid dataset: extra task lines past `total_tasks` are dropped by the writer's recovery, and tasks no
episode names yet are harmless (the rerun finds the text and reuses it). Lines of episodes not captioned are kept
byte for byte.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.files.atomic import write_text_atomic
from ingest.lerobot.errors import DatasetError
from ingest.lerobot.writer import LeRobotWriter
from schemas.canonical import main_video_key
from schemas.captions import CaptionKind, CaptionRecord
from schemas.corpus import LINEAGE_KEY, EpisodeLineage
from schemas.lerobot import EPISODES_PATH, INFO_PATH, TASKS_PATH, dump_info, dump_jsonl_line, load_info, read_jsonl

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

    def as_row(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "episode_index": self.episode_index, "length": self.length,
                "original": self.original, "video": self.video}  # fmt: skip


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
    if raw is None:
        return None
    if not isinstance(raw, dict):  # a bare string from another tool: treat as not ours, so it gets redone
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


def open_locked(dataset_root: Path, timeout_s: float) -> LeRobotWriter:
    """The dataset's writer (its lock held, any interrupted commit finished), waiting up to `timeout_s` for another
    writer (an ingest job) to let go."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return LeRobotWriter.open(dataset_root)
        except DatasetError as e:
            if "another writer" not in str(e) or time.monotonic() >= deadline:
                raise CaptionStoreError(f"{dataset_root}: cannot take the writer lock ({e})") from e
            time.sleep(0.5)


def apply_captions(dataset_root: Path, captions: list[NewCaption], *, lock_timeout_s: float = 60.0) -> int:
    """Record `captions` in the dataset's meta (see the module docstring); returns how many episodes changed."""
    dataset_root = Path(dataset_root)
    if not captions:
        return 0
    writer = open_locked(dataset_root, lock_timeout_s)
    try:
        return _apply(dataset_root, captions)
    finally:
        writer.close()


def _apply(root: Path, captions: list[NewCaption]) -> int:
    info = load_info(root / INFO_PATH)
    task_lines = [obj for _, obj in read_jsonl(root / TASKS_PATH)] if (root / TASKS_PATH).exists() else []
    if len(task_lines) != info.total_tasks:
        raise CaptionStoreError(f"{root}: {TASKS_PATH} has {len(task_lines)} tasks, info.json {info.total_tasks}")
    tasks = {str(t["task"]): int(t["task_index"]) for t in task_lines}
    by_episode = {c.episode_index: c for c in captions}
    new_tasks: list[dict[str, Any]] = []
    records: dict[int, CaptionRecord] = {}
    for c in by_episode.values():
        if c.text not in tasks:
            tasks[c.text] = len(tasks)
            new_tasks.append({"task_index": tasks[c.text], "task": c.text})
        records[c.episode_index] = CaptionRecord(text=c.text, task_index=tasks[c.text], kind=c.kind, model=c.model,
                                                 original=c.original, fallback_from=c.fallback_from)  # fmt: skip

    episodes_path = root / EPISODES_PATH
    lines = episodes_path.read_text(encoding="utf-8").splitlines(keepends=True)
    changed = 0
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        line = json.loads(raw)
        record = records.get(int(line["episode_index"]))
        if record is None:
            continue
        lineage = EpisodeLineage.of(line)
        lineage.caption = record.to_lineage()
        lines[i] = dump_jsonl_line({**line, LINEAGE_KEY: lineage.to_json()})
        changed += 1
    if changed != len(records):
        missing = sorted(set(records) - {int(json.loads(x)["episode_index"]) for x in lines if x.strip()})
        raise CaptionStoreError(f"{episodes_path}: no episodes {missing[:5]} to caption")

    if new_tasks:  # tasks first, then info.json's count, then the episodes naming them (see the module docstring)
        old = (root / TASKS_PATH).read_text(encoding="utf-8") if (root / TASKS_PATH).exists() else ""
        old += "\n" if old and not old.endswith("\n") else ""
        write_text_atomic(root / TASKS_PATH, old + "".join(dump_jsonl_line(t) for t in new_tasks))
        info.total_tasks = len(tasks)
        write_text_atomic(root / INFO_PATH, dump_info(info))
    write_text_atomic(episodes_path, "".join(lines))
    log.debug("%s: %d captions, %d new tasks", root, changed, len(new_tasks))
    return changed
