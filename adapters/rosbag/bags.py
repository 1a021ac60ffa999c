"""Finding bags under a root and opening them with `rosbags` (ternaris/rosbags, pure Python: no ROS install).

A bag is a ROS 2 folder holding `metadata.yaml` (its `relative_file_paths`: `.mcap` or sqlite3 `.db3` files), a bare
`.mcap` or `.db3` file, or a ROS 1 `.bag` file (rosbags' own dispatch: `AnyReader` reads a path whose suffix is `.bag`
as ROS 1, anything else as ROS 2; `rosbag2.Reader` picks the storage plugin by the file's suffix or the folder's
metadata). A local bag is handed to rosbags as a `pathlib.Path`; a bag on an object store as a `BagPath`, which
answers rosbags' path protocol (`rosbags.interfaces.typing.RPath`: exists, is_dir, open, read_text, stat, `/`, name,
stem, suffix) through `adapters.storage.location`, so every read is a ranged read of the object (`open_binary`), the
sqlite3 plugin's too (its apsw VFS reads through `RPath.open`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import rosbags.rosbag1.reader
from rosbags.highlevel import AnyReader
from rosbags.interfaces.typing import Typesdict
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from adapters.storage.location import Location

KINDS = {".bag": "ros1", ".mcap": "mcap", ".db3": "db3"}  # a bag file's kind by its suffix (ROS 1; ROS 2 storages)
# Types a bag without embedded definitions (sqlite3 bags before rosbag2 stored them) is read with: ROS 2 Humble's,
# the first LTS that records MCAP by default (rosbags' `Stores.ROS2_HUMBLE`).
DEFAULT_TYPES = Stores.ROS2_HUMBLE


def _checked_chunks() -> None:
    """A ROS 1 chunk whose inflated size is other than the `size` its header declares is refused, naming both.

    rosbags 0.11.9 inflates a ROS 1 chunk (`rosbag1/reader.py` `Reader.read_chunk`: bz2 or lz4) and never reads the
    chunk's declared `size`, where its MCAP reader compares them (`rosbag2/storage_mcap.py`: "Chunk size mismatch").
    rosbags has no hook for this, so ROS 1's `read_chunk` is replaced in place, once, when this module is imported
    (every bag is opened through `open_bag` below). What an inflate may cost is the parse process's memory limit's
    (issue 84): a 14.5 KB bz2 bag inflating to 4 GiB is killed by it, naming the bag."""
    reader1 = rosbags.rosbag1.reader.Reader
    if not getattr(reader1.read_chunk, "checked", False):
        reader1.read_chunk = _ros1_read_chunk(reader1.read_chunk)  # type: ignore[method-assign]


def _ros1_read_chunk(read_chunk: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """rosbags' `Reader.read_chunk` (called once per chunk when a ROS 1 bag is opened), whose chunk then inflates to
    the `size` its header declares or is refused."""

    def checked(self: Any) -> Any:
        at = self.bio.tell()
        chunk = read_chunk(self)
        end = self.bio.tell()
        self.bio.seek(at)
        header = rosbags.rosbag1.reader.Header.read(self.bio, rosbags.rosbag1.reader.RecordType.CHUNK)
        self.bio.seek(end)
        codec, size = header.get_string("compression"), header.get_uint32("size")
        if codec == "none":
            return chunk
        return chunk._replace(decompressor=partial(_ros1_chunk, chunk.decompressor, codec, size))

    checked.checked = True  # type: ignore[attr-defined]
    return checked


def _ros1_chunk(decompress: Callable[[bytes], bytes], codec: str, size: int, data: bytes) -> bytes:
    raw = decompress(data)
    if len(raw) != size:
        raise ValueError(f"ROS 1 {codec} chunk inflates to {len(raw):,} bytes, its header declares {size:,}")
    return raw


_checked_chunks()


@dataclass(frozen=True)
class FoundBag:
    """One bag under a root: its location, its id (the path under the root) and its format."""

    path: Location
    rel: str
    kind: str  # "ros2 folder", "mcap", "db3", "ros1"


def find_bags(root: Location, max_depth: int) -> Iterator[FoundBag]:
    """Every bag under `root` in path order (listing only, nothing opened): a folder with `metadata.yaml` is one bag
    and is not searched further; a `.mcap` / `.db3` / `.bag` file elsewhere is one bag. The root may itself be a bag."""
    if not root.is_file():
        yield from _walk(root, "", max_depth)
    elif kind := _file_kind(root.name):
        yield FoundBag(root, root.name, kind)


def _walk(folder: Location, rel: str, depth: int) -> Iterator[FoundBag]:
    entries = sorted(folder.listing(), key=lambda e: e.name)
    if any(e.name == "metadata.yaml" and not e.is_dir for e in entries):
        yield FoundBag(folder, rel or folder.name, "ros2 folder")
        return
    for e in entries:
        if e.name.startswith("."):
            continue
        sub = f"{rel}/{e.name}" if rel else e.name
        if e.is_dir:
            if depth > 0:
                yield from _walk(e.path, sub, depth - 1)
        elif kind := _file_kind(e.name):
            yield FoundBag(e.path, sub, kind)


def _file_kind(name: str) -> str | None:
    return next((kind for suffix, kind in KINDS.items() if name.lower().endswith(suffix)), None)


def message_types(folder: Location, max_depth: int) -> Typesdict:
    """The types of every `<package>/msg/<Type>.msg` under `folder` (a package checkout such as PX4/px4_msgs, or a
    workspace's `src/`), for bags that hold no definitions; ValueError when there is none or one does not parse."""
    types: Typesdict = {}
    for path, name in _msg_files(folder, max_depth):
        with path.open_binary() as f:
            types.update(get_types_from_msg(f.read().decode(), name))
    if not types:
        raise ValueError(f"no <package>/msg/<Type>.msg under {folder} (searched {max_depth} folders deep)")
    get_typestore(DEFAULT_TYPES).register(types)  # a definition that clashes with a standard type's fails here
    return types


def _msg_files(folder: Location, depth: int) -> Iterator[tuple[Location, str]]:
    for e in sorted(folder.listing(), key=lambda e: e.name):
        if e.is_dir and e.name == "msg":
            for m in sorted(e.path.listing(), key=lambda m: m.name):
                if not m.is_dir and m.name.endswith(".msg"):
                    yield m.path, f"{folder.name}/msg/{m.name.removesuffix('.msg')}"
        elif e.is_dir and depth > 0 and not e.name.startswith("."):
            yield from _msg_files(e.path, depth - 1)


@contextmanager
def open_bag(bag: Location, types: Typesdict | None = None) -> Iterator[AnyReader]:
    """An open `AnyReader` over one bag (ROS 1 or ROS 2); a bag without definitions is read with ROS 2 Humble's
    types and `types` (`message_types`: a robot's own). A bag in an object store is read by ranges through
    `path_like` (rosbags opens what it is given by path). A local bag that is, or whose folder holds, a special file
    is refused before rosbags opens it (`NotRegularFile`: an open of a FIFO waits for ever; a store holds none)."""
    store = get_typestore(DEFAULT_TYPES)
    store.register(types or {})
    reader = AnyReader([bag.path_like()], default_typestore=store)
    with reader:
        for db3 in _db3_files(bag):  # sqlite reads them itself: the "open" audit event Python raises for a file, sent
            sys.audit("open", str(db3), "r", os.O_RDONLY)  # for each, so the parse boundary names the file it read
        yield reader


def _db3_files(bag: Location) -> list[Location]:
    """The sqlite3 storage files of a bag: the bag itself, or those of its folder."""
    kind = _file_kind(bag.name)
    if kind is not None:  # a bag file
        return [bag] if kind == "db3" else []
    return [e.path for e in sorted(bag.listing(), key=lambda e: e.name) if _file_kind(e.name) == "db3"]


def log_times(reader: AnyReader) -> np.ndarray:
    """Every message's log time (ns) in an open bag, unsorted: a ROS 1 bag's from its index, which `open_bag` has
    read (rosbag1 `Reader.indexes`: connection id -> IndexData(time, chunk_pos, offset); no chunk inflated: bz2
    inflates at ~11 MB/s here: the PR2 camera bag cut by 1 s windows took 0.34 s reading it, 0.05 s so), any
    other's by reading its messages."""
    parts = []
    for r in reader.readers:
        index = getattr(r, "indexes", None)
        if isinstance(index, dict):
            parts.append(np.fromiter((e.time for entries in index.values() for e in entries), np.int64))
        else:
            parts.append(np.fromiter((t for _, t, _ in r.messages()), np.int64))
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)
