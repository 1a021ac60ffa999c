"""An HDF5 gzip chunk that inflates past its declared size is an error, never data (issue 58 item 1, review 6 N10).

HDF5's deflate filter inflates a chunk whatever its size, then keeps the chunk's first bytes: a 2.6 MB robomimic file
whose (30, 7) `actions` chunk inflated to 2.5 GiB was written as all-zero actions. The task memory limit
(`memory_limit.py`) stops such a chunk past the limit; under it (64 MiB of zeros for 1,680 declared bytes) h5py
reads the zeros without a word. `check_inflate(ds, start, stop)` inflates each chunk of the rows read once more,
itself, with an output bound of the chunk's declared bytes plus one (`zlib.decompressobj().decompress(raw,
max_length)`), and raises `InflatesPast` (a ValueError naming the dataset, the chunk and both sizes) on a longer
stream. Only pipelines of deflate with shuffle and Fletcher-32 around it are checked (what h5py's `compression="gzip"`
writes); another filter's output is left to the memory limit.
"""

from __future__ import annotations

import math
import zlib
from typing import Any

DEFLATE, SHUFFLE, FLETCHER32 = 1, 2, 3  # HDF5 filter ids (H5Zpublic.h)


class InflatesPast(ValueError):
    """A chunk whose deflate stream holds more than the chunk's declared bytes."""


def check_inflate(ds: Any, start: int | None = None, stop: int | None = None) -> None:
    """Raise `InflatesPast` when a gzip chunk of `ds` holding rows `start:stop` inflates past its declared size."""
    if ds.chunks is None or not ds.shape:
        return
    dcpl = ds.id.get_create_plist()
    filters = [dcpl.get_filter(i)[0] for i in range(dcpl.get_nfilters())]
    if DEFLATE not in filters or not set(filters) <= {DEFLATE, SHUFFLE, FLETCHER32}:
        return
    declared = math.prod(ds.chunks) * ds.dtype.itemsize
    deflate_bit = 1 << filters.index(DEFLATE)  # a chunk's filter mask has the bit of each filter skipped for it
    lo, hi, _ = slice(start, stop).indices(ds.shape[0])
    rows = ds.chunks[0]
    for i in range(ds.id.get_num_chunks()):
        info = ds.id.get_chunk_info(i)
        first = info.chunk_offset[0]
        if first + rows <= lo or first >= hi or info.filter_mask & deflate_bit:
            continue
        _, raw = ds.id.read_direct_chunk(info.chunk_offset)
        if FLETCHER32 in filters:
            raw = raw[:-4]  # the checksum HDF5 appends after deflate
        out = zlib.decompressobj().decompress(raw, declared + 1)
        if len(out) > declared:
            name = f"{ds.name} in {ds.file.filename}"
            raise InflatesPast(
                f"{name}: gzip chunk at {tuple(info.chunk_offset)} inflates past the {declared:,} bytes its chunk "
                f"{tuple(ds.chunks)} of {ds.dtype} declares ({len(raw):,} bytes stored); not read"
            )
