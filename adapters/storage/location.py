"""Where an adapter reads: a `Location`, a local `pathlib.Path` or a `UPath` (universal_pathlib) on an object store.

Adapters keep their pathlib code (`root / "meta"`, `glob`, `read_text`), which a UPath answers by listing objects
through fsspec; what they must not do is hand a Location to a library as a string: `readable(loc)` gives a local file
as a path string and an object as a file object with bounded read-ahead (`reads`); a library that opens files by
path itself is given `path_like(loc)`, an object's read-only pathlib view whose every open is a ranged, metered read.
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
"""

from __future__ import annotations

import atexit
import os
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from typing_extensions import TypeIs
from upath import UPath
from upath.implementations.cloud import GCSPath, S3Path
from upath.registry import register_implementation

from adapters.storage.atomic import undo_on_error
from adapters.storage.beneath import held
from adapters.storage.declared import declare, declared
from adapters.storage.faults import environment_fault
from adapters.storage.object_cache import LocalCache, remove_stale_caches
from adapters.storage.reads import SEEK_BLOCK, SEEK_MAXBLOCKS, STREAM_BLOCK, ReadMeter, open_seekable, open_stream
from adapters.storage.urls import filesystem_class, fs_kwargs
from schemas.lfs import MAX_POINTER_BYTES, refuse_pointer
from schemas.settings import current
from schemas.storage import StorageOptions, is_remote, protocol_of

Location = Path | UPath
Where = str | os.PathLike[str] | UPath  # what `locate` accepts

_METERS = threading.local()
# the whole-file copies of objects a library can only open by path: bounded (the setting cache_bytes),
# least recently used evicted first, removed when the process exits
_CACHE: list[LocalCache] = []
_CACHE_LOCK = threading.Lock()


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


class ObjectS3Path(_ObjectDoors, S3Path):
    __slots__ = ()


class ObjectGCSPath(_ObjectDoors, GCSPath):
    __slots__ = ()


for _protocol, _cls in (("s3", ObjectS3Path), ("s3a", ObjectS3Path), ("gs", ObjectGCSPath), ("gcs", ObjectGCSPath)):
    register_implementation(_protocol, _cls, clobber=True)


def locate(where: Where, options: StorageOptions | None = None) -> Location:
    """A Location for a path, a `file://` URL or an object-store URL; one already made is returned as it is."""
    if isinstance(where, (Path, UPath)) and is_object(where):
        return where
    if isinstance(where, Path):
        return where if type(where).__module__.startswith("pathlib") else Path(os.fspath(where))
    text = os.fspath(where) if not isinstance(where, str) else where
    if not is_remote(text):
        return Path(text.split("://", 1)[1] if "://" in text else text)
    filesystem_class(text)  # `UnknownScheme`: the one refusal of a scheme no store implements
    return UPath(text, **fs_kwargs(protocol_of(text), options))


def is_object(loc: object) -> TypeIs[UPath]:
    """True for a Location on an object store (a UPath that is not a local path)."""
    return isinstance(loc, UPath) and not isinstance(loc, Path)


def file_size(loc: Where) -> int:
    """The bytes a file holds: its stat on disk, its object's size in a store."""
    loc = locate(loc)
    return int(loc.fs.size(loc.path)) if is_object(loc) else os.stat(loc).st_size


@dataclass(frozen=True)
class Entry:
    """One entry of a folder listing, typed by the listing itself."""

    name: str
    is_dir: bool
    path: Location


def scan(loc: Where) -> list[Entry]:
    """A folder's entries, typed from the listing (`os.scandir` locally, one LIST per 1000 keys on a store: no stat
    or HEAD per entry). Raises FileNotFoundError or NotADirectoryError as `os.scandir` does."""
    loc = locate(loc)
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


def listing(loc: Where) -> list[Entry]:
    """`scan(loc)`, or no entries where `loc` is missing or not a folder."""
    try:
        return scan(loc)
    except (FileNotFoundError, NotADirectoryError):
        return []


@contextmanager
def readable(
    loc: Where, *, stream: bool = False, block_size: int | None = None, max_blocks: int = SEEK_MAXBLOCKS
) -> Iterator[str | IO[bytes]]:
    """What a library opens: a local path as a string, an object as a file object (seekable with at most
    `block_size * max_blocks` bytes held, or with `stream` a front-to-back read one block ahead), closed on exit."""
    loc = locate(loc)
    with declared(str(loc)):  # to the per-file boundary, which sees no open a library makes itself
        if not is_object(loc):
            with held(loc) as opened:  # beneath the source's root at this moment, when a read is fenced (beneath.py)
                _no_pointer(Path(opened), loc)
                yield opened
            return
        with _object_file(loc, stream, block_size, max_blocks) as f:
            size = f.meter.size if hasattr(f, "meter") else getattr(f, "size", MAX_POINTER_BYTES)  # `reads._open`
            if size < MAX_POINTER_BYTES:  # only a small object can be a pointer
                # past the meter: not the reader's
                refuse_pointer(loc, getattr(f, "inner", f).read(MAX_POINTER_BYTES))
                f.seek(0)
            yield f


class NotRegularFile(OSError, ValueError):
    """A source file that is a FIFO, a socket or a device: refused before it is opened (an open waits for a writer
    that never comes, a read never ends). No errno: the data's, and a ValueError, as whichever an adapter catches."""

    def __init__(self, path: Where, kind: str) -> None:
        self.path, self.kind = str(path), kind
        super().__init__(f"{path}: not a regular file ({kind}): not opened")


