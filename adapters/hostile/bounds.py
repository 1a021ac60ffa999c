"""Bounds on what a file declares, checked before anything is allocated for it.

A 62-byte sidecar can claim a video of 10^9 s, a 244 KB HDF5 a dataset of 4e7 rows, a sparse file 2 GB of JSON: a
reader that trusts the claim allocates it. Every such size is checked here against the file's real size or a limit,
and a claim past it is `TooLarge`, a ValueError naming what, the size claimed and the bound (a data error: the
episode or the source is quarantined with that reason, the job goes on).

The reading budget (issue 45), READ_BYTES, is one bound shared by every adapter: `ask` before any one thing a file
sizes is materialised (an HDF5 dataset's shape x itemsize, a Zarr array's, a video's frames x frame size), `inflate`
for every decompression (bag chunks: ROS 1 bz2/lz4, MCAP zstd/lz4), stopped at the budget instead of trusting the
stream, so a 14 KB bz2 bag that inflates to 4 GiB costs at most the budget. Limits are settings: `limit(name)`
is the setting `max_<name>` (`schemas.settings`: their defaults and docs; the driver's, on every Ray worker too).
"""

from __future__ import annotations

import bz2
import functools
import json
import lzma
import math
import zlib
from collections.abc import Callable
from typing import Any, Protocol

import lz4.frame
import numpy as np

from adapters.storage.location import Location
from schemas.lfs import MAX_POINTER_BYTES, refuse_pointer
from schemas.settings import current


class TooLarge(ValueError):
    """A size a file declares past what its real size or a configured limit allows; nothing was allocated."""

    def __init__(self, what: str, declared: float, bound: float, why: str, seen: str = "declared") -> None:
        self.what, self.declared, self.bound = what, declared, bound
        super().__init__(f"{what}: {_num(declared)} {seen}, more than {why} ({_num(bound)}); not read")


