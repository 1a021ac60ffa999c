"""The one door every open of a source's file goes through: beneath the source's root, at the moment of the open
(issue 67 item 2), whatever changed on disk since discovery listed the file.

Discovery checks each ref's paths (`contain.contained`), but a read comes seconds later: a file or any folder on the
way swapped for a symlink meanwhile, or a hard link to an outside file, was read through its path. So a block that
reads a source holds `Fence.rooted(root)` in force (`Fence.active`: `confined.confined_discover` for discovery, the
jobs' read steps for reads), and while the root's descriptor is held:

- `Fence.held(path)` (`location.readable`, the door of pyarrow, HDF5, PyAV, tar, and the Zarr store's opener) opens the
  file beneath the root's descriptor (`open_beneath`: one component at a time, O_NOFOLLOW; a hard link refused unless
  `hard_links.owned`) and hands the library `/proc/self/fd/N`, the very inode checked, whatever is renamed over the
  path afterwards;
- every other open Python makes under the root (numpy's `.npz`, `json`, rosbags, pickles) is checked by an audit hook
  (`_hook`): a check then an open, not one open; a swap within those microseconds is the residue (the report's
  c-cases swap after discovery, seconds before).

Which file a parse was reading when it died is named by the boundary it runs behind (`adapters.hostile.sandbox`). A link
inside the root that resolves inside it is followed, as `contained` allows. Object-store paths have no links and are
left to `contained`. Without a fence (a library call outside a job) nothing changes.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import re
import stat
import sys
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from adapters.storage.hard_links import owned
from schemas.containment import HardLinked, OutsideRoot, ReachesOutside

__all__ = ["Fence"]

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_ANY = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK  # NONBLOCK: a FIFO opens without a writer
_HOPS = 40  # links followed for one key, as the kernel's own ELOOP bound


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


@dataclass(frozen=True)
class Fence:
    """A source's root while a block reads it: as given, resolved, and its descriptor; and the fence's one door, its
    static methods (the rest of the house imports this class alone of the module)."""

    root: str
    real: str
    fd: int

    @staticmethod
    def open_beneath(root_fd: int, real_root: str, key: str, name: str) -> int:
        """A read-only descriptor of `key` (a '/'-separated path) under the folder open as `root_fd` (whose resolved
        path is `real_root`), no link followed out of it: ReachesOutside naming the store `name`, the link and where it
        leads; FileNotFoundError / NotADirectoryError as `open` would raise them. The caller closes it."""
        todo = _parts(key)[::-1]  # the next component last
        if ".." in todo:
            raise ValueError(f"{name}: key {key!r} climbs out of the store")
        walked: list[str] = []
        fds = [root_fd]
        hops = 0
        try:
            while todo:
                part = todo.pop()
                try:
                    fd = os.open(part, _ANY if not todo else _DIR, dir_fd=fds[-1])
                except OSError as e:
                    if e.errno not in (errno.ELOOP, errno.ENOTDIR):
                        raise
                    try:
                        target = os.readlink(part, dir_fd=fds[-1])
                    except OSError:
                        raise e from None  # not a link: a file where a folder was asked
                    link = "/".join([*walked, part])
                    hops += 1
                    lands = posixpath.normpath(posixpath.join(real_root, *walked, target))
                    inside = posixpath.relpath(lands, real_root)
                    if hops > _HOPS:
                        raise OSError(errno.ELOOP, f"{name}: {link}: {_HOPS} links followed (a loop)") from None
                    if inside == ".." or inside.startswith("../"):
                        raise ReachesOutside(name, f"{link} (a symlink)", lands) from None
                    while len(fds) > 1:  # from the top again, along the link's own path inside the store
                        os.close(fds.pop())
                    walked.clear()
                    todo.extend(_parts(inside)[::-1])
                    continue
                fds.append(fd)
                walked.append(part)
            fd = os.dup(root_fd) if len(fds) == 1 else fds.pop()
        finally:
            for d in fds[1:]:
                os.close(d)
        st = os.fstat(fd)
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            os.close(fd)
            raise OSError(f"{name}: {key} is not a regular file (mode {stat.filemode(st.st_mode)}): not read")
        if stat.S_ISREG(st.st_mode) and st.st_nlink > 1 and not owned(real_root, key, st):
            os.close(fd)
            raise HardLinked(posixpath.join(name, key) if key else name, st.st_nlink, real_root)
        return fd

    @staticmethod
    @contextlib.contextmanager
    def rooted(root: object) -> Iterator[Fence | None]:
        """The fence of the local folder `root`, its descriptor held for the block, not yet in force (`active`); None
        for a root that is an object store's or no folder (its reads say what is wrong with it)."""
        text = root if isinstance(root, str) else os.fspath(root) if isinstance(root, os.PathLike) else None
        if text is None or "://" in text:
            yield None
            return
        real = os.path.realpath(text)
        try:
            fd = os.open(real, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            yield None
            return
        try:
            yield Fence(text, real, fd)
        finally:
            os.close(fd)

    @staticmethod
    @contextlib.contextmanager
    def active(fence: Fence | None) -> Iterator[None]:
        """`fence` in force for the block (a generator puts it in force around each step, never across a yield)."""
        if fence is None:
            yield
            return
        _install()
        token = _FENCE.set(fence)
        try:
            yield
        finally:
            _FENCE.reset(token)

    @staticmethod
    @contextlib.contextmanager
    def held(path: str | os.PathLike[str]) -> Iterator[str]:
        """What a library opens for the local `path`: `/proc/self/fd/N` of the file or folder opened beneath the fence
        (OutsideRoot, ReachesOutside or HardLinked naming it when it cannot be), kept open for the block; the path as it
        is without a fence, or for a path outside the fenced root's tree as given (not a source file)."""
        text = os.fspath(path)
        fence = _FENCE.get()
        if fence is None or not _under_root(fence, text):
            yield text
            return
        _own.busy = True
        try:
            fd = Fence.open_beneath(fence.fd, fence.real, _key(fence, text), fence.real)
        except ReachesOutside as e:
            raise OutsideRoot(text, e.target, fence.root) from e
        except HardLinked as e:
            raise HardLinked(text, e.links, fence.root) from e
        finally:
            _own.busy = False
        proc = f"{_PROC_FD}/{fd}"
        _NAMES[proc] = text  # kept past the close: an error raised in the block is often worded after it
        try:
            yield proc if os.path.isdir(_PROC_FD) else text
        finally:
            os.close(fd)

    @staticmethod
    def may_read(path: str) -> bool:
        """Whether `path` may be a source's file: one of the root's tree under the fence in force; any without one."""
        fence = _FENCE.get()
        return fence is None or _under_root(fence, path)

    @staticmethod
    def named(text: str) -> str:
        """`text` (a library's error) with each `/proc/self/fd/N` that `held` handed out replaced by the file's path, so
        a quarantine reason names the file, not the descriptor it was read through."""
        return _PROC_FD_IN_TEXT.sub(lambda m: _NAMES.get(m.group(0), m.group(0)), text)


_FENCE: ContextVar[Fence | None] = ContextVar("eidata_fence", default=None)
_own = threading.local()  # set while this module opens: its own `openat`s are not checked again by the hook
_hooked = False
_PROC_FD = "/proc/self/fd"


def _key(fence: Fence, path: str) -> str:
    """`path` relative to the fence's resolved root once resolved, no link left in it; OutsideRoot otherwise."""
    real = os.path.realpath(os.path.join(os.getcwd(), path))
    if real == fence.real:
        return ""
    if not real.startswith(fence.real.rstrip(os.sep) + os.sep):
        raise OutsideRoot(path, real, fence.root)
    return os.path.relpath(real, fence.real)


# `/proc/self/fd/N` -> the path it was opened for, the latest open of each N: what a library's message names
_NAMES: dict[str, str] = {}
_PROC_FD_IN_TEXT = re.compile(re.escape(_PROC_FD) + r"/\d+")


def _under_root(fence: Fence, path: str) -> bool:
    """Whether `path` names something of the root's tree as written (before any link is followed)."""
    full = os.path.normpath(os.path.join(os.getcwd(), path))
    for top in {os.path.normpath(os.path.join(os.getcwd(), fence.root)), fence.real}:
        if full == top or full.startswith(top.rstrip(os.sep) + os.sep):
            return True
    return False


def check(path: str) -> None:
    """OutsideRoot / HardLinked naming `path` when, under the fence in force, it resolves outside the root or is a
    hard link, OSError when it is a special file (a FIFO named `tasks.jsonl` blocks Python's open for good), as
    `open_beneath` refuses them; nothing without a fence or for a path not of the root's tree."""
    fence = _FENCE.get()
    if fence is None or not _under_root(fence, path):
        return
    key = _key(fence, path)
    try:
        st = os.stat(os.path.join(fence.real, key))
    except OSError:
        return  # not there: the open's own error says so
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        raise OSError(f"{path} is not a regular file (mode {stat.filemode(st.st_mode)}): not read")
    if stat.S_ISREG(st.st_mode) and st.st_nlink > 1 and not owned(fence.real, key, st):
        raise HardLinked(path, st.st_nlink, fence.root)


def _hook(event: str, args: tuple[object, ...]) -> None:
    if event != "open" or _FENCE.get() is None or getattr(_own, "busy", False):
        return
    path = args[0]
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if isinstance(path, str) and not path.startswith(_PROC_FD):
        _own.busy = True
        try:
            check(path)
        finally:
            _own.busy = False


def _install() -> None:
    global _hooked
    if not _hooked:
        _hooked = True
        sys.addaudithook(_hook)
