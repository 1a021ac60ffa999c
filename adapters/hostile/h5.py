"""HDF5 files on a path or in an object store: h5py reads a Python file object (its "fileobj" driver), so an object
is opened as a seekable file with bounded read-ahead (`location.readable`) and closed with the h5py file.

h5py holds its global lock while it calls the file object, and freeing any h5py object takes that lock. s3fs reads on
fsspec's event-loop thread, so a cyclic garbage collection starting there while h5py waits for a read can free an h5py
object and block for good: seen in a full test run (the loop thread in `ObjectID.__dealloc__` from
`gc_collect_main`, the caller in `h5py.File.__init__` -> our `read` -> `fsspec.asyn.sync`), h5py issue #2019. h5py's
documented workaround (its PR #2021, docs/high/file.rst) is to pause the collector around such reads:
`_PausedCollector` does, counted across threads so that one read ending does not resume it under another.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import h5py

from adapters.hostile.sealed import h5_objects, sealed_h5
from adapters.storage.location import Location

_paused = 0
_pause_lock = threading.Lock()
_was_enabled = False


@contextmanager
def _collector_paused() -> Iterator[None]:
    global _paused, _was_enabled
    with _pause_lock:
        if _paused == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _pause_lock:
            _paused -= 1
            if _paused == 0 and _was_enabled:
                gc.enable()


class _PausedCollector:
    """The object's file object, each read run with the cyclic garbage collector paused (see the module's doc)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:  # seek, tell, close: the file object's own
        return getattr(self.inner, name)

    def read(self, size: int = -1) -> bytes:
        with _collector_paused():
            return self.inner.read(size)  # type: ignore[no-any-return]

    def readinto(self, b: Any) -> int:  # what h5py's fileobj driver calls where the file has it
        with _collector_paused():
            return self.inner.readinto(b)  # type: ignore[no-any-return]


class _ObjectH5File(h5py.File):
    """An h5py.File that also closes the file object it reads (`source`)."""

    _stack: ExitStack
    source: Any

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._stack.close()


def open_h5(where: Location, **kwargs: Any) -> h5py.File:
    """`h5py.File(path, "r")` for a local file; for an object, the same on its seekable file object. Raises what
    h5py raises (OSError for a file that is not HDF5), and `ReachesOutside` (an OSError) for a file whose links or
    datasets lead to other files (`sealed.sealed_h5`), closed before any of its data is read: the one door through
    which adapters open HDF5 (tests/adapters/hostile/test_sealed.py checks no other `h5py.File(` reads)."""
    stack = ExitStack()
    src = stack.enter_context(where.readable())
    if isinstance(src, str):  # HDF5 opens its own descriptor of the file `readable` checked, then ours is closed
        with stack:
            f = h5py.File(src, "r", **kwargs)
        return _sealed(f, str(where))
    try:
        f = _ObjectH5File(_PausedCollector(src), "r", **kwargs)
    except BaseException:
        stack.close()
        raise
    f._stack, f.source = stack, src
    return _sealed(f, str(where))


def _sealed(f: h5py.File, name: str) -> h5py.File:
    try:
        sealed_h5(f, name)
    except BaseException:
        f.close()
        raise
    return f


def dataset_paths(group: h5py.Group) -> list[str]:
    """Every dataset below `group`, as paths relative to it, sorted."""
    objects = h5_objects(group.id, group.file.filename)  # HDF5's own visit recurses in C (`sealed.MAX_DEPTH`)
    return sorted(p.decode() for p, _, info in objects if info is not None and info.type == h5py.h5o.TYPE_DATASET)
