"""Where an adapter reads: a `Location`, a local `pathlib.Path` (`LocalPath`) or a `UPath` (universal_pathlib) on an
object store, as `Root` makes them (`Root.location`, `Root.file`), with the methods below.

Adapters keep their pathlib code (`root / "meta"`, `glob`, `read_text`), which a UPath answers by listing objects
through fsspec; what they must not do is hand a Location to a library as a string: `loc.readable()` gives a local file
as a path string and an object as a file object with bounded read-ahead (`reads`); a library that opens files by
path itself is given `loc.path_like()`, an object's read-only pathlib view whose every open is a ranged, metered read.
Episode refs carry paths as strings (URLs, never a credential); `locate(text, options)` turns them back, the source's
`StorageOptions` riding on every path derived (without options the environment decides, `urls.fs_kwargs`); nothing
is registered in a global table.

`readable`, `local_path` and an object's `open` are the doors by which the per-file boundary learns of opens
Python's audit hook does not see (`adapters.storage.declared`). `readable` refuses a Git LFS pointer
(`schemas.lfs.LfsPointer`) and a special file (`NotRegularFile`; review 7 i06: a FIFO named `episode_1.mcap` hung
the job).

An object's `is_file()` says False only for an object that is not there: fsspec's `isfile` answers False for any error
(fsspec/asyn.py `_isfile`, a bare `except`), so a store that does not answer made "x is missing" quarantine rows of
valid episodes (issue 38); the S3 and GCS paths registered here raise such an error instead (`faults`).

Containment (`contained`, `Location.file`): every file an adapter reads lies under its source's root, after `..`,
absolute paths and symlinks. A dataset is data from a third party: a LeRobot `data_path` of `../../x`, an absolute
`video_path`, a folder symlinked to `/home`, a sidecar linked to a key file would make a job read (and publish into the
corpus) any file the worker can read. `contained` resolves both (every symlink followed, `..` folded) and raises
`OutsideRoot` when the path is not under the root; on an object store (no symlinks) the key is normalized and must start
with the root's prefix. Folders' resolutions are cached (`_real_dir`), so a dataset's files cost about one `lstat` each.
`SourceAdapter` checks every discovered ref's `paths` this way; an adapter checks here too any path it builds from the
data while reading (templates, sidecars, paths listed in a table).
"""

from __future__ import annotations

import atexit
import os
import posixpath
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from typing_extensions import TypeIs
from upath import UPath
from upath.implementations.cloud import GCSPath, S3Path
from upath.registry import available_implementations, get_upath_class, register_implementation

from adapters.storage.atomic import undo_on_error
from adapters.storage.beneath import Fence
from adapters.storage.declared import declare, declared
from adapters.storage.object_cache import LocalCache, remove_stale_caches
from adapters.storage.object_path import ObjectPath
from adapters.storage.reads import SEEK_BLOCK, SEEK_MAXBLOCKS, STREAM_BLOCK, ReadMeter, open_seekable, open_stream
from adapters.storage.special import no_pointer, refuse_special
from adapters.storage.urls import filesystem_class, fs_kwargs
from schemas.containment import OutsideRoot
from schemas.faults import environment_fault
from schemas.lfs import MAX_POINTER_BYTES, refuse_pointer
from schemas.settings import current
from schemas.storage import StorageOptions, is_remote, protocol_of

Where = str | os.PathLike[str] | UPath  # what `locate` accepts

_METERS = threading.local()
# the whole-file copies of objects a library can only open by path: bounded (the setting cache_bytes),
# least recently used evicted first, removed when the process exits
_CACHE: list[LocalCache] = []
_CACHE_LOCK = threading.Lock()


