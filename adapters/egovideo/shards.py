"""WebDataset shards read in place: a plain `.tar` (or `.tar.gz`) of samples whose members share a key, indexed from
the tar headers alone and opened member by member as seekable file objects, never extracted to disk.

Grouping follows webdataset's own reader (webdataset/webdataset `webdataset/tariterators.py`): a member's key is its
path up to the first dot of its basename and the rest is its extension, lower-cased (`base_plus_ext`, regex
`^((?:.*/|)[^.]+)[.]([^/]*)$`); consecutive members with the same key form one sample (`group_by_keys`), so a key that
comes back later starts another sample, and a sample holding the same extension twice is an error; only regular
files count, and `__...__` names are metadata, skipped (`tar_file_iterator`).

Why `tarfile` and not the `webdataset` package: webdataset's iterator reads every member whole into memory
(`stream.extractfile(tarinfo).read()`) to stream samples for training, and brings a torch-style pipeline for what is,
here, the grouping rule above. `tarfile` on an uncompressed shard gives each member as a seekable window on the shard
file (`TarFile.extractfile`), so PyAV demuxes and seeks inside the mp4 without a copy, and discovery reads headers only
(the data blocks are skipped by seeking). A compressed shard cannot be seeked cheaply: it still works, by decompressing
up to the member.
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO

from adapters.storage.location import Location

SHARD_SUFFIXES = (".tar", ".tar.gz", ".tgz")
_BASE_PLUS_EXT = re.compile(r"^((?:.*/|)[^.]+)[.]([^/]*)$")
_META = re.compile(r"__[^/]*__($|/)")


def base_plus_ext(name: str) -> tuple[str, str] | None:
    """(key, extension) of a member name as webdataset splits it, or None for a name without an extension."""
    m = _BASE_PLUS_EXT.match(name)
    return (m.group(1), m.group(2).lower()) if m else None


@dataclass
class Sample:
    """One webdataset sample: its key and, per extension, the member's header offset and size in the shard."""

    key: str
    members: dict[str, tuple[int, int]] = field(default_factory=dict)  # ext -> (header offset, data size)
    error: str | None = None


HEADER_BLOCK = 64 << 10


def is_shard(path: Location) -> bool:
    return path.is_file() and path.name.lower().endswith(SHARD_SUFFIXES)


def index_shard(path: Location) -> list[Sample]:
    """The samples of a shard in tar order, from its headers (no member data is read from an uncompressed shard).
    Raises `tarfile.TarError` / `OSError` for a shard that is not a readable tar."""
    samples: list[Sample] = []
    # small blocks: on an object store only the headers' blocks are fetched, not the members between them
    with path.open_binary(block_size=HEADER_BLOCK) as raw, tarfile.open(fileobj=raw, mode="r:*") as tf:
        for info in tf:
            tf.members = []  # keep no list of every header: shards hold thousands of members
            if not info.isreg() or _META.match(info.name) or ("/" not in info.name and info.name.startswith("__")):
                continue
            split = base_plus_ext(info.name)
            if split is None:
                continue
            key, ext = split
            if not samples or samples[-1].key != key:
                samples.append(Sample(key))
            sample = samples[-1]
            if ext in sample.members:
                sample.error = f"member {info.name!r} repeats extension {ext!r} within sample {key!r}"
            sample.members[ext] = (info.offset, info.size)
    return samples


@contextmanager
def open_member(path: Location, offset: int) -> Iterator[IO[bytes]]:
    """The member whose header starts at `offset`, as a seekable read-only file object on the shard itself."""
    with path.open_binary() as raw, tarfile.open(fileobj=raw, mode="r:*") as tf:
        tf.fileobj.seek(offset)
        member = tf.extractfile(tarfile.TarInfo.fromtarfile(tf))
        if member is None:
            raise tarfile.TarError(f"member at offset {offset} of {path} is not a regular file")
        with member:
            yield member


def read_member(path: Location, offset: int) -> bytes:
    """A small member's bytes (a json/txt sidecar)."""
    with open_member(path, offset) as f:
        return f.read()
