"""Opening a dataset after a crash (by the writer holding its lock, so no other writer is mid-write): a journal left
behind is rolled forward, staged episodes no live builder holds are removed (but those an unfinished commit of a
dataset beside it names: a sibling of another signature commits from its subset's staging area,
`ingest.lerobot.routing`), jsonl lines past info.json's totals are cut, episode files numbered past them are deleted,
and temp files of atomic writes a kill cut short are removed.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

from adapters.lerobot_format.files import load_info
from adapters.storage.atomic import remove_temp_files
from ingest.lerobot.errors import DatasetError
from ingest.lerobot.journal import apply_journal, describe
from ingest.lerobot.staging import is_stage_in_use
from ingest.lerobot.writer_dir import JOURNAL, STAGING
from schemas.lerobot import EPISODES_PATH, EPISODES_STATS_PATH, INFO_PATH, TASKS_PATH, InfoJson
from schemas.storage import STATE_DIR

log = logging.getLogger(__name__)


def remove_killed_temp_files(root: Path) -> None:
    """A writer killed inside an atomic write (its journal, info.json or a rewritten episodes.jsonl, all written
    under this lock) leaves a hidden temp file behind; holding the lock, nobody is writing one now."""
    for folder in (root / "meta", root / STATE_DIR):
        for p in remove_temp_files(folder):
            log.warning("%s: removing %s, left by a writer that was killed", root, p.relative_to(root))


def recover(root: Path, *, durable: bool, keep: frozenset[Path] = frozenset()) -> None:
    """Finish an interrupted commit or meta update, drop unfinished episodes and anything past the committed totals;
    staged folders in `keep` stay (finished episodes whose job adopts them: `jobs.ingest.adopt`)."""
    journal_path = root / JOURNAL
    if journal_path.exists():
        journal = json.loads(journal_path.read_text(encoding="utf-8"))
        log.warning("%s: finishing the interrupted %s", root, describe(journal))
        apply_journal(root, journal, durable=durable)
    staging = root / STAGING
    if staging.exists():
        journaled = None
        for d in staging.iterdir():
            if is_stage_in_use(d) or d in keep:
                continue  # a live builder (e.g. a parallel worker) is still writing it, or its job adopts it
            journaled = claimed(root) if journaled is None else journaled
            if d.resolve() in journaled:
                continue  # a sibling's commit, rolled forward when that dataset is opened
            log.warning("%s: removing unfinished episode staged in %s", root, d.name)
            shutil.rmtree(d, ignore_errors=True)
    info = load_info(root / INFO_PATH)
    _truncate_jsonl(root, EPISODES_PATH, info.total_episodes)
    _truncate_jsonl(root, EPISODES_STATS_PATH, info.total_episodes)
    _truncate_jsonl(root, TASKS_PATH, info.total_tasks)
    _remove_orphans(root, info)


def claimed(root: Path) -> frozenset[Path]:
    """The staged folders of `root`'s staging area (resolved) that an unfinished commit of a dataset beside it names."""
    staging, named = (root / STAGING).resolve(), set()
    for other in root.parent.iterdir():
        if other != root and (other / JOURNAL).is_file():
            journal = json.loads((other / JOURNAL).read_text(encoding="utf-8"))
            named |= {(other / rel).resolve() for rel in journal.get("stage_dirs", [])}
    return frozenset(d for d in named if d.parent == staging)


def _truncate_jsonl(root: Path, rel: str, keep: int) -> None:
    path = root / rel
    if not path.exists():
        return
    with open(path, "r+b") as f:
        offset = 0
        for _ in range(keep):
            line = f.readline()
            if not line.endswith(b"\n"):
                raise DatasetError(f"{path}: holds fewer complete lines than info.json counts ({keep})")
            offset += len(line)
        if f.readline():
            log.warning("%s: dropping lines past the %d committed entries", path, keep)
            f.truncate(offset)


def _remove_orphans(root: Path, info: InfoJson) -> None:
    pattern = re.compile(r"episode_(\d{6})\.(parquet|mp4)$")
    for top in ("data", "videos"):
        base = root / top
        if not base.exists():
            continue
        for p in base.rglob("episode_*"):
            m = pattern.search(p.name)
            if m and int(m.group(1)) >= info.total_episodes:
                log.warning("%s: removing %s, which belongs to no committed episode", root, p)
                p.unlink()