class Location:
    """A local `Path` (`LocalPath`) or an object's `UPath` (each store's class, registered below) answers, besides
    pathlib's own: its size, its folder's entries, and the doors by which a
    library opens it (`readable`, `open_binary`, `local_path`, `path_like`)."""

    __slots__ = ()

    if TYPE_CHECKING:  # pathlib's and upath's own, which every Location has (LocalPath, each store's class)

        def __fspath__(self) -> str: ...

        def exists(self, *, follow_symlinks: bool = True) -> bool: ...

    def size(self) -> int:
        """The bytes a file holds: its stat on disk, its object's size in a store."""
        loc: Any = self
        return int(loc.fs.size(loc.path)) if is_object(loc) else os.stat(loc).st_size

    def scan(self) -> list[Entry]:
        """A folder's entries, typed from the listing (`os.scandir` locally, one LIST per 1000 keys on a store: no
        stat or HEAD per entry). Raises FileNotFoundError or NotADirectoryError as `os.scandir` does."""
        loc: Any = self
        if not is_object(loc):
            with os.scandir(loc) as it:
                return [Entry(e.name, e.is_dir(), loc / e.name) for e in it]
        infos = loc.fs.ls(loc.path, detail=True)  # FileNotFoundError for a prefix with nothing under it
        own = loc.path.rstrip("/")
        if len(infos) == 1 and infos[0]["name"].rstrip("/") == own and infos[0]["type"] != "directory":
            raise NotADirectoryError(str(loc))
        out = []
        for info in infos:
            name = info["name"].rstrip("/").rsplit("/", 1)[-1]
            if info["name"].rstrip("/") != own:
                out.append(Entry(name, info["type"] == "directory", loc / name))
        return out

    def file(self, where: Where) -> Location:
        """`where` (absolute, or relative to this folder) when it lies under this folder once both are resolved, else
        `OutsideRoot` (`contained`)."""
        return contained(self, where)

    def outside(self, paths: tuple[str, ...] | list[str]) -> OutsideRoot | None:
        """The first of `paths` that leaves this folder, as the error `file` raises; None when all stay under it."""
        for p in paths:
            try:
                self.file(p)
            except OutsideRoot as e:
                return e
        return None

    @staticmethod
    @contextmanager
    def metering() -> Iterator[ReadMeter]:
        """The sum of what objects opened by `readable` on this thread fetched and handed to their readers."""
        total = ReadMeter()
        active = getattr(_METERS, "active", None)
        if active is None:
            active = _METERS.active = []
        active.append(total)
        try:
            yield total
        finally:
            active.remove(total)

    def listing(self) -> list[Entry]:
        """`scan()`, or no entries where this is missing or not a folder."""
        try:
            return self.scan()
        except (FileNotFoundError, NotADirectoryError):
            return []

    @contextmanager
    def readable(
        self, *, stream: bool = False, block_size: int | None = None, max_blocks: int = SEEK_MAXBLOCKS
    ) -> Iterator[str | IO[bytes]]:
        """What a library opens: a local path as a string, an object as a file object (seekable with at most
        `block_size * max_blocks` bytes held, or with `stream` a front-to-back read one block ahead), closed on exit."""
        loc: Any = self
        with declared(str(loc)):  # to the per-file boundary, which sees no open a library makes itself
            if not is_object(loc):
                # beneath the source's root at this moment, when a read is fenced (beneath.py)
                with Fence.held(loc) as opened:
                    no_pointer(Path(opened), loc)
                    yield opened
                return
            with _object_file(loc, stream, block_size, max_blocks) as f:
                if f.meter.size < MAX_POINTER_BYTES:  # only a small object can be a pointer
                    refuse_pointer(loc, f.inner.read(MAX_POINTER_BYTES))  # past the meter: not the reader's
                    f.seek(0)
                yield f

    @contextmanager
    def open_binary(
        self, *, stream: bool = False, block_size: int | None = None, max_blocks: int = SEEK_MAXBLOCKS
    ) -> Iterator[IO[bytes]]:
        """A binary file object for our own parsers (tfrecord framing, tar members), opened as `readable` opens it."""
        opened = self.readable(stream=stream, block_size=block_size, max_blocks=max_blocks)
        with opened as src, open(src, "rb") if isinstance(src, str) else nullcontext(src) as f:
            yield f

    def local_path(self) -> Path:
        """A local path for a library that can only open a path (projectaria_tools' VRS reader): a local file itself,
        an object as its copy in this process's bounded cache (fetched once, counted by `metering` as read whole)."""
        loc: Any = self
        declare(str(loc))  # the library opens it itself: named to the per-file boundary here (`declared`)
        if not is_object(loc):
            refuse_special(loc)  # the library's open of a FIFO would wait for ever
            return loc
        with _CACHE_LOCK:
            if not _CACHE:
                remove_stale_caches()  # a killed worker's copies: nothing else would ever remove them
                _CACHE.append(LocalCache(current().cache_bytes))
                atexit.register(_CACHE[0].close)
            cache = _CACHE[0]
        before = cache.fetched
        path = cache.path(loc.fs, loc.path)
        copied = cache.fetched - before
        _count(ReadMeter(fetched=copied, requests=1 if copied else 0, used=copied, size=copied))
        return path

    def path_like(self) -> Any:
        """What a library that opens files by path (rosbags' readers call `open`, `stat`, `exists`, `read_text` and
        `/` on what they are given) is given: a local path as it is, refused when it is or its folder holds a special
        file (`refuse_special_tree`: an open of a FIFO waits for ever), an object as an `ObjectPath`."""
        if not is_object(self):
            for part in [self, *(e.path for e in self.listing() if not e.is_dir)]:
                refuse_special(part)  # type: ignore[arg-type]
        return ObjectPath(self) if is_object(self) else self  # type: ignore[arg-type]