def _num(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() and abs(x) < 1e18 else f"{x:.6g}"


def limit(name: str) -> int:
    """The configured bound `name` (JSON_BYTES, SIDECAR_BYTES, ROWS, COLUMNS, READ_BYTES): the setting `max_<name>`."""
    return int(getattr(current(), f"max_{name.lower()}"))


def check(what: str, declared: float, bound: float, why: str) -> None:
    """TooLarge unless `declared` <= `bound`."""
    if not declared <= bound:  # NaN fails too
        raise TooLarge(what, declared, bound, why)


def read_bounded(loc: Location, bound: int, what: str) -> bytes:
    """A whole file's bytes when its size is within `bound` (the read stops at `bound` + 1 should it grow)."""
    size = loc.size()
    check(f"{what} size in bytes", size, bound, "the limit")
    with loc.open_binary(stream=True) as f:
        # sized by the file, not the bound: `read(n)` reserves n bytes at once, which the parse process's limit
        # counts (`RLIMIT_AS`: jobs.runtime.limits); what the file grew by meanwhile comes a MiB at a time
        data = f.read(size + 1)
        while len(data) <= bound and (more := f.read(min(1 << 20, bound + 1 - len(data)))):
            data += more
    check(f"{what} size in bytes", len(data), bound, "the limit")
    refuse_pointer(loc, data[:MAX_POINTER_BYTES])  # a JSON or sidecar cloned without `git lfs`: named, not parsed
    return data


def load_json(loc: Location, what: str, bound: int | None = None) -> Any:
    """A JSON document read whole, within `bound` bytes (default: the JSON_BYTES limit)."""
    return json.loads(read_bounded(loc, limit("JSON_BYTES") if bound is None else bound, what))


BUDGET = "the reading budget (setting max_read_bytes)"


def ask(nbytes: float, what: str) -> None:
    """TooLarge unless `nbytes` (what a file declares `what` to take) is within the reading budget."""
    check(f"{what} size in bytes", nbytes, limit("READ_BYTES"), BUDGET)


class _Decompressor(Protocol):
    eof: bool
    needs_input: bool
    unused_data: bytes

    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...


@functools.cache  # found once: a failed import is searched for again on every call (50 us of a 70 us chunk)
def _zstd_module() -> Any:
    try:
        from compression import zstd  # type: ignore[import-not-found]  # Python 3.14
    except ImportError:
        from backports import zstd  # rosbags' own choice, in the same order
    return zstd


class _Zlib:
    """zlib's decompressor in the protocol of the others (zlib keeps what max_length left in `unconsumed_tail`)."""

    def __init__(self, wbits: int = zlib.MAX_WBITS) -> None:
        self._d = zlib.decompressobj(wbits)

    eof = property(lambda self: self._d.eof)
    unused_data = property(lambda self: b"")  # what follows the stream is ignored, as `zlib.decompress` does
    needs_input = property(lambda self: not self._d.unconsumed_tail)

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        return self._d.decompress(self._d.unconsumed_tail + data, max(max_length, 0))


class _Gzip(_Zlib):
    """One gzip member; the members after it are the next streams (`gzip.decompress` reads them all)."""

    def __init__(self) -> None:
        super().__init__(16 + zlib.MAX_WBITS)

    unused_data = property(lambda self: self._d.unused_data)


# codec -> a new one-frame decompressor; all answer the same incremental protocol (max_length, eof, unused_data)
CODECS: dict[str, Callable[[], _Decompressor]] = {
    "bz2": bz2.BZ2Decompressor,
    "gzip": _Gzip,
    "lz4": lz4.frame.LZ4FrameDecompressor,
    "lzma": lzma.LZMADecompressor,
    "zstd": lambda: _zstd_module().ZstdDecompressor(),
    "zlib": _Zlib,
}


def inflate(data: bytes, codec: str, what: str, declared: int | None = None) -> bytes:
    """`data` decompressed (`codec` in CODECS; every concatenated frame or stream, as the one-call decompressors
    do), never more than the reading budget: a declared size past it is refused before anything is allocated, an
    output growing past the budget is stopped there (TooLarge names `what`), and one growing past `declared` is
    stopped one byte after it (the caller's own size check then names the mismatch)."""
    budget = limit("READ_BYTES")
    if declared is not None:
        ask(declared, what)
    cap = budget if declared is None else min(budget, declared)
    parts: list[bytes] = []
    got = 0
    while data:
        d = CODECS[codec]()
        part = d.decompress(data, cap + 1 - got)
        while True:
            parts.append(part)
            got += len(part)
            if got > cap:
                if got > budget:
                    raise TooLarge(f"{what} inflated size in bytes", got, budget, BUDGET, seen="reached")
                return b"".join(parts)  # past `declared`: the caller's own size check names it
            if d.eof or d.needs_input:
                break
            part = d.decompress(b"", cap + 1 - got)
        if not d.eof:
            raise EOFError(f"{what}: compressed data ended before the end-of-stream marker was reached")
        data = d.unused_data
    return parts[0] if len(parts) == 1 else b"".join(parts)


def declared_bytes(arr: Any, start: int | None = None, stop: int | None = None) -> int:
    """What `arr[start:stop]` declares it takes once materialised (rows x the row's shape x itemsize), for anything
    with `shape` and `dtype` (an h5py Dataset, a Zarr array), read from its metadata only."""
    shape = arr.shape or ()  # h5py: None for an empty dataspace
    rows = len(range(*slice(start, stop).indices(shape[0]))) if shape else 1
    return rows * math.prod(shape[1:]) * arr.dtype.itemsize


def ask_arrays(arrays: list[Any], what: str) -> None:
    """The reading budget asked once for `arrays` read together (each within the budget alone, many times it in all:
    68 EgoDex transforms of one declared length), naming the largest; before any is read."""
    big = max(arrays, key=declared_bytes, default=None)
    largest = f" (the largest {getattr(big, 'name', None) or getattr(big, 'path', '?')} {big.shape})" if big else ""
    ask(sum(map(declared_bytes, arrays)), f"the {len(arrays)} {what}{largest}")


def read_array(
    arr: Any,
    what: str | None = None,
    start: int | None = None,
    stop: int | None = None,
    present: Callable[[], None] | None = None,
) -> np.ndarray:
    """The reading door for arrays a file declares: `arr[start:stop]` (an h5py Dataset or a Zarr array; the whole of
    it by default) as numpy, once the reading budget has allowed its declared size. A 340 KB EgoDex file declaring
    `transforms/camera` of (80e6, 4, 4) float64 (10 GB of chunks never written) took 3 GiB in 24 s before this.
    TooLarge names `what` (default: the dataset and its file), the shape and the dtype. `present`, when given, is
    called once the budget allows the read and before it: it raises when the rows hold no data (a Zarr array's chunks
    never written, `adapters.arrays.stores.unwritten`); an h5py dataset's rows are always checked so (chunks never
    written, storage never allocated: `adapters.hostile.absent.h5_unwritten`), h5py reading them as the fill value."""
    if what is None:
        file = getattr(getattr(arr, "file", None), "filename", None) or getattr(arr, "store", "")
        what = f"{getattr(arr, 'name', None) or getattr(arr, 'path', '?')} in {file}"
    rows = "" if start is None and stop is None else f", rows {start or 0}:{'' if stop is None else stop}"
    ask(declared_bytes(arr, start, stop), f"{what} ({arr.shape} {arr.dtype}{rows})")
    # a chunk is decoded whole whatever the selection: an unlimited-length HDF5 dataset or a Zarr array may declare
    # chunks far larger than its shape
    chunk = getattr(arr, "chunks", None)
    if chunk:
        ask(math.prod(chunk) * arr.dtype.itemsize, f"{what}: one chunk {tuple(chunk)} of {arr.dtype}")
    if present is not None:
        present()
    if type(arr).__module__.startswith("h5py"):  # h5py is imported by whoever holds one of its datasets
        from adapters.hostile.absent import h5_unwritten
        from adapters.hostile.h5_inflate import check_inflate

        h5_unwritten(arr, start, stop)
        check_inflate(arr, start, stop)  # a gzip chunk past its declared size: HDF5 would keep its first bytes
    return np.asarray(arr[start:stop] if arr.shape else arr[()])
