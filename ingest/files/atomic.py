"""Atomic files: a killed process leaves the old file or the new one, never half of one.

A file is written under a hidden temp name in its final folder (`.<name>.tmp-<uuid>`), fsynced, renamed into place,
and the folder is fsynced so the rename itself survives a power loss. Temp names never match a `*.<suffix>` glob, so
readers and reruns deciding what is done see whole files only; a killed writer's leftovers carry `TEMP_MARK`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

TEMP_MARK = ".tmp-"


def fsync_path(path: Path) -> None:
    """fsync a file or a folder (folders open read-only on Linux, which is enough for fsync)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Callable[[Path], object]) -> Path:
    """`write(tmp)` beside `path` under a hidden unique name, fsync, rename into place, fsync the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}{TEMP_MARK}{uuid.uuid4().hex}")
    try:
        write(tmp)
        fsync_path(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_path(path.parent)
    return path


def write_text_atomic(path: Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