class LocalPath(Location, type(Path())):  # type: ignore[misc]
    """A Location on local disk: a `pathlib.Path` with the Location's methods."""

    __slots__ = ()


class _ThisProcess:
    """An object path's filesystem is this process's: UPath keeps the one it made first, and fsspec's async ones
    (s3fs, gcsfs) refuse every call in a process forked after it ("This class is not fork-safe", fsspec/asyn.py
    `loop`), as a parse process is (`hostile.sandbox`; `eidata validate s3://...` failed so). Made again there."""

    @property
    def fs(self) -> Any:
        fs = super().fs  # type: ignore[misc]
        if getattr(fs, "_pid", None) not in (None, os.getpid()):  # fsspec's mark of the process that made it
            fs = self._fs_cached = self._fs_factory(str(self), self.protocol, self.storage_options)  # type: ignore[attr-defined]
        return fs


class _ObjectDoors:
    def open(self, *args: Any, **kwargs: Any) -> Any:
        """An object opened, declared to the per-file boundary (as Python's own open is for a local file)."""
        return _declared(super().open(*args, **kwargs), self)  # type: ignore[misc]

    def __open_reader__(self) -> Any:  # `read_text` and `read_bytes` open through it, not `open`
        return _declared(super().__open_reader__(), self)  # type: ignore[misc]

    def is_file(self, *, follow_symlinks: bool = True) -> bool:
        try:
            return self.fs.info(self.path)["type"] == "file"  # type: ignore[attr-defined]
        except Exception as e:
            if environment_fault(e) is not None:  # the store did not answer: no "missing" from it
                raise
            return False  # not there, or not readable as a file: fsspec's answer


def _declared(f: Any, loc: object) -> Any:
    with undo_on_error(f.close):
        declare(str(loc))  # a file refused by the boundary is refused here
    return f


_OURS: dict[type, type] = {}
for _protocol in available_implementations():
    if _protocol in ("file", "local") or (_base := get_upath_class(_protocol)) is None:
        continue
    if _base not in _OURS:  # every store's path is a Location, its class importable from here (pickle)
        _name = f"Object{_base.__name__}"
        _doors = (_ThisProcess, _ObjectDoors) if _base in (S3Path, GCSPath) else (_ThisProcess,)
        _bases = (Location, *_doors, _base)
        _OURS[_base] = globals()[_name] = type(_name, _bases, {"__slots__": (), "__module__": __name__})
    register_implementation(_protocol, _OURS[_base], clobber=True)


@dataclass(frozen=True)
class Entry:
    """One entry of a folder listing, typed by the listing itself."""

    name: str
    is_dir: bool
    path: Location


def locate(where: Where, options: StorageOptions | None = None) -> Location:
    """A Location for a path, a `file://` URL or an object-store URL; one already made is returned as it is."""
    if isinstance(where, (Path, UPath)) and is_object(where):
        return cast(Location, where)
    if isinstance(where, Path):
        return where if isinstance(where, LocalPath) else LocalPath(os.fspath(where))
    text = os.fspath(where) if not isinstance(where, str) else where
    if not is_remote(text):
        return LocalPath(text.split("://", 1)[1] if "://" in text else text)
    filesystem_class(text)  # `UnknownScheme`: the one refusal of a scheme no store implements
    return UPath(text, **fs_kwargs(protocol_of(text), options))


def is_object(loc: object) -> TypeIs[UPath]:
    """True for a Location on an object store (a UPath that is not a local path)."""
    return isinstance(loc, UPath) and not isinstance(loc, Path)


