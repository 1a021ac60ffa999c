"""The bounded local cache of objects that a library reads by path: training's, shared by the DataLoader workers of one
machine (`Cache`), and a process's private one for libraries that can only open a path (`LocalCache`,
`location.local_path`). An epoch reads every training file again, so what the first fetched is kept on local disk.

The cache is a folder of immutable files named by what they hold (the object's URL, its version from the store's
listing, and for a parquet projection its columns), so a changed object is a new name and a stale copy is never read.
Several processes (DataLoader workers, ranks of one node) use one folder:

- a file is written under `tmp/` and renamed into place, so no reader ever opens a half-written file;
- the bound holds across processes: under an exclusive `flock` a writer reserves its bytes by creating its temp file
  at full size, then evicts the least recently used files (mtime, touched on every hit) until entries plus
  reservations fit; the fetch runs outside the lock, the rename into place under it (a rename between another
  writer's scan of the entries and its scan of the reservations would hide those bytes from both: seen once in the
  suite, the bound passed by 768 bytes);
- a file evicted while a reader holds it open stays readable (POSIX unlink); a reader that finds its entry gone between
  lookup and open asks again (`Cache.use`); the temp files of a process that died are removed by the next writer;
- every fetch is appended to `fetch.log` (one short line, an O_APPEND write), so what all workers fetched is countable.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from adapters.storage.atomic import undo_on_error
from adapters.storage.locks import flocked
from adapters.storage.reads import STREAM_BLOCK, ReadMeter, open_stream

T = TypeVar("T")

LOCK = ".lock"
TMP = "tmp"
FETCH_LOG = "fetch.log"
WAIT_S = 120.0  # how long a writer waits for other writers' reservations to leave room


class CacheFullError(OSError):
    """The bound cannot hold a file: it is larger than the bound, or other writers hold the room for too long."""


def entry_name(url: str, version: str, variant: str = "") -> str:
    """The cache's file name for one object version (and projection): a hash, with the object's suffix kept."""
    digest = hashlib.sha256(f"{url}\0{version}\0{variant}".encode()).hexdigest()[:40]
    suffix = Path(url).suffix if not variant else ".parquet"
    return digest + suffix


class Cache:
    """The cache folder `root`, holding at most `max_bytes` of entries plus in-flight reservations."""

    bound, hint = "training cache bound", "raise cache_bytes"  # how errors name the bound and its remedy

    def __init__(self, root: str | os.PathLike[str], max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = int(max_bytes)
        self.fetched = 0  # bytes this process copied whole from the store (`copy`), evicted copies fetched again too
        (self.root / TMP).mkdir(parents=True, exist_ok=True)

    def lookup(self, name: str) -> Path | None:
        """The entry's path when present (its mtime touched: recently used), else None."""
        path = self.root / name
        try:
            os.utime(path)
        except FileNotFoundError:
            return None
        return path

    def put(self, name: str, size: int, write: Callable[[int], None], *, what: str, fetched: int | None = None) -> Path:
        """Store `size` bytes written by `write(fd)` as entry `name`; its path. `what` names the object in errors and
        the fetch log (a URL, never a credential); `fetched`: what the store sent (default `size`: a whole copy)."""
        if size > self.max_bytes:
            raise CacheFullError(
                f"{what}: {size} bytes exceed the {self.bound} of {self.max_bytes} bytes ({self.hint})"
            )
        while (tmp := self._reserve(name, size, what)) is None:
            # another process is fetching this very entry: wait for its rename rather than fetch it twice
            if (found := self.lookup(name)) is not None:
                return found
            time.sleep(0.02)
        with undo_on_error(lambda: tmp.unlink(missing_ok=True)):
            fd = os.open(tmp, os.O_WRONLY)
            try:
                write(fd)
                if os.fstat(fd).st_size != size:
                    raise OSError(f"{what}: wrote {os.fstat(fd).st_size} bytes, expected {size}")
            finally:
                os.close(fd)
            final = self.root / name
            with flocked(self.root / LOCK):
                os.replace(tmp, final)
        self._log(size if fetched is None else fetched, what)
        return final

    def use(self, name: str, fetch: Callable[[], Path], read: Callable[[Path], T]) -> T:
        """`read(path)` of the entry, fetched when absent, again if it was evicted before `read` opened it."""
        for _ in range(3):
            path = self.lookup(name) or fetch()
            inode = _inode(path)
            if inode is None:
                continue  # evicted between the lookup and now
            try:
                return read(path)
            except Exception:
                if _inode(path) == inode:
                    raise  # the reader's own error, not an eviction
                # evicted under the reader: each library says so its own way (FileNotFoundError, ArrowInvalid, ...)
        raise CacheFullError(f"{name}: evicted three times before it could be read; the cache bound is too small")

    def copy(
        self,
        fs: Any,
        key: str,
        read: Callable[[Path], T],
        *,
        what: str = "",
        version: str = "",
        size: int | None = None,
        meter: ReadMeter | None = None,
    ) -> T:
        """`read(path)` of the whole copy of the object `key` of `fs` (`what`, its URL, names it; `version` tells its
        versions apart), streamed in once and kept until evicted; what the store sent is added to `meter`."""
        name, what = entry_name(what or key, version), what or key

        def fetch() -> Path:
            m = ReadMeter()

            def write(fd: int) -> None:
                with open_stream(fs, key, block_size=STREAM_BLOCK, meter=m) as src:
                    while chunk := src.read(STREAM_BLOCK):
                        write_all(fd, chunk)

            total = int(fs.info(key)["size"]) if size is None else size
            path = self.put(name, total, write, what=what)
            self.fetched += total
            if meter is not None:
                meter.add(m)
            return path

        return self.use(name, fetch, read)

    def _entries(self, folder: str = "") -> list[tuple[Path, int, float]]:
        """(path, size, mtime) of the entries, or of the files in `folder` (TMP: the reservations)."""
        out = []
        with os.scandir(self.root / folder) as it:
            for e in it:
                if e.is_file() and (folder or e.name not in (LOCK, FETCH_LOG)):
                    try:
                        st = e.stat()
                    except FileNotFoundError:
                        continue
                    out.append((Path(e.path), st.st_size, st.st_mtime))
        return out

    def _reserve(self, name: str, size: int, what: str) -> Path | None:
        """A temp file of `size` bytes (sparse) once entries + reservations + size fit the bound; None when another
        live process holds a reservation for `name` or has just stored it."""
        deadline = time.monotonic() + WAIT_S
        while True:
            with flocked(self.root / LOCK):
                self._drop_dead_reservations()
                reservations = self._entries(TMP)  # read under the lock: a rename into place takes it too
                if (self.root / name).exists() or any(p.name.startswith(name + ".") for p, _, _ in reservations):
                    return None
                entries = sorted(self._entries(), key=lambda e: e[2])  # oldest use first
                reserved = sum(s for _, s, _ in reservations)
                used = sum(s for _, s, _ in entries) + reserved
                while entries and used + size > self.max_bytes:
                    path, s, _ = entries.pop(0)
                    path.unlink(missing_ok=True)
                    used -= s
                if used + size <= self.max_bytes:
                    tmp = self.root / TMP / f"{name}.{os.getpid()}.{time.monotonic_ns()}"
                    with open(tmp, "wb") as f:
                        f.truncate(size)  # the reservation: its size counts against the bound at once
                    return tmp
            if time.monotonic() > deadline:
                raise CacheFullError(
                    f"{what}: {size} bytes do not fit the {self.bound} of {self.max_bytes} bytes beside "
                    f"{reserved} bytes other workers are fetching ({self.hint})"
                )
            time.sleep(0.05)

    def _drop_dead_reservations(self) -> None:
        for p, _, _ in self._entries(TMP):
            try:
                pid = int(p.name.rsplit(".", 2)[-2])
                os.kill(pid, 0)
            except ProcessLookupError:
                p.unlink(missing_ok=True)
            except (ValueError, PermissionError):
                continue

    def _log(self, size: int, what: str) -> None:
        line = f"{size}\t{what}\n".encode()
        fd = os.open(self.root / FETCH_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


CACHE_PREFIX = "eidata-cache-"


def remove_stale_caches(root: str | os.PathLike[str] | None = None) -> list[Path]:
    """Remove the `LocalCache` folders under `root` (the temp folder) whose process is gone (SIGKILLed: its `close`
    never ran); returns them. A folder whose pid is alive, or that is not ours by name, is left alone."""
    removed = []
    for d in Path(root or tempfile.gettempdir()).glob(f"{CACHE_PREFIX}*-*"):
        pid = d.name[len(CACHE_PREFIX) :].split("-", 1)[0]
        if not pid.isdigit() or not d.is_dir():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
        except PermissionError:
            pass  # alive, another user's
    return removed


class LocalCache(Cache):
    """A `Cache` in a private temp folder of this process, its objects named by key (whole-file copies, each fetched
    once until evicted); `close()` removes the folder."""

    bound, hint = "local cache bound", "raise the setting cache_bytes"

    def __init__(self, max_bytes: int, root: str | os.PathLike[str] | None = None) -> None:
        # the pid in the name lets a later process remove the folder of one that was killed (`remove_stale_caches`)
        self.dir = Path(tempfile.mkdtemp(prefix=f"{CACHE_PREFIX}{os.getpid()}-", dir=root))
        super().__init__(self.dir, max_bytes)

    def path(self, fs: Any, key: str) -> Path:
        """A local path holding the object `key` of the filesystem `fs`."""
        return self.copy(fs, key, lambda p: p)

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return None


def write_all(fd: int, data: bytes) -> None:
    """All of `data` to the file descriptor `fd` (a cache entry's writer)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
