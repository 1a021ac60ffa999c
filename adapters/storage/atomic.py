"""Atomic files: a killed process leaves the old file or the new one, never half of one.

A file is written under a hidden temp name in its final folder (`.<name>.tmp-<uuid>`), fsynced, renamed into place,
and the folder is fsynced so the rename itself survives a power loss. Temp names never match a `*.<suffix>` glob, so
readers and reruns deciding what is done see whole files only; `remove_temp_files` clears a killed writer's leftovers.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

TEMP_MARK = ".tmp-"
_TEMP_NAME = re.compile(rf"\..+{re.escape(TEMP_MARK)}[0-9a-f]{{32}}")  # what `temp_path` names, and nothing else


def temp_path(path: Path) -> Path:
    """The hidden, unique name `atomic_write` writes `path` under before the rename."""
    return path.with_name(f".{path.name}{TEMP_MARK}{uuid.uuid4().hex}")


def is_temp_path(path: Path) -> bool:
    return _TEMP_NAME.fullmatch(Path(path).name) is not None


def remove_temp_files(folder: Path, files: str = "*") -> list[Path]:
    """Delete the temp files a killed `atomic_write` left of the files `files` globs under `folder` (default: those
    directly in it; only temp files) and return them; only while no one can write there (under the folder's lock): a
    live write's temp file looks the same."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = sorted(p for p in folder.glob(f"{files}{TEMP_MARK}*") if is_temp_path(p) and p.is_file())
    for p in removed:
        p.unlink(missing_ok=True)
    return removed


def fsync_path(path: Path) -> None:
    """fsync a file or a folder (folders open read-only on Linux, which is enough for fsync)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Callable[[Path], object] | str) -> Path:
    """`write(tmp)` (a str: that text, UTF-8) beside `path` under a hidden unique name, fsync, rename into place, fsync
    the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        if isinstance(write, str):
            tmp.write_text(write, encoding="utf-8")
        else:
            write(tmp)
        fsync_path(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_path(path.parent)
    return path


@contextmanager
def undo_on_error(undo: Callable[[], object]) -> Iterator[None]:
    """`undo()` when the block raises anything (KeyboardInterrupt, a generator closed, included), then the raise."""
    try:
        yield
    except BaseException:
        undo()
        raise
