"""One view of an array store, whichever library holds it: a Zarr group (v2 or v3, a directory or a `.zip` store,
read by zarr-python 3) or an HDF5 file (h5py). `Store` lists every array and group by path from the root, gives the
attributes of any group and reads rows of an array; nothing is read before it is asked for.

Where each episode of an array store lies under its layout (`layouts.yaml` `episodes`): a replay buffer's rows cut at
its `episode_ends`, one group per demo, or the whole file; and how many rows each array holds for one episode.
"""

from __future__ import annotations

import asyncio
import itertools
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from adapters.arrays.layouts import Container, Layout, matches
from adapters.base import natural_key, reraised
from adapters.hostile import bounds
from adapters.hostile.absent import AbsentData
from adapters.hostile.h5 import open_h5
from adapters.hostile.sealed import sealed_folder
from adapters.storage.beneath import Fence
from adapters.storage.location import Location
from adapters.storage.root import Root
from schemas.lfs import MAX_POINTER_BYTES, pointer_message, pointer_size
from schemas.settings import check, limit

ZARR_MARKERS = (".zgroup", "zarr.json")  # a v2 / v3 group's metadata file


def container_of(path: Location) -> Container | None:
    """What `path` is: a Zarr folder (its root group's metadata), a `.zip` (zipped Zarr), an HDF5 file, else None."""
    name = path.name.lower()
    if name.endswith((".hdf5", ".h5", ".he5")):  # a folder by that name too: its open fails naming it (issue 85)
        return "hdf5"
    if path.is_dir():
        return "zarr" if any((path / m).is_file() for m in ZARR_MARKERS) else None
    if name.endswith(".zip"):
        return "zarr"
    return None


@dataclass(frozen=True)
class ArrayInfo:
    shape: tuple[int, ...]
    dtype: np.dtype


