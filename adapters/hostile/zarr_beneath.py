"""A Zarr folder read so that no open leaves it, whatever changes on disk between the check and the read (issue 58).

`sealed.sealed_folder` checks a store's symlinks when it is opened, but zarr's `LocalStore` then opens each chunk by
its path, every link followed, so a link swapped in after the check is read as data. `BeneathStore`, the `LocalStore`
eidata opens folders with (`adapters.arrays.stores.open_store`), opens every key (reads, `exists`, `getsize`, the
listings) relative to a descriptor of the store's folder held from its construction, by `Fence.open_beneath`: one
`openat` per key component with O_NOFOLLOW (Linux's `openat2(RESOLVE_BENEATH)`, which Python does not expose), a link
followed by hand only when it stays inside, a link target's `..` folded by name. Each key's open raises Python's "open"
audit event with its whole path, so the per-file boundary (`adapters.hostile.isolated`) sees which file a parse failed
in.
"""

from __future__ import annotations

import asyncio
import errno
import os
import posixpath
import stat
import sys
import weakref
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

from zarr.abc.store import ByteRequest, OffsetByteRequest, RangeByteRequest, SuffixByteRequest
from zarr.core.buffer import Buffer, BufferPrototype, default_buffer_prototype
from zarr.storage import LocalStore

from adapters.storage.beneath import Fence
from schemas.settings import check, limit

__all__ = ["BeneathStore"]

_ABSENT = (FileNotFoundError, NotADirectoryError, IsADirectoryError)
_META = frozenset({".zarray", ".zattrs", ".zgroup", ".zmetadata", "zarr.json"})  # zarr v2's and v3's JSON documents


def _read(fd: int, byte_range: ByteRequest | None, key: str) -> bytes:
    """The bytes of `byte_range` (all by default) of the file open as `fd` (closed here), named `key`; one of zarr's
    JSON documents (`_META`), which zarr parses whole, within the JSON_BYTES limit, as every door's JSON is."""
    st = os.fstat(fd)
    if stat.S_ISDIR(st.st_mode):
        os.close(fd)  # `fdopen` would refuse it and leave it open
        raise IsADirectoryError(errno.EISDIR, "a folder, not a chunk")
    if posixpath.basename(key) in _META and st.st_size > (bound := limit("JSON_BYTES")):
        os.close(fd)
        check(f"{key} size in bytes", st.st_size, bound, "the limit")
    with os.fdopen(fd, "rb") as f:
        start, end = 0, st.st_size
        if isinstance(byte_range, RangeByteRequest):
            start, end = byte_range.start, min(byte_range.end, st.st_size)
        elif isinstance(byte_range, OffsetByteRequest):
            start = byte_range.offset
        elif isinstance(byte_range, SuffixByteRequest):
            start = max(0, st.st_size - byte_range.suffix)
        elif byte_range is not None:
            raise TypeError(f"Unexpected byte_range, got {byte_range}.")
        f.seek(start)
        return f.read(max(0, end - start))


class BeneathStore(LocalStore):
    """zarr's LocalStore, read-only, every key opened beneath the folder's descriptor (`open_beneath`)."""

    def __init__(self, root: Path | str, *, read_only: bool = True, name: str | None = None) -> None:
        if not read_only:
            raise ValueError("BeneathStore reads only")
        super().__init__(root, read_only=True)
        # the folder's path as the source names it: `root` may be the descriptor a fenced open handed out
        # (`Fence.held`: /proc/self/fd/N), which no per-file boundary knows as a file of the source
        self._name = name or str(self.root)
        self._fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self._real = os.path.realpath(self.root)
        self._closer = weakref.finalize(self, os.close, self._fd)

    def with_read_only(self, read_only: bool = True) -> BeneathStore:
        return type(self)(self.root, read_only=read_only, name=self._name)

    def close(self) -> None:
        super().close()
        self._closer()

    def _open_key(self, key: str) -> int:
        # the "open" audit event Python raises for `open(path)`, with the whole path: the per-file boundary
        # (adapters.hostile.isolated) sees the key, where each `openat` raises it with one component
        whole = os.path.join(self._name, key)
        sys.audit("open", whole, "r", os.O_RDONLY)
        return Fence.open_beneath(self._fd, self._real, key, str(self.root))

    def _get(self, key: str, prototype: BufferPrototype | None, byte_range: ByteRequest | None) -> Buffer | None:
        try:
            data = _read(self._open_key(key), byte_range, os.path.join(self._name, key))
        except _ABSENT:
            return None
        return (prototype or default_buffer_prototype()).buffer.from_bytes(data)

    def get_sync(self, key: str, *, prototype: Any = None, byte_range: ByteRequest | None = None) -> Buffer | None:
        self._ensure_open_sync()
        return self._get(key, prototype, byte_range)

    async def get(self, key: str, prototype: Any = None, byte_range: ByteRequest | None = None) -> Buffer | None:
        if not self._is_open:
            await self._open()
        return await asyncio.to_thread(self._get, key, prototype, byte_range)

    async def get_partial_values(
        self, prototype: BufferPrototype, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Buffer | None]:
        return list(await asyncio.gather(*(self.get(k, prototype, r) for k, r in key_ranges)))

    def _stat(self, key: str) -> os.stat_result | None:
        try:
            fd = self._open_key(key)
        except _ABSENT:
            return None
        try:
            return os.fstat(fd)
        finally:
            os.close(fd)

    async def exists(self, key: str) -> bool:
        st = await asyncio.to_thread(self._stat, key)
        return st is not None and stat.S_ISREG(st.st_mode)

    async def getsize(self, key: str) -> int:
        st = await asyncio.to_thread(self._stat, key)
        if st is None or not stat.S_ISREG(st.st_mode):
            raise FileNotFoundError(errno.ENOENT, "no such key", f"{self.root}/{key}")
        return st.st_size

    def _entries(self, prefix: str) -> list[tuple[str, bool | None]]:
        """(name, True: a folder / False: a file / None: a link) for the entries of the folder `prefix`."""
        try:
            fd = self._open_key(prefix)
        except _ABSENT:
            return []
        try:
            if not stat.S_ISDIR(os.fstat(fd).st_mode):
                return []
            with os.scandir(fd) as entries:
                return [(e.name, None if e.is_symlink() else e.is_dir(follow_symlinks=False)) for e in entries]
        finally:
            os.close(fd)

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        for name, _ in await asyncio.to_thread(self._entries, prefix.rstrip("/")):
            yield name  # links too, as LocalStore lists them: opened beneath when read

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        """The files under `prefix`, folders descended, links not (as LocalStore's `rglob`, here for files too)."""
        todo = [prefix.rstrip("/")]
        while todo:
            here = todo.pop()
            for name, is_dir in await asyncio.to_thread(self._entries, here):
                key = posixpath.join(here, name) if here else name
                if is_dir:
                    todo.append(key)
                elif is_dir is False:
                    yield key

    async def list(self) -> AsyncIterator[str]:
        async for key in self.list_prefix(""):
            yield key
