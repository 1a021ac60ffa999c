"""Containment: every file an adapter reads lies under its source's root, after `..`, absolute paths and symlinks.

A dataset is data from a third party: a LeRobot `data_path` of `../../x`, an absolute `video_path`, a folder
symlinked to `/home`, a sidecar linked to a key file would make a job read (and publish into the corpus) any file the
worker can read. `contained` resolves both (every symlink followed, `..` folded) and raises `OutsideRoot` when the path
is not under the root; on an object store (no symlinks) the key is normalized and must start with the root's prefix.
Folders' resolutions are cached (`_real_dir`), so a dataset's files cost about one `lstat` each.
`SourceAdapter` checks every discovered ref's `paths` this way; an adapter checks here too any path it builds from the
data while reading (templates, sidecars, paths listed in a table).
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import lru_cache
from pathlib import Path
from typing import IO

from upath import UPath

from adapters.storage.location import Location, Where, is_object, locate, readable
from schemas.containment import OutsideRoot

__all__ = ["contained", "outside", "readable_under"]


@lru_cache(maxsize=65536)
def _real_dir(folder: str) -> str:
    return os.path.realpath(folder)


def _real(path: str) -> str:
    """`os.path.realpath(path)` with the folder's resolution cached: one lstat for a file that is not a link."""
    head, tail = os.path.split(path)
    if not tail or tail in (".", ".."):
        return os.path.realpath(path)
    real = os.path.join(_real_dir(head), tail)
    return os.path.realpath(real) if os.path.islink(real) else real


def _under(path: str, root: str, sep: str) -> bool:
    return path == root or path.startswith(root.rstrip(sep) + sep)


def _rooted(root: str, text: str) -> str:
    """`text` joined to the local `root`, unless the caller joined it already: with a relative root, `root / rel` is
    relative to the cwd and lexically under the root, and joining it again read `root/root/rel` (issue 50: `eidata
    validate exports/x` failed a correct dataset on 'exports/x/exports/x/meta/...'). A relative path that could be
    either (a root `data` and a file `data/x` inside it) is the one that exists, the caller's join when neither does.
    An absolute `text` replaces the root, as the join an adapter does."""
    full = os.path.join(root, text)
    if os.path.isabs(text) or os.path.isabs(root):
        return full
    rel = os.path.normpath(text)
    base = os.path.normpath(root)
    if base == "." or not (rel == base or rel.startswith(base + os.sep)):
        return full
    return full if os.path.lexists(full) and not os.path.lexists(text) else text


def contained(root: Where, path: Where) -> Location:
    """`path` (absolute, relative to `root`, or `root / rel` with a relative root) as a Location, when it lies under
    `root` once both are resolved; else OutsideRoot. The Location returned is the path as given (joined to the root),
    not its resolution, so names in lineage and errors stay the dataset's own."""
    text = path if isinstance(path, str) else str(path) if is_object(path) else os.fspath(path)  # an object: its URL
    if isinstance(root, str | Path) and "://" not in str(root) and "://" not in text:  # on disk: no Location built
        full = _rooted(os.fspath(root), text)
        real = _real(os.path.join(os.getcwd(), full))
        if not _under(real, _real_dir(os.path.join(os.getcwd(), root)), os.sep):
            raise OutsideRoot(full, real, str(root))
        return Path(full)
    root_loc = locate(root)
    loc: Location
    if is_object(path):
        loc = path  # already made, with its store's options
    elif "://" in text and is_object(root_loc):
        loc = UPath(text, **root_loc.storage_options)  # a URL under an object root: read with the root's options
    elif os.path.isabs(text) or "://" in text:
        loc = locate(text)
    else:
        loc = root_loc / text if is_object(root_loc) else locate(_rooted(os.fspath(root_loc), text))
    if is_object(root_loc):
        if not is_object(loc) or loc.protocol != root_loc.protocol:
            raise OutsideRoot(str(loc), str(loc), str(root_loc))
        key, prefix = posixpath.normpath(loc.path), posixpath.normpath(root_loc.path)
        if not _under(key, prefix, "/"):
            raise OutsideRoot(str(loc), f"{loc.protocol}://{key}", str(root_loc))
        return loc
    if is_object(loc):
        raise OutsideRoot(str(loc), str(loc), str(root_loc))
    # joined to the cwd, not abspath'd: `link/..` must be folded after the link is followed, as the kernel does
    real, real_root = _real(os.path.join(os.getcwd(), loc)), _real_dir(os.path.join(os.getcwd(), root_loc))
    if not _under(real, real_root, os.sep):
        raise OutsideRoot(str(loc), real, str(root_loc))
    return loc


def outside(root: Where, paths: tuple[str, ...] | list[str]) -> OutsideRoot | None:
    """The first of `paths` that leaves `root`, as the error `contained` raises; None when all stay under it."""
    for p in paths:
        try:
            contained(root, p)
        except OutsideRoot as e:
            return e
    return None


def readable_under(root: Where) -> Callable[[Where], AbstractContextManager[str | IO[bytes]]]:
    """`readable` for a library's checks over many files of `root` (`DatasetMeta.load(open_file=...)`): each path
    is `contained` first, so a file outside raises OutsideRoot, a ValueError, before anything opens it."""

    def open_file(path: Where) -> AbstractContextManager[str | IO[bytes]]:
        return readable(contained(root, path))

    return open_file
