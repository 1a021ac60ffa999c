"""The commit journal: every step of a commit after the parquet is written, recorded atomically, then applied.

The journal (`.eidata/commit.json`) is the commit point. It names file moves out of staging (paths relative to the
dataset root, so a moved or copied dataset still recovers itself), jsonl appends with each file's size before them,
and the next info.json. Applying it is idempotent: a crash while applying is rolled forward by applying it again.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from ingest.files.atomic import fsync_path, write_text_atomic
from ingest.lerobot.errors import DatasetError
from ingest.lerobot.writer_dir import JOURNAL
from schemas.lerobot import INFO_PATH, InfoJson


def build_journal(root: Path, parts: list[dict[str, Any]], info: InfoJson) -> dict[str, Any]:
    """One journal for the parts of a commit group (see `ingest.lerobot.commit_part`), in order."""
    appends: dict[str, dict[str, Any]] = {}
    for part in parts:
        for rel, text in part["appends"].items():
            op = appends.setdefault(rel, {"size_before": _size(root / rel), "text": ""})
            op["text"] += text
    return {
        "episode_indices": [p["episode_index"] for p in parts],
        "stage_dirs": [p["stage_dir"] for p in parts],
        "moves": [m for p in parts for m in p["moves"]],
        "appends": appends,
        "info": info.to_json(),
        "episodes": [p["episode"] for p in parts],
        "new_tasks": [t for p in parts for t in p["new_tasks"]],
    }


def apply_journal(root: Path, journal: dict[str, Any], *, durable: bool) -> None:
    """Idempotent: safe to run again after a crash at any point inside it."""
    touched_dirs = set()
    for src, dst in journal["moves"]:
        src_p, dst_p = root / src, root / dst
        if src_p.exists():
            dst_p.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src_p, dst_p)
            touched_dirs.add(dst_p.parent)
        elif not dst_p.exists():
            raise DatasetError(f"{root}: commit journal names {src}, which is gone and was never moved")
    for rel, op in journal["appends"].items():
        path = root / rel
        with open(path, "a+b") as f:
            f.truncate(op["size_before"])
            f.seek(op["size_before"])
            f.write(op["text"].encode("utf-8"))
            f.flush()
            if durable:
                os.fsync(f.fileno())
    if durable:
        for d in touched_dirs:
            fsync_path(d)
    write_text_atomic(root / INFO_PATH, json.dumps(journal["info"], indent=4, ensure_ascii=False))
    (root / JOURNAL).unlink(missing_ok=True)
    for stage in journal["stage_dirs"]:
        shutil.rmtree(root / stage, ignore_errors=True)


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0
