"""One view of an array store, whichever library holds it: a Zarr group (v2 or v3, a directory or a `.zip` store,
read by zarr-python 3) or an HDF5 file (h5py). `Store` lists every array and group by path from the root, gives the
attributes of any group and reads rows of an array; nothing is read before it is asked for."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from adapters.arrays.layouts import Container
from adapters.storage import bounds
from adapters.storage.h5 import open_h5
from adapters.storage.location import Location, is_object

ZARR_MARKERS = (".zgroup", "zarr.json")  # a v2 / v3 group's metadata file


def container_of(path: Location) -> Container | None:
    """What `path` is: a Zarr directory (its root group's metadata file), a `.zip` (a zipped Zarr store), an
    HDF5 file (`.hdf5`, `.h5`, `.he5`), else None."""
    name = path.name.lower()
    if path.is_dir():
        return "zarr" if any((path / m).is_file() for m in ZARR_MARKERS) else None
    if name.endswith(".zip"):
        return "zarr"
    if name.endswith((".hdf5", ".h5", ".he5")):
        return "hdf5"
    return None


@dataclass(frozen=True)
class ArrayInfo:
    shape: tuple[int, ...]
    dtype: np.dtype


class Store:
    """The arrays (path -> shape, dtype), groups and attributes of one open store."""

    def __init__(self, container: Container, root: Any) -> None:
        self.container, self._root = container, root
        self.arrays: dict[str, ArrayInfo] = {}
        self.groups: set[str] = {""}
        if container == "hdf5":
            root.visititems(self._visit_h5)
        else:
            for name, node in root.members(max_depth=None):
                if hasattr(node, "shape"):
                    self.arrays[name] = ArrayInfo(tuple(node.shape), np.dtype(node.dtype))
                else:
                    self.groups.add(name)
        self.keys = frozenset(self.arrays) | frozenset(self.groups - {""})

    def _visit_h5(self, name: str, node: Any) -> None:
        if hasattr(node, "shape"):
            self.arrays[name] = ArrayInfo(tuple(node.shape), node.dtype)
        else:
            self.groups.add(name)

    def attrs(self, group: str = "") -> dict[str, Any]:
        node = self._root[group] if group else self._root
        return {k: _plain(v) for k, v in node.attrs.items()}

    def all_attrs(self, groups: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        return {g: self.attrs(g) for g in groups if g in self.groups}

    def read(self, key: str, start: int | None = None, stop: int | None = None) -> np.ndarray:
        return bounds.read_array(self._root[key], f"{key} of the {self.container} store", start, stop)


@contextmanager
def open_store(path: Location, container: Container) -> Iterator[Store]:
    """`path` open read-only as a `Store`; OSError / ValueError when it is not a readable store of that kind."""
    if container == "hdf5":
        with open_h5(path) as f:
            yield Store("hdf5", f)
        return
    if is_object(path):
        raise ValueError("Zarr stores are read from local paths only (this one is in an object store)")
    import zarr  # only a job that reads Zarr pays for the import

    local = Path(str(path))
    inner = _zip_root(local) if local.is_file() else ""  # before the ZipStore: one never opened cannot be closed
    zip_store = zarr.storage.ZipStore(local, mode="r") if local.is_file() else None
    try:
        group = zarr.open_group(zip_store or zarr.storage.LocalStore(local, read_only=True), mode="r", path=inner)
        yield Store("zarr", group)
    finally:
        if zip_store is not None:
            zip_store.close()


def _zip_root(local: Path) -> str:
    """Where the root group sits in a zip: its root (zarr's ZipStore, UMI's `dataset.zarr.zip`), or the shallowest
    folder holding a group's metadata (`zip -r x.zip replay_buffer.zarr` puts the store one folder down)."""
    with zipfile.ZipFile(local) as z:
        marks = [n for n in z.namelist() if n.rsplit("/", 1)[-1] in ZARR_MARKERS]
    if not marks:
        raise ValueError("no Zarr group metadata (.zgroup or zarr.json) in this zip")
    top = min(marks, key=lambda n: n.count("/"))
    return top.rsplit("/", 1)[0] if "/" in top else ""


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):  # np.bytes_ too: its item() is bytes, decoded below
        v = v.item()
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return v
