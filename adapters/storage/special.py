"""Special files (a FIFO, a socket, a device) and Git LFS pointers, refused before a library opens them: review 7 i06,
a FIFO named `episode_1.mcap` hung the job; a pointer parsed as data says nothing of the file it stands for."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from schemas.lfs import MAX_POINTER_BYTES, refuse_pointer


class NotRegularFile(OSError, ValueError):
    """A source file that is a FIFO, a socket or a device: refused before it is opened (an open waits for a writer
    that never comes, a read never ends). No errno: the data's, and a ValueError, as whichever an adapter catches."""

    def __init__(self, path: object, kind: str) -> None:
        self.path, self.kind = str(path), kind
        super().__init__(f"{path}: not a regular file ({kind}): not opened")


_SPECIAL: tuple[tuple[Callable[[int], bool], str], ...] = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def special_kind(loc: str | os.PathLike[str]) -> str | None:
    """What a local path is when it is a special file ("a FIFO", ...), else None (a file, a folder, nothing there).
    One stat, following a link (where it leads is the containment's question)."""
    try:
        return special(os.stat(loc).st_mode)
    except OSError:
        return None


def special(mode: int) -> str | None:
    return next((kind for test, kind in _SPECIAL if test(mode)), None)


def refuse_special(loc: str | os.PathLike[str]) -> None:
    """`NotRegularFile` for a special file (`special_kind`)."""
    if (kind := special_kind(loc)) is not None:
        raise NotRegularFile(loc, kind)


def no_pointer(path: Path, name: Path) -> None:
    """LfsPointer (`schemas.lfs`) naming `name` when the local file `path` is a Git LFS pointer, `NotRegularFile`
    when it is a special file; a stat, and a read of the few bytes of a file small enough to be a pointer."""
    try:
        st = os.stat(path)
    except OSError:
        return  # not there: the library's own error says so
    if (kind := special(st.st_mode)) is not None:
        raise NotRegularFile(name, kind)
    if st.st_size < MAX_POINTER_BYTES and not stat.S_ISDIR(st.st_mode):
        with open(path, "rb") as f:
            refuse_pointer(name, f.read(MAX_POINTER_BYTES))
