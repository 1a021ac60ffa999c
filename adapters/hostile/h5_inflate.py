"""An HDF5 chunk that inflates past its declared size is an error, never data; a filter whose output eidata cannot
bound is refused, never read (issue 58 item 1, review 6 N10, issue 67 item 6).

HDF5's deflate filter inflates a chunk whatever its size, then keeps the chunk's first bytes: a 2.6 MB robomimic file
whose (30, 7) `actions` chunk inflated to 2.5 GiB was written as all-zero actions. h5py's LZF filter does the same (it
grows its buffer until the stream fits: a chunk inflating to 64 MiB was written without a word, review 7). The task
memory limit stops such a chunk past the limit; under it h5py reads the zeros. So `check_inflate` measures each chunk
of the rows read once more, bounded by the chunk's declared bytes plus one:

- deflate (1): `zlib.decompressobj().decompress(raw, max_length)`;
- LZF (32000, h5py's `lzf_filter.c` over liblzf's format, `lzf_d.c`): the output length read from the stream's
  control bytes (`lzf_length`), no byte copied;
- shuffle (2) and Fletcher-32 (3) keep the size (Fletcher-32 appends 4 bytes after the others, taken off first).

Any other filter of a chunked dataset (szip, scale-offset, n-bit, a plugin: Blosc, Zstd, LZ4, bzip2...) sizes its
output from what the file says, which eidata does not read, so its dataset is refused before HDF5 decodes a chunk
(`UnboundedFilter`); no source eidata reads is known to use one.
"""

from __future__ import annotations

import math
import zlib
from typing import Any

DEFLATE, SHUFFLE, FLETCHER32, LZF = 1, 2, 3, 32000  # HDF5 filter ids (H5Zpublic.h; h5py's lzf_filter.h)
SIZE_KEPT = {SHUFFLE, FLETCHER32}


class InflatesPast(ValueError):
    """A chunk whose compressed stream holds more than the chunk's declared bytes."""


class UnboundedFilter(ValueError):
    """A dataset whose filter pipeline has a filter whose output eidata cannot bound."""


def lzf_length(raw: bytes, bound: int) -> int:
    """The bytes the LZF stream `raw` inflates to, counted up to `bound` (more is returned as soon as it passes)."""
    out, i, end = 0, 0, len(raw)
    while i < end and out <= bound:
        ctrl = raw[i]
        i += 1
        if ctrl < 32:  # a literal run of ctrl + 1 bytes
            out += ctrl + 1
            i += ctrl + 1
            continue
        length = ctrl >> 5
        if length == 7:
            length += raw[i] if i < end else 0
            i += 1
        out += length + 2
        i += 1  # the reference's low offset byte
    return out


def check_inflate(ds: Any, start: int | None = None, stop: int | None = None) -> None:
    """Raise `InflatesPast` when a chunk of `ds` holding rows `start:stop` inflates past its declared size, and
    `UnboundedFilter` when `ds` has a filter whose output eidata cannot bound."""
    if ds.chunks is None or not ds.shape:
        return
    dcpl = ds.id.get_create_plist()
    filters = [dcpl.get_filter(i)[0] for i in range(dcpl.get_nfilters())]
    if not filters:
        return
    name = f"{ds.name} in {ds.file.filename}"
    other = [f for f in filters if f not in SIZE_KEPT | {DEFLATE, LZF}]
    packers = [(filters.index(f), f) for f in filters if f in (DEFLATE, LZF)]
    if other or len(packers) > 1:  # two packers: the second's input is the first's output, never measured
        fid = other[0] if other else packers[1][1]
        label = dcpl.get_filter(filters.index(fid))[3].decode("utf-8", "replace") or "unnamed"
        raise UnboundedFilter(
            f"{name}: HDF5 filter {fid} ({label}) sizes its output from the file, which eidata cannot bound "
            f"(it bounds one deflate or LZF filter, with shuffle and Fletcher-32); not read"
        )
    if not packers:
        return
    [(bit, fid)] = packers
    kind = "gzip" if fid == DEFLATE else "LZF"
    declared = math.prod(ds.chunks) * ds.dtype.itemsize
    lo, hi, _ = slice(start, stop).indices(ds.shape[0])
    rows = ds.chunks[0]
    for i in range(ds.id.get_num_chunks()):
        info = ds.id.get_chunk_info(i)
        first = info.chunk_offset[0]
        if first + rows <= lo or first >= hi:
            continue
        _, raw = ds.id.read_direct_chunk(info.chunk_offset)
        if FLETCHER32 in filters and not info.filter_mask & (1 << filters.index(FLETCHER32)):
            raw = raw[:-4]  # the checksum HDF5 appends after the others
        if info.filter_mask & (1 << bit):  # skipped for this chunk (an optional filter that did not shrink it)
            continue
        inflated = (
            len(zlib.decompressobj().decompress(raw, declared + 1)) if fid == DEFLATE else lzf_length(raw, declared + 1)
        )
        if inflated > declared:
            raise InflatesPast(
                f"{name}: {kind} chunk at {tuple(info.chunk_offset)} inflates past the {declared:,} bytes its "
                f"chunk {tuple(ds.chunks)} of {ds.dtype} declares ({len(raw):,} bytes stored); not read"
            )
