"""Makers' pickles read without running them: one restricted unpickler for every source that ships pickles (VITRA's
`.npy` episodes, HOI4D's per-frame hand poses, OakInk2's per-sequence annotations).

A pickle is code: unpickling calls whatever global it names. `SafeUnpickler` resolves only the globals it is given,
and any other (`os.system`, `builtins.eval`) is `UnsafePickle` naming it, before anything is called. The allow-list
is numpy's own array, dtype and scalar reconstructors (written by numpy 1.x as `numpy.core.*`, by 2.x as
`numpy._core.*`; `_frombuffer` for protocol 5) and `_codecs.encode`, which protocol 2 names for Python 3 bytes (text
to bytes, nothing else). `adapters.torch_tensors.tensor_loads` adds the globals a plain `pickle.dump` of torch
tensors names, each mapped to a reader of our own that builds a numpy array without importing torch.
"""

from __future__ import annotations

import codecs
import io
import pickle
from collections.abc import Callable, Mapping
from typing import IO, Any

import numpy as np

Globals = Mapping[tuple[str, str], Any]


class UnsafePickle(pickle.UnpicklingError):
    """The pickle names a global outside the allow-list."""


def _numpy_globals() -> dict[tuple[str, str], Any]:
    from numpy._core import multiarray, numeric

    allowed: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    allowed[("_codecs", "encode")] = codecs.encode  # protocol 2 writes Python 3 bytes as encode(text, "latin1")
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):  # written by numpy 1.x or 2.x
        allowed[(mod, "_reconstruct")] = multiarray._reconstruct
        allowed[(mod, "scalar")] = multiarray.scalar
    for mod in ("numpy.core.numeric", "numpy._core.numeric"):  # protocol 5: an array's buffer, reshaped
        allowed[(mod, "_frombuffer")] = numeric._frombuffer
    return allowed


NUMPY_GLOBALS: Globals = _numpy_globals()


class SafeUnpickler(pickle.Unpickler):
    """Resolves the globals of `allowed` only; any other global is `UnsafePickle`. Persistent ids (which a plain
    pickle never holds) go to `persistent` when given, else are refused."""

    def __init__(
        self,
        file: IO[bytes],
        allowed: Globals = NUMPY_GLOBALS,
        *,
        persistent: Callable[[Any], Any] | None = None,
        encoding: str = "latin1",
    ) -> None:
        super().__init__(file, encoding=encoding)
        self.allowed, self.persistent = allowed, persistent

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise UnsafePickle(f"refusing to unpickle global {module}.{name}: not on the allow-list") from None

    def persistent_load(self, pid: Any) -> Any:
        if self.persistent is None:
            raise UnsafePickle(f"refusing persistent id {pid!r}: a plain pickle has none")
        return self.persistent(pid)


def safe_loads(data: bytes, *, extra: Mapping[tuple[str, str], Any] | None = None) -> Any:
    """The object `data` pickles, through `SafeUnpickler` with numpy's globals and `extra` (torch's tensor ones, read
    into numpy arrays: `adapters.torch_tensors.tensor_loads`). Raises `UnsafePickle`, or `pickle.UnpicklingError` /
    `EOFError` / `ValueError` for a file that is no pickle."""
    return SafeUnpickler(io.BytesIO(data), {**NUMPY_GLOBALS, **(extra or {})}).load()


def unpickle_npy(data: bytes) -> Any:
    """The object a 0-d object `.npy` holds, unpickled with numpy's globals only (ValueError for another `.npy`)."""
    f = io.BytesIO(data)
    version = np.lib.format.read_magic(f)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read_header(f)
    if dtype != np.dtype(object) or shape not in ((), (1,)):
        raise ValueError(f"a {dtype} array of shape {shape}, not one pickled episode (a 0-d object array)")
    obj = SafeUnpickler(f).load()
    return obj.item() if isinstance(obj, np.ndarray) and obj.size == 1 else obj
