"""HDF5 files on a path or in an object store: h5py reads a Python file object (its "fileobj" driver), so an object
is opened as a seekable file with bounded read-ahead (`location.readable`) and closed with the h5py file."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import h5py

from adapters.storage.location import Where, readable


class _ObjectH5File(h5py.File):
    """An h5py.File that also closes the file object it reads (`source`)."""

    _stack: ExitStack
    source: Any

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._stack.close()


def open_h5(where: Where, **kwargs: Any) -> h5py.File:
    """`h5py.File(path, "r")` for a local file; for an object, the same on its seekable file object. Raises what
    h5py raises (OSError for a file that is not HDF5)."""
    stack = ExitStack()
    src = stack.enter_context(readable(where))
    if isinstance(src, str):
        stack.close()
        return h5py.File(src, "r", **kwargs)
    try:
        f = _ObjectH5File(src, "r", **kwargs)
    except BaseException:
        stack.close()
        raise
    f._stack, f.source = stack, src
    return f
