"""The datasets of a corpus as a reader may read them: no write left half applied.

A writer's journal (`ingest.lerobot.journal`) is its commit point; a process killed while applying one leaves the
meta files part old, part new (tasks.jsonl and episodes.jsonl written, info.json not yet: reliability review 6, N46)
until the dataset is next opened by a writer, whose recovery rolls the journal forward. A stage that read the meta
first judged "already done" from the half-applied files and never opened a writer, so the journal stayed and the
dataset stayed inconsistent. `settled_datasets` is the one way `jobs/` and `training/` list a corpus's datasets
(`tests/ingest/lerobot/test_settled.py` holds it): each dataset with a journal is opened by the writer (its lock,
then its recovery) before it is handed out, so every reader and stage reads meta as the uninterrupted write left it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from adapters.lerobot_format.layout import find_datasets
from ingest.lerobot.writer import LeRobotWriter
from ingest.lerobot.writer_dir import JOURNAL

log = logging.getLogger(__name__)

LOCK_WAIT_S = 60.0  # a writer still applying its journal holds the lock this long at most in practice


def settled_datasets(corpus_root: Path, *, lock_wait_s: float = LOCK_WAIT_S) -> list[Path]:
    """Every dataset under `corpus_root/datasets` (`find_datasets`), sorted, each with the journal an
    interrupted writer left rolled forward first (under the writer's lock: a live writer is waited for)."""
    datasets = find_datasets(corpus_root)
    for ds in datasets:
        settle_dataset(ds, lock_wait_s=lock_wait_s)
    return datasets


def settle_dataset(ds: Path, *, lock_wait_s: float = LOCK_WAIT_S) -> Path:
    """One dataset as `settled_datasets` hands it out (a reader that opens one dataset it was named: the report's
    episode page): the journal an interrupted writer left rolled forward first, under the writer's lock."""
    if os.path.exists(os.path.join(ds, JOURNAL)):  # not a Path made per dataset: 30k of them at 1M episodes
        log.warning("%s: an interrupted write is finished before the dataset is read", ds)
        LeRobotWriter.open(ds, lock_wait_s=lock_wait_s).close()
    return ds