class Store:
    """The arrays (path -> shape, dtype), groups and attributes of one open store."""

    def __init__(self, container: Container, root: Any, where: str = "") -> None:
        self.container, self._root, self.where = container, root, where
        self.arrays: dict[str, ArrayInfo] = {}
        self.groups: set[str] = {""}
        if container == "hdf5":
            root.visititems(self._add)
        else:
            for name, node in root.members(max_depth=None):
                self._add(name, node)
        self.keys = frozenset(self.arrays) | frozenset(self.groups - {""})

    def _add(self, name: str, node: Any) -> None:
        if hasattr(node, "shape"):
            self.arrays[name] = ArrayInfo(tuple(node.shape), np.dtype(node.dtype))
        else:
            self.groups.add(name)

    def attrs(self, group: str = "") -> dict[str, Any]:
        node = self._root[group] if group else self._root
        return {k: _plain(v) for k, v in node.attrs.items()}

    def all_attrs(self, groups: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        return {g: self.attrs(g) for g in groups if g in self.groups}

    def read(self, key: str, start: int | None = None, stop: int | None = None) -> np.ndarray:
        """Rows [start, stop) of the array `key`, whose chunks must hold data (`unwritten`, `bounds.read_array`)."""
        arr = self._root[key]
        where = f"{key} of {self.where or 'the zarr store'}"
        present = (lambda: unwritten(arr, where, start, stop)) if self.container == "zarr" else None
        try:
            return bounds.read_array(arr, start, stop, present)
        except (RuntimeError, ValueError, EOFError, zlib.error) as e:
            # a codec's own refusal (numcodecs: "error during blosc decompression", a header stating more than the
            # chunk holds), or a chunk decoding to other than its shape: zarr raises either naming no chunk; eidata's
            # own refusals (TooLarge, AbsentData, ReachesOutside: subclasses) name theirs
            if self.container != "zarr" or type(e) not in (RuntimeError, ValueError, EOFError, zlib.error):
                raise
            raise ValueError(f"{where}: a chunk does not decode to {arr.chunks} of {arr.dtype} ({e})") from e


@contextmanager
def open_store(path: Location, container: Container) -> Iterator[Store]:
    """`path` open read-only as a `Store`; OSError / ValueError when it is not a readable store of that kind."""
    if container == "hdf5":
        with open_h5(path) as f:
            yield Store("hdf5", f, str(path))
        return
    if (refused := Root(path).refusal("paths", "Zarr stores are read from local paths only")) is not None:
        raise ValueError(refused)
    import zarr  # only a job that reads Zarr pays for the import

    from adapters.hostile.zarr_beneath import BeneathStore

    # the store itself opened beneath the source's root now (`Fence.held`: a store swapped for a link since
    # discovery is refused), then read through that descriptor's path; a zip cut short or not a zip is a ValueError
    # naming it, as any other unreadable store (zipfile's own error is no OSError nor ValueError: issue 85)
    not_zip = reraised(zipfile.BadZipFile, lambda e: ValueError(f"{path}: not a readable zip ({e})"))
    with not_zip, Fence.held(Path(str(path))) as opened:
        local = Path(opened)
        if local.is_dir():
            sealed_folder(local, str(path))  # refused at the open, naming the link; reads stay beneath it
        inner = _zip_root(local) if local.is_file() else ""  # before the ZipStore: one never opened cannot be closed
        # a folder: every key opened beneath the folder's descriptor, no link followed out, whatever changed since
        store = zarr.storage.ZipStore(local, mode="r") if local.is_file() else BeneathStore(local, name=str(path))
        try:
            yield Store("zarr", zarr.open_group(store, mode="r", path=inner), str(path))
        finally:
            store.close()


def unwritten(arr: Any, what: str, start: int | None = None, stop: int | None = None) -> None:
    """AbsentData naming `what` and the chunk keys when a chunk of the Zarr array `arr` under rows [start, stop) was
    never written, or is a Git LFS pointer file: zarr-python returns the fill value for a missing chunk key without a
    word (zarr.core.array: a chunk absent from the store is `fill_value`), so absence must be found by its keys."""
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.sync import sync

    # a sharded array stores one key per shard (its inner chunks inside it): the keys are the shards'
    shape, chunks = tuple(arr.shape), tuple(getattr(arr, "shards", None) or arr.chunks)
    if not shape or 0 in shape:
        return
    first, last = slice(start, stop).indices(shape[0])[:2]
    if last <= first:
        return
    grid = [range(first // chunks[0], -(-last // chunks[0]))]
    grid += [range(-(-n // c)) for n, c in zip(shape[1:], chunks[1:], strict=True)]
    prefix = f"{arr.store_path.path}/" if arr.store_path.path else ""
    keys = [prefix + arr.metadata.encode_chunk_key(c) for c in itertools.product(*grid)]
    store = arr.store_path.store

    async def sizes() -> list[int | None]:
        async def one(k: str) -> int | None:
            return await store.getsize(k) if await store.exists(k) else None

        out: list[int | None] = []
        for i in range(0, len(keys), 1024):  # in batches: 100k chunks' coroutines at once took 530 MiB
            out += await asyncio.gather(*(one(k) for k in keys[i : i + 1024]))
        return out

    got = sync(sizes())
    missing = [k for k, n in zip(keys, got, strict=True) if n is None]
    if missing:
        shown = ", ".join(k.removeprefix(prefix) for k in missing[:3]) + (" ..." if len(missing) > 3 else "")
        raise AbsentData(
            f"{what}: {len(missing)} of its {len(keys)} chunks for rows {first}..{last - 1} were never written "
            f"({shown}): zarr would read them as the fill value {arr.fill_value!r}; not read"
        )
    for k, n in zip(keys, got, strict=True):
        if n is not None and n < MAX_POINTER_BYTES:
            buf = sync(store.get(k, prototype=default_buffer_prototype()))
            size = pointer_size(buf.to_bytes()) if buf is not None else None
            if size is not None:
                raise AbsentData(f"{what}: chunk {k.removeprefix(prefix)} is a {pointer_message(size)}")


def _zip_root(local: Path) -> str:
    """Where the root group sits in a zip: its root (zarr's ZipStore, UMI's `dataset.zarr.zip`), or the shallowest
    folder holding a group's metadata (`zip -r x.zip replay_buffer.zarr` puts the store one folder down)."""
    with zipfile.ZipFile(local) as z:
        infos = z.infolist()
    marks = [i.filename for i in infos if i.filename.rsplit("/", 1)[-1] in ZARR_MARKERS]
    if not marks:
        raise ValueError("no Zarr group metadata (.zgroup or zarr.json) in this zip")
    top = min(marks, key=lambda n: n.count("/"))
    return top.rsplit("/", 1)[0] if "/" in top else ""


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):  # np.bytes_ too: its item() is bytes, decoded below
        v = v.item()
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else v


def episodes_of(store: Store, layout: Layout) -> Iterator[tuple[str, dict[str, Any]]]:
    """(label, locator) per episode of `store` under `layout`; ValueError when its episode index is unusable."""
    spec = layout.episodes
    if spec.ends:
        ends = store.read(spec.ends).astype(np.int64).reshape(-1)
        rows = base_rows(store, spec.base)
        check("rows", rows, limit("ROWS"), "the ROWS limit")
        if len(ends) == 0:
            raise ValueError(f"{spec.ends} is empty: the buffer holds no episode")
        if ends[0] <= 0 or np.any(np.diff(ends) <= 0) or ends[-1] > rows:
            raise ValueError(
                f"{spec.ends} must rise strictly from > 0 to at most the {rows} rows of {spec.base}/ "
                f"(found {ends[:3].tolist()}...{ends[-1]})"
            )
        starts = np.concatenate([[0], ends[:-1]])
        for i, (a, b) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
            yield f"episode_{i}", {"rows": [a, b]}
    elif spec.groups:
        groups = [g for g in matches(frozenset(store.groups), spec.groups)]
        if not groups:
            raise ValueError(f"no group {spec.groups}")
        for g in sorted(groups, key=natural_key):
            yield g.rsplit("/", 1)[-1], {"group": g}
    else:
        yield "", {}


def base_rows(store: Store, base: str) -> int:
    """The rows of a replay buffer: the length its arrays under `base` share (the most common one)."""
    lengths = [info.shape[0] for k, info in store.arrays.items() if k.startswith(base + "/") and info.shape]
    if not lengths:
        raise ValueError(f"no array under {base}/")
    values, counts = np.unique(lengths, return_counts=True)
    return int(values[np.argmax(counts)])


def rows_per_array(store: Store, base: str, start: int | None, stop: int | None, layout: Layout) -> dict[str, int]:
    """path under `base` -> the rows it holds for this episode, for every array that is not skipped."""
    prefix = base + "/" if base else ""
    out = {}
    for key, info in store.arrays.items():
        if not key.startswith(prefix) or not info.shape:
            continue
        rel = key[len(prefix) :]
        if any_of(rel, layout.skip) or (layout.episodes.ends and key == layout.episodes.ends):
            continue
        out[rel] = info.shape[0] if start is None else max(0, min(info.shape[0], stop) - start)
    return out


def any_of(rel: str, patterns: tuple[str, ...]) -> bool:
    return any(matches(frozenset([rel]), p) for p in patterns)


def join(base: str, rel: str) -> str:
    return f"{base}/{rel}" if base else rel
