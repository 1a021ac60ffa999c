"""The writer's journal: every change to a dataset's meta, recorded atomically, then applied.

The journal (`.eidata/commit.json`) is the commit point of every write the writer makes after its lock is taken:
an episode commit (file moves out of staging, jsonl appends, the next info.json) and a meta update (tasks appended,
lines of `episodes.jsonl` replaced, the next info.json when the task count changed; `ingest.lerobot.writer`).
Paths are relative to the dataset root, so a moved or copied dataset still recovers itself (one that commits from
the staging area of a dataset beside it, `../<subset>/.eidata/staging/<id>`, moved with its source's folder). Appends
carry each file's size before them and replaced lines their line number, so applying a journal is idempotent: a
crash while applying is rolled forward by applying it again, and the result is byte for byte the uninterrupted one.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from adapters.storage.atomic import atomic_write, fsync_path
from ingest.lerobot.errors import DatasetError
from ingest.lerobot.writer_dir import JOURNAL
from schemas.lerobot import INFO_PATH, InfoJson, split_lines


def build_journal(root: Path, parts: list[dict[str, Any]], info: InfoJson) -> dict[str, Any]:
    """One journal for the parts of a commit group (see `ingest.lerobot.commit_part`), in order."""
    appends: dict[str, str] = {}
    for part in parts:
        for rel, text in part["appends"].items():
            appends[rel] = appends.get(rel, "") + text
    return {
        "episode_indices": [p["episode_index"] for p in parts],
        "stage_dirs": [p["stage_dir"] for p in parts],
        "moves": [m for p in parts for m in p["moves"]],
        "appends": _appends(root, appends),
        "info": info.to_json(),
        "episodes": [p["episode"] for p in parts],
        "new_tasks": [t for p in parts for t in p["new_tasks"]],
    }


def build_meta_journal(
    root: Path, *, appends: dict[str, str], lines: dict[str, dict[int, str]], info: InfoJson | None
) -> dict[str, Any]:
    """A meta update: `appends` (text per file), `lines` (replacement text per file and 0-based line number) and,
    when given, the next info.json."""
    return {
        "meta_update": sorted({n for by_line in lines.values() for n in by_line}),
        "appends": _appends(root, appends),
        "lines": {rel: {str(n): text for n, text in by_line.items()} for rel, by_line in lines.items()},
        "info": info.to_json() if info is not None else None,
    }


def describe(journal: dict[str, Any]) -> str:
    """What an interrupted journal was doing, for the recovery log."""
    if "meta_update" in journal:
        return f"meta update of {len(journal['meta_update'])} lines"
    return f"commit of episodes {journal['episode_indices']}"


def apply_journal(root: Path, journal: dict[str, Any], *, durable: bool) -> None:
    """Idempotent: safe to run again after a crash at any point inside it."""
    touched_dirs = set()
    for src, dst in journal.get("moves", []):
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
    for rel, by_line in journal.get("lines", {}).items():
        _replace_lines(root / rel, {int(n): text for n, text in by_line.items()})
    if journal["info"] is not None:
        atomic_write(root / INFO_PATH, json.dumps(journal["info"], indent=4, ensure_ascii=False))
    (root / JOURNAL).unlink(missing_ok=True)
    for stage in journal.get("stage_dirs", []):
        shutil.rmtree(root / stage, ignore_errors=True)


def _replace_lines(path: Path, by_line: dict[int, str]) -> None:
    lines = split_lines(path.read_text(encoding="utf-8"))
    if by_line and max(by_line) >= len(lines):
        raise DatasetError(f"{path}: the journal replaces line {max(by_line) + 1}, the file has {len(lines)}")
    for n, text in by_line.items():
        lines[n] = text
    atomic_write(path, "".join(lines))


def _appends(root: Path, appends: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Each file's size before the append; text that would continue a last line without "\\n" starts a new one."""
    ops = {}
    for rel, text in appends.items():
        size = _size(root / rel)
        if text and size:
            with open(root / rel, "rb") as f:
                f.seek(size - 1)
                text = text if f.read(1) == b"\n" else "\n" + text
        ops[rel] = {"size_before": size, "text": text}
    return ops


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0