_SPECIAL: tuple[tuple[Callable[[int], bool], str], ...] = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
)
_SPECIAL += ((stat.S_ISBLK, "a block device"),)


def special_kind(loc: Where) -> str | None:
    """What a local path is when it is a special file ("a FIFO", ...), else None (a file, a folder, nothing there,
    an object: a store holds none). One stat, following a link (where it leads is the containment's question)."""
    if is_object(loc := locate(loc)):
        return None
    try:
        return _special(os.stat(loc).st_mode)
    except OSError:
        return None


def _special(mode: int) -> str | None:
    return next((kind for test, kind in _SPECIAL if test(mode)), None)


def refuse_special(loc: Where) -> None:
    """`NotRegularFile` for a special file (`special_kind`)."""
    if (kind := special_kind(loc)) is not None:
        raise NotRegularFile(loc, kind)


def refuse_special_tree(loc: Where) -> None:
    """`NotRegularFile` for a local special file, or a local folder holding one (a store holds none)."""
    if not is_object(loc):
        for part in [loc, *(e.path for e in listing(loc) if not e.is_dir)]:
            refuse_special(part)


def is_location(value: object) -> bool:
    """A path or a URL (a str, an os.PathLike, a UPath), as opposed to a file object a caller opened."""
    return isinstance(value, (str, os.PathLike, UPath))


def _no_pointer(path: Path, name: Path) -> None:
    """LfsPointer (`schemas.lfs`) naming `name` when the local file `path` is a Git LFS pointer, `NotRegularFile`
    when it is a special file; a stat, and a read of the few bytes of a file small enough to be a pointer."""
    try:
        st = os.stat(path)
    except OSError:
        return  # not there: the library's own error says so
    if (kind := _special(st.st_mode)) is not None:
        raise NotRegularFile(name, kind)
    if st.st_size < MAX_POINTER_BYTES and not stat.S_ISDIR(st.st_mode):
        with open(path, "rb") as f:
            refuse_pointer(name, f.read(MAX_POINTER_BYTES))


@contextmanager
def open_binary(
    loc: Where, *, stream: bool = False, block_size: int | None = None, max_blocks: int = SEEK_MAXBLOCKS
) -> Iterator[IO[bytes]]:
    """A binary file object for our own parsers (tfrecord framing, tar members), opened as `readable` opens it."""
    opened = readable(loc, stream=stream, block_size=block_size, max_blocks=max_blocks)
    with opened as src, open(src, "rb") if isinstance(src, str) else nullcontext(src) as f:
        yield f


@contextmanager
def _object_file(loc: UPath, stream: bool, block_size: int | None, max_blocks: int) -> Iterator[IO[bytes]]:
    meter = ReadMeter()
    if stream:
        f = open_stream(loc.fs, loc.path, block_size=block_size or STREAM_BLOCK, meter=meter)
    else:
        f = open_seekable(loc.fs, loc.path, block_size=block_size or SEEK_BLOCK, max_blocks=max_blocks, meter=meter)
    f.name = str(loc)  # type: ignore[misc]  # PyAV's and h5py's errors name the file by it, as they name a path
    try:
        yield f
    finally:
        f.close()
        _count(meter)


def _count(meter: ReadMeter) -> None:
    """Add one object's meter to every `metering()` open on this thread."""
    for total in getattr(_METERS, "active", ()):
        total.add(meter)
        total.size += meter.size


def local_path(loc: Where) -> Path:
    """A local path for a library that can only open a path (projectaria_tools' VRS reader): a local file itself, an
    object as its copy in this process's bounded cache (fetched once, counted by `metering` as read whole)."""
    loc = locate(loc)
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


def path_like(loc: Location) -> Any:
    """What a library that opens files by path (rosbags' readers call `open`, `stat`, `exists`, `read_text` and `/` on
    what they are given) is given: a local path as it is, refused when it is or its folder holds a special file
    (`refuse_special_tree`: an open of a FIFO waits for ever), an object as an `ObjectPath`."""
    refuse_special_tree(loc)
    return ObjectPath(loc) if is_object(loc) else loc


_ANSWERED = frozenset({"name", "stem", "suffix", "exists", "is_dir"})


class ObjectPath:
    """rosbags' path protocol over an object-store Location: every open is a ranged, metered read."""

    def __init__(self, loc: Location) -> None:
        self.loc = loc

    def __str__(self) -> str:
        return str(self.loc)

    def __repr__(self) -> str:
        return f"ObjectPath({self.loc})"

    def __truediv__(self, key: Any) -> ObjectPath:
        return ObjectPath(self.loc / str(key))

    def __getattr__(self, attr: str) -> Any:
        if attr in _ANSWERED:  # name, stem, suffix, exists, is_dir: the Location's own
            return getattr(self.loc, attr)
        raise AttributeError(attr)

    def stat(self, *, follow_symlinks: bool = True) -> Any:
        return self.loc.stat()

    def read_text(self, encoding: str | None = None) -> str:
        with open_binary(self.loc) as f:
            return f.read().decode(encoding or "utf-8")

    def open(self, mode: str = "rb", *args: Any, **kwargs: Any) -> _Held:
        if "r" not in mode or "+" in mode:
            raise PermissionError(f"{self.loc}: bags on an object store are read only")
        stack = ExitStack()
        return _Held(stack.enter_context(open_binary(self.loc)), stack)


class _Held:
    """A file object whose `close` also leaves the context it was opened in (so the read meter counts it)."""

    def __init__(self, f: IO[bytes], stack: ExitStack) -> None:
        self._f, self._stack = f, stack

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)

    def __enter__(self) -> _Held:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()