@contextmanager
def _object_file(loc: UPath, stream: bool, block_size: int | None, max_blocks: int) -> Iterator[Any]:
    meter = ReadMeter()
    f: Any
    if stream:
        f = open_stream(loc.fs, loc.path, block_size=block_size or STREAM_BLOCK, meter=meter)
    else:
        f = open_seekable(loc.fs, loc.path, block_size=block_size or SEEK_BLOCK, max_blocks=max_blocks, meter=meter)
    f.name = str(loc)  # PyAV's and h5py's errors name the file by it, as they name a path
    try:
        yield f
    finally:
        f.close()
        _count(meter)


def _count(meter: ReadMeter) -> None:
    """Add one object's meter to every `metering()` open on this thread."""
    for total in getattr(_METERS, "active", ()):
        total.add(meter)


@lru_cache(maxsize=65536)
def _real_dir(folder: str) -> str:
    return os.path.realpath(folder)


def _real(path: str) -> str:
    """`os.path.realpath(path)` with the folder's resolution cached: one lstat for a file that is not a link."""
    head, tail = os.path.split(path)
    if not tail or tail in (".", ".."):
        return os.path.realpath(path)
    real = os.path.join(_real_dir(head), tail)
    return os.path.realpath(real) if os.path.islink(real) else real


def _under(path: str, root: str, sep: str) -> bool:
    return path == root or path.startswith(root.rstrip(sep) + sep)


def _rooted(root: str, text: str) -> str:
    """`text` joined to the local `root`, unless the caller joined it already: with a relative root, `root / rel` is
    relative to the cwd and lexically under the root, and joining it again read `root/root/rel` (issue 50: `eidata
    validate exports/x` failed a correct dataset on 'exports/x/exports/x/meta/...'). A relative path that could be
    either (a root `data` and a file `data/x` inside it) is the one that exists, the caller's join when neither does.
    An absolute `text` replaces the root, as the join an adapter does."""
    full = os.path.join(root, text)
    if os.path.isabs(text) or os.path.isabs(root):
        return full
    rel = os.path.normpath(text)
    base = os.path.normpath(root)
    if base == "." or not (rel == base or rel.startswith(base + os.sep)):
        return full
    return full if os.path.lexists(full) and not os.path.lexists(text) else text


def contained(root: Where, path: Where) -> Location:
    """`path` (absolute, relative to `root`, or `root / rel` with a relative root) as a Location, when it lies under
    `root` once both are resolved; else OutsideRoot. The Location returned is the path as given (joined to the root),
    not its resolution, so names in lineage and errors stay the dataset's own."""
    text = path if isinstance(path, str) else str(path) if is_object(path) else os.fspath(path)  # an object: its URL
    if isinstance(root, str | Path) and "://" not in str(root) and "://" not in text:  # on disk: no Location built
        full = _rooted(os.fspath(root), text)
        real = _real(os.path.join(os.getcwd(), full))
        if not _under(real, _real_dir(os.path.join(os.getcwd(), root)), os.sep):
            raise OutsideRoot(full, real, str(root))
        return LocalPath(full)
    root_loc = locate(root)
    loc: Location
    if is_object(path):
        loc = cast(Location, path)  # already made, with its store's options
    elif "://" in text and is_object(root_loc):
        loc = cast(Location, UPath(text, **root_loc.storage_options))  # a URL under an object root: its options
    elif os.path.isabs(text) or "://" in text:
        loc = locate(text)
    else:
        loc = root_loc / text if is_object(root_loc) else locate(_rooted(os.fspath(root_loc), text))
    if is_object(root_loc):
        if not is_object(loc) or loc.protocol != root_loc.protocol:
            raise OutsideRoot(str(loc), str(loc), str(root_loc))
        key, prefix = posixpath.normpath(loc.path), posixpath.normpath(root_loc.path)
        if not _under(key, prefix, "/"):
            raise OutsideRoot(str(loc), f"{loc.protocol}://{key}", str(root_loc))
        return loc
    if is_object(loc):
        raise OutsideRoot(str(loc), str(loc), str(root_loc))
    # joined to the cwd, not abspath'd: `link/..` must be folded after the link is followed, as the kernel does
    real, real_root = _real(os.path.join(os.getcwd(), loc)), _real_dir(os.path.join(os.getcwd(), root_loc))
    if not _under(real, real_root, os.sep):
        raise OutsideRoot(str(loc), real, str(root_loc))
    return loc
