"""Which hard links under a source's root are the user's own bytes, not an outside file's (issue 67 item 2).

`beneath` refuses a regular file of several names: its other names may lie anywhere on the file system. `owned` lets
one through on any of three pieces of evidence, whatever the link's count:

- every name of it lies under the root (a dataset deduplicated in place, `cp -al` of a dataset beside it): the root's
  files of several names are listed once per process (`_names`) and re-stat'ed at each check, so a name moved away
  since counts no more; a file linked after the listing (its ctime later) has the root listed again;
- it is an eidata export's link of its corpus's file (`export --format gr00t` links each parquet, `lingbot-va` each
  mp4): the nearest completion record above it (`MARKER`) names the corpus dataset it was made from (`source`), and
  the file of the same relative path there (in a folder under a `datasets/` holding `meta/info.json`, reached through
  no link) is the same inode. The record is only a pointer: the evidence is the inode found there;
- it is a corpus's file that the corpus noted it linked out into an export (`note_linked`, `_linked_out`).

Any other hard link (the report's c01: an outside parquet linked into a LeRobot dataset) stays refused. The evidence
is read where it lies, so a tree laid out as a corpus with its own record or log vouches for itself: the refusal
guards against an outside file a dataset merely carries, not against a tree built to vouch for one.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import time

from schemas.corpus import JOB_DIR
from schemas.lerobot import INFO_PATH
from schemas.storage import MARKER, SOURCE_KEY

__all__ = ["LINKED", "note_linked", "owned"]

_RECORD_BYTES = 1 << 20
# under a corpus: one line per file of its datasets it linked into an export, `dev ino size mtime_ns` (`note_linked`)
LINKED = f"{JOB_DIR}/linked-out"
_listed: dict[str, tuple[int, dict[tuple[int, int], list[str]]]] = {}  # real root -> (listed at ns, inode -> names)


def owned(real_root: str, key: str, st: os.stat_result) -> bool:
    """Whether the regular file `key` under the resolved root `real_root`, of `st.st_nlink` > 1 names, is shown to be
    the root's own, its export's corpus's (the module's doc), or a corpus's file it linked out (`note_linked`)."""
    # the cheap evidence first: `_inside` lists the whole root once per process
    return _exported(real_root, key, st) or _linked_out(real_root, key, st) or _inside(real_root, st)


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
        source = _source(os.path.join(real_root, *parts[:depth], MARKER))
        if source is not None:
            corpus_dataset = f"{os.sep}datasets{os.sep}" in source and os.path.isfile(os.path.join(source, INFO_PATH))
            return corpus_dataset and _same(os.path.join(source, *parts[depth:]), st)
    return False


def _identity(st: os.stat_result) -> str:
    return f"{st.st_dev} {st.st_ino} {st.st_size} {st.st_mtime_ns}"


def note_linked(corpus_root: str | os.PathLike[str], path: str | os.PathLike[str]) -> None:
    """The corpus at `corpus_root` notes, before linking its file `path` into an export, that it links it out: the
    other way round from the export's record, so an ingest of the corpus itself (a LeRobot source) reads the file
    whose other name is the export's. A file noted already is not noted again (an export run twice, or into two
    folders, adds nothing). An OSError (a corpus the export cannot write, a log past `_LOG_BYTES`) is the caller's:
    copy instead."""
    line = _identity(os.stat(path))
    log = os.path.join(corpus_root, LINKED)
    os.makedirs(os.path.dirname(log), exist_ok=True)
    fd = os.open(log, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        before = os.fstat(fd)
        if before.st_size > _LOG_BYTES:  # read as no evidence (`_noted`): a line more would only be refused
            raise OSError(errno.EFBIG, f"{log}: over {_LOG_BYTES} bytes, no file noted in it any more")
        seen = _noted(log, fd)
        if line in seen:
            return
        os.write(fd, (line + "\n").encode())  # one short append: whole, whatever else appends at once
        after = os.fstat(fd)
        if after.st_size == before.st_size + len(line) + 1:  # ours alone: not read again for the export's next file
            _notes[log] = (_identity(after), seen | {line})
        else:  # another writer appended meanwhile: read whole at the next check
            _notes.pop(log, None)
    finally:
        os.close(fd)


def _linked_out(real_root: str, key: str, st: os.stat_result) -> bool:
    """The file lies, reached through no link, in a dataset of a corpus (`<corpus>/datasets/...`) whose `LINKED` notes
    its inode with its size and modification time (an inode reused by another file since matches neither)."""
    path = os.path.join(real_root, key)
    if os.path.realpath(path) != path:
        return False
    parts = path.split(os.sep)
    for depth in range(len(parts) - 2, 0, -1):
        if parts[depth] != "datasets":
            continue
        log = os.path.join(os.sep.join(parts[:depth]) or os.sep, LINKED)
        try:
            fd = os.open(log, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            if _identity(st) in _noted(log, fd):
                return True
        finally:
            os.close(fd)
    return False


_LOG_BYTES = 256 << 20  # 5 million linked files
_notes: dict[str, tuple[str, frozenset[str]]] = {}  # log -> (its identity when read, its lines)


def _noted(log: str, fd: int) -> frozenset[str]:
    """The lines of the `LINKED` log open as `fd`, read again only when it changed (a corpus's every linked file is
    checked against it)."""
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_size > _LOG_BYTES:  # not a log eidata wrote: no evidence
        return frozenset()
    seen = _notes.get(log)
    if seen is None or seen[0] != _identity(st):
        with os.fdopen(os.dup(fd), "r", encoding="ascii", errors="replace") as f:
            seen = _notes[log] = (_identity(st), frozenset(line.rstrip("\n") for line in f))
    return seen[1]
