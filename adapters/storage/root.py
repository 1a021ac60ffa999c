"""The one storage handle: `Root`, a folder or an object-store prefix named once by a path or a URL (in the spirit of
datatrove's `DataFolder`), opened once, behind every view: a source adapter's `location()`, `Corpus.storage`,
`CorpusFiles.storage`, `Tree.storage`. Callers ask its capabilities (`why_not`, `refusal`), never "is this a bucket?":

- `replaces`: a file once written can be written over; an object store's commit protocol never replaces an object
  (DESIGN.md 3.2);
- `renames`: a folder renames a finished tree into place; an object store has none (trees are put file by file);
- `paths`: a library opens its files by path; an object store's through `file`, the one resolver of a path or URL
  within this storage (its options; `OutsideRoot` past the root). The commit protocol asks it, never its `fs`.

A scheme fsspec does not know (`gz://`, `s4://`) is refused with one message (`urls.UnknownScheme`) before anything
takes it for a local folder: `Path("gs:/b/x")` would be one.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, cast

import fsspec
from upath import UPath

from adapters.storage.location import Location, Where, contained, is_object, locate
from adapters.storage.locks import take
from adapters.storage.objects import copy, exists, list_keys, put, put_if_absent, put_tree
from adapters.storage.urls import UnknownScheme, filesystem, filesystem_class, preflight
from schemas.storage import LockHeldError, StorageOptions, is_remote, protocol_of

MAX_CHECKED = 64  # files of one episode `vanished` looks at, at most (a folder of per-frame images names thousands)
CAPABILITIES = ("replaces", "renames", "paths")
_WHY = {
    "replaces": "objects in a bucket are never replaced",
    "renames": "an object store has no rename",
    "paths": "it is read and written through an object store, not as local paths",
}


class Root:
    """A folder (resolved) or an object-store prefix (the URL without its trailing slash), with its storage options;
    picklable (the options travel with it to Ray workers)."""

    def __init__(self, where: Where, options: StorageOptions | None = None) -> None:
        self._given = where if isinstance(where, UPath) and is_object(where) else None  # its own options kept
        if self._given is not None:
            text = str(where).rstrip("/")
        else:
            text = os.fspath(cast(os.PathLike[str], where)) if not isinstance(where, str) else where
        protocol = protocol_of(text)
        if is_remote(text):
            filesystem_class(text)  # an unknown scheme refused here (`UnknownScheme`), never taken for a folder
        self.options = options
        self.local = not is_remote(text)
        # a folder resolved once (a rerun spelled `corpus/` or `/abs/corpus` is one root); a URL without its slash
        self.where: Path | str = Path(cast(Path, locate(text))).resolve() if self.local else text.rstrip("/")
        self.protocol = protocol
        self.replaces = self.renames = self.paths = self.local

    preflight = staticmethod(preflight)  # a place a command names, checked before any work (`urls.preflight`)

    def __repr__(self) -> str:
        return f"Root({str(self.where)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Root) and (self.where, self.options) == (other.where, other.options)

    def __hash__(self) -> int:
        return hash(str(self.where))

    def why_not(self, capability: str) -> str | None:
        """Why this storage cannot do `capability`; None when it can."""
        if capability not in CAPABILITIES:
            raise KeyError(f"{capability}: not a storage capability ({', '.join(CAPABILITIES)})")
        return None if getattr(self, capability) else _WHY[capability]

    def refusal(self, capability: str, what: str) -> str | None:
        """The one message refusing `what` (as its user asked) on a storage without `capability`; None when it can."""
        why = self.why_not(capability)
        return None if why is None else f"{self.where}: {what}: {why}"

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        return self._fs_path()[0]

    @property
    def path(self) -> str:
        """The root inside its filesystem (`bucket/prefix`, or an absolute local path)."""
        return self._fs_path()[1]

    def _fs_path(self) -> tuple[fsspec.AbstractFileSystem, str]:
        """Opened once per process: s3fs' event loop does not survive a fork (a DataLoader worker of the default
        start method), nor a pickle (a Ray worker)."""
        cached = self.__dict__.get("_opened")
        if cached is None or cached[0] != os.getpid():
            cached = self.__dict__["_opened"] = (os.getpid(), *filesystem(str(self.where), self.options))
        return cached[1], cached[2]

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_opened"}  # opened again where it lands

    def url(self, rel: str = "") -> Path | str:
        """The file or folder `rel` as a reader names it: a path under the folder, or an object's URL."""
        rel = rel.strip("/")
        if self.local:
            return self.where / rel if rel else self.where  # type: ignore[operator]
        return f"{self.where}/{rel}" if rel else self.where

    def key(self, rel: str = "") -> str:
        rel = rel.strip("/")
        return f"{self.path}/{rel}" if rel else self.path

    def location(self, rel: str = "") -> Location:
        """The pathlib view adapters read through (`location`): a Path, or a UPath (a given one keeps its options)."""
        if self._given is not None:
            return cast(Location, self._given / rel.strip("/") if rel.strip("/") else self._given)
        return locate(self.url(rel), self.options)

    def file(self, where: Where) -> Location:
        """The Location of the file or folder `where` (a path or URL within this storage, or one relative to the
        root), read with this storage's options; `OutsideRoot` when it leaves the root once resolved (`contained`)."""
        return contained(self.where if self.local else self.location(), where)

    def read(self, rel: str, start: int | None = None, end: int | None = None) -> bytes:
        """The file `rel` whole, or its bytes [`start`, `end`) (one ranged read)."""
        return self.fs.cat_file(self.key(rel), start=start, end=end)

    def info(self, rel: str) -> dict[str, Any]:
        """What the store says of the file `rel` now (its cached listing dropped first): `size`, its version."""
        self.fresh(rel)
        return self.fs.info(self.key(rel))

    def fresh(self, rel: str = "") -> None:
        """Drop what this process's filesystem cached of `rel` (s3fs keeps listings): the next ask goes to the store."""
        self.fs.invalidate_cache(self.key(rel))

    def keys(self, rel: str = "", start_after: str | None = None) -> list[str]:
        """Every file under the folder `rel` (recursive), relative to the root, sorted; `start_after` (relative): only
        those sorting after it."""
        after = None if start_after is None else self.key(start_after)
        return [k[len(self.path) + 1 :] for k in list_keys(self.fs, self.key(rel), start_after=after)]

    def remove(self, rel: str) -> None:
        self.fs.rm_file(self.key(rel))

    def size(self, rel: str) -> int:
        return int(self.fs.size(self.key(rel)))

    def list(self, rel: str = "") -> list[str]:
        """The names directly under `rel` (files and folders), sorted; none when there is nothing."""
        try:
            found = self.fs.ls(self.key(rel), detail=False)
        except FileNotFoundError:
            return []
        return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in found)

    def exists(self, rel: str) -> bool:
        return exists(self.fs, self.key(rel))

    def put(self, rel: str, data: bytes, *, exclusive: bool = False) -> Path | str:
        """Write the file `rel` whole (atomically: a reader sees the old bytes or the new); `exclusive`: a `create`
        that fails with FileExistsError when the file exists. Returns `url(rel)`."""
        if not exclusive:
            put(self.fs, self.key(rel), data)
        elif self.exists(rel) or not self.create(rel, data):
            raise FileExistsError(f"{self.url(rel)} already exists")
        return self.url(rel)

    def create(self, rel: str, data: bytes) -> bool:
        """A conditional create of the file `rel`: True when this call made it, False when it exists (of racing
        writers exactly one gets True: the store decides, `objects.put_if_absent`)."""
        return put_if_absent(self.fs, self.key(rel), data)

    def lock(self, rel: str, wait_s: float | None = None) -> int:
        """The exclusive flock on the local file `rel` (made, with its folder), taken with this process's record in it:
        its descriptor, held until closed. Waited for up to `wait_s` seconds (None: as long as it is held; 0: not at
        all; a wait past a second is said, naming the holder: `locks.take`), else `LockHeldError` naming the holder.
        A bucket has no lock file (its outputs are held by their lease, `lease.py`)."""
        if (why := self.refusal("paths", f"a lock on {rel}")) is not None:
            raise ValueError(why)
        path = Path(cast(Path, self.where)) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if (holder := take(fd, path, wait_s)) is not None:
            os.close(fd)
            raise LockHeldError(path, holder.pid, str(holder))
        return fd

    def put_folder(self, folder: Path, rel: str = "") -> int:
        """Every file under the local `folder` put at `rel/<its relative path>`; the number of files."""
        return put_tree(self.fs, folder, self.key(rel))

    def copy(self, rel: str, to: str) -> None:
        """The file `rel` copied to `to` within this storage (server-side on a store)."""
        copy(self.fs, self.key(rel), self.key(to))

    def vanished(self, paths: Sequence[str], *, all_seen: bool = False) -> str | None:
        """Why this source changed since discovery, asked after a read failed (reliability review 6, N52): its root
        gone, or every checked file of the episode's discovered `paths` gone (an adapter may name a sidecar it
        expected and never saw: one missing from the start stays the episode's defect, `ENOENT` being a data errno),
        or with `all_seen` (refs naming only files discovery saw, `SourceAdapter.refs_seen`: review 7 f6, a LeRobot
        `videos/` moved away for a moment) any of them; None when it is still as discovery saw it. Moving a source
        away mid-job made every later episode a permanent data quarantine; this makes it the environment's. An
        error while looking (a store that does not answer) propagates: the environment's by `environment_fault`."""
        if not self.location().exists():
            return (
                f"the source root {self.where} is gone since discovery (moved, unmounted or deleted); rerun once it "
                "is back"
            )
        checked = paths[:MAX_CHECKED]
        gone = [p for p in checked if not locate(p, self.options).exists()]
        if checked and len(gone) == len(checked):
            return (
                f"none of the episode's {len(checked)} discovered files exists any more (first: {checked[0]}): the "
                "source changed under the reader; rerun once it is back"
            )
        if all_seen and gone:
            return (
                f"{len(gone)} of the episode's {len(checked)} files discovery found are gone since (first: {gone[0]}): "
                "the source changed under the reader; rerun once it is back"
            )
        return None

    @staticmethod
    def boundary_name(where: Any, *, urls: bool = True) -> str | None:
        """`where` as the per-file boundary (`adapters.hostile.isolated`) names files: an absolute local path, or an
        object's URL (a `UPath` on a store, or its text) without a trailing "/"; None for anything else (a descriptor, a
        `file://` URL Python opens itself, and any URL without `urls`: Python's own open of one is not a file it
        opens)."""
        if isinstance(where, UPath):
            where = str(where)
        try:
            text = os.fsdecode(os.fspath(where))
        except TypeError:
            return None
        if "://" in text:
            return None if text.startswith("file://") or not urls else text.rstrip("/")
        return os.path.abspath(text)

    @staticmethod
    def present(name: str) -> bool:
        """Whether the file the boundary named `name` is there: a local file, or an object (taken as there)."""
        return "://" in name or os.path.isfile(name)

    @staticmethod
    def folder_of(where: Where) -> Path | None:
        """The local folder `where` names (resolved); None for an object store, and for a scheme no store implements
        (which the command that opens it refuses, `UnknownScheme`)."""
        try:
            root = Root(where)
        except UnknownScheme:
            return None
        return root.where if root.paths else None  # type: ignore[return-value]

    @staticmethod
    def local_folders(values: Iterable[object]) -> builtins.list[Path]:
        """The folders among a command's corpus, source and output arguments, which a dry run's guard watches
        (`jobs.runtime.dry_run.refusing_writes`); an object store's prefix names none: its handle only reads
        (`PlanTree`)."""
        return [Path(v) for v in values if isinstance(v, (str, os.PathLike)) and Root.folder_of(v) is not None]

    @staticmethod
    def lies_in(inner: Where, outer: Where) -> bool:
        """True when the folder `inner` is the folder `outer` or lies inside it (both resolved); False where either is
        an object store's prefix (no overlap of prefixes is checked) or a scheme no store implements."""
        a, b = Root.folder_of(inner), Root.folder_of(outer)
        return a is not None and b is not None and a.is_relative_to(b)

    @staticmethod
    def parse_where(value: str | os.PathLike[str], base: Path) -> Path | str:
        """A root or output as a spec names it: an object-store URL kept as text (a Path would fold its `//`) without
        its trailing slash; a path or a `file://` URL made absolute and normalized against `base` (the spec file's
        folder)."""
        text = os.fspath(value)
        if is_remote(text):
            return text.rstrip("/")
        return Path(os.path.normpath(base / Path(text.removeprefix("file://")).expanduser()))

    @staticmethod
    def folder_problem(where: Path | str, *, must_exist: bool = True) -> str | None:
        """What is wrong with `where` as a folder on this machine (missing, or a file: a typo naming a file gave a
        "successful" job of 0 episodes); None when it is fine or a URL (checked with its options by `preflight`)."""
        if is_remote(str(where)):
            return None
        path = Path(where)
        if not path.exists():
            return f"does not exist: {path}" if must_exist else None
        return None if path.is_dir() else f"is not a folder: {path}"

    @staticmethod
    def output_problem(where: Path | str) -> str | None:
        """What keeps `where` from being a job's output: a URL must be s3:// (exactly-once commits stand on S3's
        conditional put, If-None-Match; GCS's ifGenerationMatch=0 is not wired); an existing path must be a folder."""
        if is_remote(str(where)) and protocol_of(str(where)) not in ("s3", "s3a"):
            return (
                f"{where}: a bucket output must be s3:// (an S3-compatible store): its exactly-once commits stand on"
                " S3's conditional put (If-None-Match), and GCS's own (ifGenerationMatch=0) is not wired; write to a"
                " local folder or an s3:// bucket and copy the finished corpus there (roots may be gs://)"
            )
        problem = Root.folder_problem(where, must_exist=False)
        return None if problem is None else f"exists and {problem}"
