"""A path's name relative to a folder, by its string where it starts with the folder's (issue 99).

`Path.relative_to` parses both paths into parts: 30k datasets named this way two or three times over were 2-3 CPU-s
of every command at 1M episodes. A path whose string is the folder's, a slash and plain names (no empty, `.` or `..`
part, no trailing slash: what `Path` would normalize) is cut by its string; any other is left to `relative_to`, with
its `ValueError` for a path outside the folder.
"""

from __future__ import annotations

import os
from pathlib import Path

_NOT_PLAIN = ("//", "/./", "/../")


def relative_posix(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> str:
    """`Path(path).relative_to(folder).as_posix()`, without the `Path`s where `path`'s string starts with `folder/`."""
    text, base = os.fspath(path), os.fspath(folder)
    plain = not any(part in text for part in _NOT_PLAIN) and not text.endswith(("/", "/.", "/.."))
    if plain and base not in ("", ".") and text.startswith(f"{base}/"):
        return text[len(base) + 1 :]
    return Path(path).relative_to(folder).as_posix()
