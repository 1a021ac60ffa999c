"""The file a door hands a library, declared to the per-file boundary (`adapters.isolated`, issue 58 item 2).

Python's audit event "open" covers every file Python opens, but not one a C library opens itself from a path (pyarrow,
HDF5, FFmpeg through PyAV), nor an object on a store (fsspec opens it through the network). The doors adapters hand
such files through declare them with an audit event of their own (`EVENT`): `location.readable` when it hands the file
over and again when the library's parse fails inside (so the boundary takes that file for the culprit even if Python
opened another meanwhile); an object's own `open` when opened. A file the boundary refused is refused at the door too.

An audit event, not a call into the boundary: the doors stay below it (adapters.isolated imports adapters.storage,
never the reverse), and with no boundary watching, declaring costs a `sys.audit` call (well under a microsecond).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from upath import UPath

from adapters.storage.atomic import undo_on_error
from schemas.storage import EVENT


def is_url(text: str) -> bool:
    return "://" in text


def present(name: str) -> bool:
    """Whether the file the boundary named `name` is there: a local file, or an object (taken as there: not asked)."""
    return is_url(name) or os.path.isfile(name)


def boundary_name(where: Any, *, urls: bool = True) -> str | None:
    """`where` as the boundary names files: an absolute local path, or an object's URL (a `UPath` on a store, or
    its text) without a trailing "/"; None for anything else (a descriptor, a `file://` URL Python opens itself, and
    any URL without `urls`: Python's own open of one is not a file it opens)."""
    if isinstance(where, UPath):
        where = str(where)
    try:
        text = os.fsdecode(os.fspath(where))
    except TypeError:
        return None
    if is_url(text):
        return None if text.startswith("file://") or not urls else text.rstrip("/")
    return os.path.abspath(text)


def declare(where: str) -> None:
    """`where` opened now: raises the boundary's refusal when it was refused earlier in the same discovery."""
    sys.audit(EVENT, where, False)


@contextmanager
def declared(where: str) -> Iterator[None]:
    """`where` handed to a library: declared on entry, and again as the one that failed if the block raises."""
    declare(where)
    with undo_on_error(lambda: sys.audit(EVENT, where, True)):
        yield
