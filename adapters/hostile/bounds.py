"""Bounds on what a file declares, checked before anything is allocated for it.

A 62-byte sidecar can claim a video of 10^9 s, a 244 KB HDF5 a dataset of 4e7 rows, a sparse file 2 GB of JSON: a
reader that trusts the claim allocates it. Every such size is checked here against the file's real size or a limit,
and a claim past it is `TooLarge`, a ValueError naming what, the size claimed and the bound (a data error: the
episode or the source is quarantined with that reason, the job goes on).

Limits are settings: `limit(name)` is the setting `max_<name>` (`schemas.settings`: their defaults and docs, the
bound and its refusal, which a reader in `schemas` uses too; the driver's, on every Ray worker too), and a refusal
past one names it (`Limit`), so its message says what to raise.
What a parse may cost in memory is no bound of this module's: every parse of a source's bytes runs in a process under
the operating system's memory limit (issue 84: `adapters.hostile.sandbox`), which refuses a decompression bomb or a
declared-size bomb (an HDF5 dataset of 10 GB never written) naming the file.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from adapters.storage.location import Location
from schemas.lfs import MAX_POINTER_BYTES, refuse_pointer
from schemas.settings import limit, read_within


def read_bounded(loc: Location, bound: int | None, what: str) -> bytes:
    """A whole file's bytes when its size is within `bound` (`schemas.settings.read_within`; None: no bound but the
    parse process's memory limit), never an LFS pointer's."""
    with loc.open_binary(stream=True) as f:
        data = read_within(f, loc.size(), sys.maxsize if bound is None else bound, what)
    refuse_pointer(loc, data[:MAX_POINTER_BYTES])  # a JSON or sidecar cloned without `git lfs`: named, not parsed
    return data


def load_json(loc: Location, what: str, bound: int | None = None) -> Any:
    """A JSON document read whole, within `bound` bytes (default: the JSON_BYTES limit)."""
    return json.loads(read_bounded(loc, limit("JSON_BYTES") if bound is None else bound, what))


def read_array(
    arr: Any, start: int | None = None, stop: int | None = None, present: Callable[[], None] | None = None
) -> np.ndarray:
    """The reading door for arrays a file declares: `arr[start:stop]` (an h5py Dataset or a Zarr array; the whole of
    it by default) as numpy, once its rows are known to hold data. `present`, when given, raises when they hold none
    (a Zarr array's chunks never written, `adapters.arrays.stores.unwritten`); an h5py dataset's rows are always
    checked so (chunks never written, storage never allocated: `adapters.hostile.absent.h5_unwritten`, h5py would
    read them as the fill value), and its chunks for an inflate past their declared size (`h5_inflate`)."""
    if present is not None:
        present()
    if type(arr).__module__.startswith("h5py"):  # h5py is imported by whoever holds one of its datasets
        from adapters.hostile.absent import h5_unwritten
        from adapters.hostile.h5_inflate import check_inflate

        h5_unwritten(arr, start, stop)
        check_inflate(arr, start, stop)  # a gzip chunk past its declared size: HDF5 would keep its first bytes
    return np.asarray(arr[start:stop] if arr.shape else arr[()])
