"""Data that is not there, found before it is read as values (issue 55 item 5).

An HDF5 dataset whose chunks were never written, or a contiguous one whose storage was never allocated, reads as its
fill value with h5py without a word (HDF5's H5Dread fills what has no storage: the dataset creation property's fill
value, zeros by default). A recorder killed between `create_dataset(shape=...)` and its writes, or a dataset resized
and not filled, leaves exactly that. `h5_unwritten` finds such rows from the chunk index alone; `bounds.read_array`,
the door every HDF5 dataset is read through, calls it, and readers of h5py's low-level calls (AgiBot Genie's per-frame
groups) call it themselves. Zarr's counterpart is `adapters.arrays.stores.unwritten`; both raise `AbsentData`. Not
judged here: a virtual dataset (its sources are other files) and a dataset stored in external raw files.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np


class AbsentData(ValueError):
    """Rows of an array that hold no data: chunks never written (HDF5 and Zarr read them as the fill value, silently),
    storage never allocated, or chunk files that are Git LFS pointers. `file` and `dataset` name where, when known."""

    def __init__(self, message: str, *, file: str | None = None, dataset: str | None = None) -> None:
        super().__init__(message)
        self.file, self.dataset = file, dataset


def h5_unwritten(ds: Any, start: int | None = None, stop: int | None = None) -> None:
    """AbsentData when any of rows [start, stop) of the HDF5 dataset `ds` (an h5py Dataset or its low-level
    DatasetID) has no storage: a chunk never written, or a contiguous dataset never allocated. The message names the
    dataset, its file and the rows. Reads the chunk index only; one call when every chunk exists."""
    import h5py  # not at import: `AbsentData` is imported by every adapter, most of which never open HDF5

    dsid = ds.id if isinstance(ds, h5py.Dataset) else ds
    shape = tuple(dsid.shape or ())
    if not shape or 0 in shape:
        return  # a scalar is written with its header; an empty dataset holds nothing to miss
    first, last = slice(start, stop).indices(shape[0])[:2]
    if last <= first:
        return
    plist = dsid.get_create_plist()
    layout = plist.get_layout()
    if layout == h5py.h5d.VIRTUAL or plist.get_external_count() > 0:
        return
    if layout != h5py.h5d.CHUNKED:
        if dsid.get_storage_size() == 0:  # compact data lives in the header: only a contiguous one can lack it
            _absent(ds, plist, f"no storage was ever allocated (rows 0..{shape[0] - 1} never written)")
        return
    chunks = tuple(plist.get_chunk())
    grid = [-(-n // c) for n, c in zip(shape, chunks, strict=True)]
    if dsid.get_num_chunks() == int(np.prod(grid)):
        return  # every chunk of the dataset is written (the common case: one call)
    present: set[tuple[int, ...]] = set()
    dsid.chunk_iter(lambda info: present.add(tuple(o // c for o, c in zip(info.chunk_offset, chunks, strict=True))))
    wanted = itertools.product(range(first // chunks[0], -(-last // chunks[0])), *(range(g) for g in grid[1:]))
    missing = sorted({c[0] for c in wanted if c not in present})
    if not missing:
        return
    spans = _spans([(max(first, r * chunks[0]), min(last, (r + 1) * chunks[0]) - 1) for r in missing])
    shown = ", ".join(f"{a}..{b}" for a, b in spans[:4]) + (" ..." if len(spans) > 4 else "")
    rows = sum(b - a + 1 for a, b in spans)
    _absent(ds, plist, f"{rows} of rows {first}..{last - 1} lie in chunks never written (rows {shown})")


def _absent(ds: Any, plist: Any, what: str) -> None:
    """Raise AbsentData for `ds`: `<dataset> in <file>: <what>: h5py would read them as the fill value <v>`."""
    import h5py

    dsid = ds.id if isinstance(ds, h5py.Dataset) else ds
    file, name = (x.decode(errors="replace") for x in (h5py.h5f.get_name(dsid), h5py.h5i.get_name(dsid)))
    fill = _fill(ds, plist)
    raise AbsentData(
        f"{name} in {file}: {what}: h5py would read them as the fill value {fill}; not read", file=file, dataset=name
    )


def _fill(ds: Any, plist: Any) -> str:
    """The fill value h5py would return, as text (0 when the file declares none)."""
    value = getattr(ds, "fillvalue", None)
    if value is None:
        buf = np.zeros((1,), dtype=getattr(ds, "dtype", None) or np.float64)
        try:
            plist.get_fill_value(buf)
            value = buf[0]
        except (TypeError, ValueError):
            return "0"
    return repr(value.item() if hasattr(value, "item") else value)


def _spans(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Adjacent (first, last) row ranges merged."""
    out: list[tuple[int, int]] = []
    for a, b in ranges:
        if out and a == out[-1][1] + 1:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out
