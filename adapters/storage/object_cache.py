"""A bounded local cache of bucket objects for training, shared by the DataLoader workers of one machine.

An epoch reads every training file again, so what the first epoch fetched from the bucket is kept on local disk. The
cache is a folder of immutable files named by what they hold (the object's URL, its version from the store's listing,
and for a parquet projection its columns), so a changed object is a new name and a stale copy is never read. Several
processes (DataLoader workers, ranks of one node) use one folder:

- a file is written under `tmp/` and renamed into place, so no reader ever opens a half-written file;
- the bound holds across processes: under an exclusive `flock` a writer reserves its bytes by creating its temp file
  at full size, then evicts the least recently used files (mtime, touched on every hit) until entries plus
  reservations fit; the fetch itself runs outside the lock, the rename into place under it (a rename between another
  writer's scan of the entries and its scan of the reservations would hide those bytes from both: seen once in the
  suite, the bound passed by 768 bytes); `used_bytes` reads under it too, so it never sees a file twice;
- a file evicted while a reader holds it open stays readable (POSIX unlink); a reader that finds its entry gone between
  lookup and open asks again (`Cache.use`); the temp files of a process that died are removed by the next writer.

Every fetch is appended to `fetch.log` (one short line, an O_APPEND write), so what all workers fetched is countable.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

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

    def __init__(self, root: str | os.PathLike[str], max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = int(max_bytes)
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
        """Store `size` bytes written by `write(fd)` as entry `name` and return its path. `what` names the object in
        errors and in the fetch log (a URL: never a credential); `fetched`: the bytes the store sent for it, logged
        (default `size`: a whole copy)."""
        if size > self.max_bytes:
            raise CacheFullError(
                f"{what}: {size} bytes exceed the training cache bound of {self.max_bytes} bytes (raise cache_bytes)"
            )
        while (tmp := self._reserve(name, size, what)) is None:
            # another process is fetching this very entry: wait for its rename rather than fetch it twice
            if (found := self.lookup(name)) is not None:
                return found
            time.sleep(0.02)
        try:
            fd = os.open(tmp, os.O_WRONLY)
            try:
                write(fd)
                if os.fstat(fd).st_size != size:
                    raise OSError(f"{what}: wrote {os.fstat(fd).st_size} bytes, expected {size}")
            finally:
                os.close(fd)
            final = self.root / name
            with self._locked():
                os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self._log(size if fetched is None else fetched, what)
        return final

    def use(self, name: str, fetch: Callable[[], Path], read: Callable[[Path], T]) -> T:
        """`read(path)` of the entry, fetched first when absent, fetched again if it was evicted before `read`
        opened it."""
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

    def used_bytes(self) -> int:
        """Entries plus reservations now on disk (what the bound limits), one consistent reading."""
        with self._locked():
            return sum(size for _, size, _ in self._entries()) + self._reserved()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the flock

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

    def _tmp_files(self) -> list[Path]:
        return [p for p, _, _ in self._entries(TMP)]

    def _reserved(self) -> int:
        """Bytes reserved by writers (read under the lock: a rename into place takes it too)."""
        return sum(size for _, size, _ in self._entries(TMP))

    def _reserve(self, name: str, size: int, what: str) -> Path | None:
        """A temp file of `size` bytes (sparse) once entries + reservations + size fit the bound; None when another
        live process holds a reservation for `name` or has just stored it."""
        deadline = time.monotonic() + WAIT_S
        while True:
            with self._locked():
                self._drop_dead_reservations()
                if (self.root / name).exists() or any(p.name.startswith(name + ".") for p in self._tmp_files()):
                    return None
                entries = sorted(self._entries(), key=lambda e: e[2])  # oldest use first
                reserved = self._reserved()
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
                    f"{what}: {size} bytes do not fit the training cache bound of {self.max_bytes} bytes beside "
                    f"{reserved} bytes other workers are fetching (raise cache_bytes)"
                )
            time.sleep(0.05)

    def _drop_dead_reservations(self) -> None:
        for p in self._tmp_files():
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


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return None
