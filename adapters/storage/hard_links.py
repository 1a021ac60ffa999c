"""Which hard links under a source's root are the user's own bytes, not an outside file's (issue 67 item 2).

`adapters.storage.beneath` refuses a regular file of several names: its other names may lie anywhere on the file
system. `owned` lets one through on either of two pieces of evidence, whatever the link's count:

- every name of it lies under the root (a dataset deduplicated in place, `cp -al` of a dataset beside it): the root's
  files of several names are listed once per process (`_names`) and re-stat'ed at each check, so a name moved away
  since counts no more; a file linked after the listing (its ctime later) has the root listed again;
- it is an eidata export's link of its corpus's file (`export --format gr00t --out` links each parquet, `lingbot-va`
  each mp4): the nearest completion record above it (`RECORD`) names the corpus dataset it
  was made from (`source`), and the file of the same relative path there, in a corpus's dataset (a folder under a
  `datasets/` holding `meta/info.json`), reached through no link, is the same inode. The record is only a pointer:
  the evidence is the inode found there, so a record naming any other folder, or a link to any file but the one the
  export links, vouches for nothing.

Any other hard link (the report's c01: an outside parquet linked into a LeRobot dataset) stays refused.
"""

from __future__ import annotations

import json
import os
import stat
import time

from schemas.lerobot import INFO_PATH

__all__ = ["RECORD", "SOURCE_KEY", "owned"]

RECORD = ".eidata-export.json"  # an exported tree's completion record (`adapters.storage.tree.MARKER`)
SOURCE_KEY = "source"  # in it: the corpus dataset folder the export's files were made from (absolute)
_RECORD_BYTES = 1 << 20
_listed: dict[str, tuple[int, dict[tuple[int, int], list[str]]]] = {}  # real root -> (listed at ns, inode -> names)


def owned(real_root: str, key: str, st: os.stat_result) -> bool:
    """Whether the regular file `key` under the resolved root `real_root`, of `st.st_nlink` > 1 names, is shown to be
    the root's own or its export's corpus's (the module's doc)."""
    return _exported(real_root, key, st) or _inside(real_root, st)


def _same(path: str, st: os.stat_result) -> bool:
    """`path`, reached through no symlink, is the inode of `st`."""
    try:
        other = os.lstat(path)
    except OSError:
        return False
    return (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino) and os.path.realpath(path) == path


def _names(real_root: str) -> dict[tuple[int, int], list[str]]:
    out: dict[tuple[int, int], list[str]] = {}
    for folder, _, files in os.walk(real_root):
        for name in files:
            path = os.path.join(folder, name)
            try:
                s = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISREG(s.st_mode) and s.st_nlink > 1:
                out.setdefault((s.st_dev, s.st_ino), []).append(path)
    return out


def _inside(real_root: str, st: os.stat_result) -> bool:
    inode = (st.st_dev, st.st_ino)
    listed = _listed.get(real_root)
    if listed is None or (inode not in listed[1] and st.st_ctime_ns >= listed[0]):
        listed = _listed[real_root] = (time.time_ns(), _names(real_root))
    return sum(_same(p, st) for p in listed[1].get(inode, ())) >= st.st_nlink


def _source(record: str) -> str | None:
    """The resolved `source` an export's completion record names, None when there is no readable record."""
    try:
        fd = os.open(record, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        body = json.loads(os.read(fd, _RECORD_BYTES)) if stat.S_ISREG(os.fstat(fd).st_mode) else None
    except (ValueError, RecursionError, OSError):
        return None
    finally:
        os.close(fd)
    source = body.get(SOURCE_KEY) if isinstance(body, dict) else None
    return os.path.realpath(source) if isinstance(source, str) and os.path.isabs(source) else None


def _exported(real_root: str, key: str, st: os.stat_result) -> bool:
    parts = os.path.relpath(os.path.realpath(os.path.join(real_root, key)), real_root).split(os.sep)
    if parts[0] == "..":
        return False
    for depth in range(len(parts) - 1, -1, -1):
        source = _source(os.path.join(real_root, *parts[:depth], RECORD))
        if source is not None:
            corpus_dataset = f"{os.sep}datasets{os.sep}" in source and os.path.isfile(os.path.join(source, INFO_PATH))
            return corpus_dataset and _same(os.path.join(source, *parts[depth:]), st)
    return False
