"""A corpus as every job sees it: one handle (`Corpus.open(where, options, job)`), opened once per job, for
a local folder or a bucket URL alike. Its `root` is the folder the job reads and writes: the corpus itself, or for
`s3://bucket/corpus` a local scratch standing for the bucket (leased, every dataset recovered, the meta derived from
the commit records, `catalog/` and `job/` copied; no episode file). The job never asks where the corpus lives: what
differs is in the handle's store (`stores.store_for`: `FolderStore` or `ObjectStore`). The handle carries its storage
options, so it travels to Ray workers by pickling; `Corpus.read` is the same without the lease, for readers.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO, Any

from adapters.storage.digests import FileDigests
from adapters.storage.location import Location, locate
from adapters.storage.locks import flocked
from adapters.storage.object_store import T, W
from adapters.storage.plan_lines import CatalogPlan, catalog_lines, catalog_plan, catalog_texts
from adapters.storage.root import Root
from adapters.storage.stores import Store, store_for
from schemas.episode_lines import PlanLines, PlanTexts
from schemas.storage import NotACorpus, StorageOptions, is_remote, protocol_of


class Corpus:
    """The corpus whose files are under the local folder `root` (see the module's docstring), kept in `storage`
    (default: the folder itself) by `store` (default: the one `stores.store_for` chooses); picklable."""

    def __init__(self, root: Path, storage: Root | None = None, store: Store | None = None) -> None:
        self.root = Path(root)
        self.storage = storage if storage is not None else Root(self.root)  # the one handle: what it can do
        self.options = self.storage.options
        self._store = store

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_store": None}  # an object store's lease stays with the process that took it

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = store_for(self.storage, self.root, self.root)
        return self._store

    @property
    def where(self) -> Path | str:
        """The corpus as its user names it (in messages and in the job folder's spec): the folder, or the URL."""
        return self.store.where

    def source(self, path: Path) -> str:
        """Where to read the corpus file at `path` (under `root`)."""
        return self.store.source(path)

    def location(self, path: Path) -> Location:
        """The corpus file or folder at `path` (under `root`) where a reader opens it: itself, or its object."""
        return locate(self.source(path), self.options)

    def open_file(self, path: Path) -> AbstractContextManager[str | IO[bytes]]:
        """The corpus file at `path` as a library opens it (PyAV, h5py): a path, or a seekable file object."""
        return self.location(path).readable()

    def size(self, path: Path) -> int:
        """The bytes of the corpus file at `path` (an object store's from its dataset's commit records: readers trust
        committed objects only)."""
        return self.store.size(path)

    def sizes(self, root: Path, rels: Iterable[str]) -> list[int]:
        """`size` of each file `rel` of the folder `root` of the corpus (a dataset's files, in their order)."""
        return self.store.sizes(root, rels)

    def identity(self, path: Path) -> str:
        """What identifies the corpus file at `path` to a rerun (an export's fingerprint): its path in the corpus
        (however the corpus was spelled: `eidata export corpus` and `eidata export /abs/corpus/` are one export),
        size and time; a bucket's, whose local copy is made again each run, its URL and its bytes' sha256."""
        return self.store.identity(path)

    def copy_to(self, path: Path, dst: Path, *, link: bool = False) -> None:
        """The corpus file at `path` as the local file `dst`, written atomically (a bucket's streamed, one block in
        memory); `link`: a hard link where the file system allows one (the same bytes, no space)."""
        self.store.copy_to(path, dst, link=link)

    def digests(self, dataset_root: Path, *, rehash: bool = False) -> FileDigests:
        """The digests of one dataset's files; `rehash` hashes every byte again instead of reusing saved sums."""
        return self.store.digests(dataset_root, rehash=rehash)

    def attach(self, writer: W, dataset: str) -> W:
        """`writer` of the dataset `dataset` (`datasets/<source>/<subset>`), its commits published where they go."""
        return self.store.attach(writer, dataset)

    def committed(self, dataset_root: Path, names: Iterable[str]) -> dict[str, dict[str, str]]:
        """Which of the derived files `names` (relative to the dataset) the corpus holds whole -> each one's
        safetensors metadata (a file whose header cannot be read: {}, so it matches no expected encoding)."""
        return self.store.committed(dataset_root, names)

    def publish_files(self, paths: Iterable[str | Path], what: str) -> int:
        """Publish the derived files at `paths` written by the stage `what`; how many moved (none: already in place)."""
        return self.store.publish_files(paths, what)

    def where_of(self, rel: str) -> Path | str:
        """The corpus file or folder `rel` as a reader names it (DuckDB, messages): a path, or an object's URL."""
        return self.storage.url(rel)

    def named(self, path: Path) -> str:
        """The corpus file or folder at `path` (under `root`) as its user names it, for a record an output keeps (an
        export's completion record): the folder's absolute path, or the object's URL, never the local copy a bucket's
        is read through (a scratch folder, gone after the run and other on each run)."""
        return str(self.where_of(Path(path).resolve().relative_to(self.root.resolve()).as_posix()))

    def exists(self, rel: str) -> bool:
        return self.storage.exists(rel)

    def read_bytes(self, rel: str) -> bytes:
        return self.storage.read(rel)

    def put(self, rel: str, data: bytes, *, exclusive: bool = False) -> Path | str:
        """`Root.put`: the corpus file `rel` written whole; returns `where_of(rel)`."""
        return self.storage.put(rel, data, exclusive=exclusive)

    def locked(self, rel: str, busy: Callable[[], Exception] | None = None) -> AbstractContextManager[None]:
        """An exclusive lock on the file or folder `rel` of the local folder `root` for the block (`locks.flocked`):
        waited for, or with `busy` refused at once by raising `busy()`; a killed holder leaves no stale lock."""
        return flocked(self.root / rel, busy)

    def local(self, where: Path | str) -> Path | None:
        """Where this process reads the file or folder `where` (a path, or an object's URL): a path as it is, an
        object of the corpus in its local copy under `root`; None for an object outside the corpus."""
        if Root(where).paths:
            return Path(where)
        rel = str(where).removeprefix(f"{self.where}/")
        return self.root / rel if rel != str(where) else None

    def own_file(self, rel: str, write: Callable[[Path], T], put: Callable[[], T]) -> T:
        """A command's own file `rel` of the corpus (a report): a folder's written in place by `write(path)`, with
        what it writes beside it; an object store's put whole by `put()` (`put`), nothing beside it."""
        return self.store.own_file(rel, write, put)

    def plan_lines(self, wanted: Mapping[str, Collection[int] | None] | None) -> dict[str, PlanLines]:
        """What a plan reads of the `wanted` datasets' episodes (None: every dataset), from the catalog's columns
        (`plan_lines.catalog_lines`: no episodes.jsonl read); a dataset the catalog has no lines for is left out."""
        return catalog_lines(self.root, wanted)

    def plan_columns(self, names: list[str]) -> CatalogPlan | None:
        """The catalog's plan columns of the datasets `names` as arrays (`plan_lines.catalog_plan`: train's index, no
        object per episode); None where the catalog has none (every dataset's meta is then read)."""
        return catalog_plan(self.root, names)

    def plan_texts(self, datasets: Collection[str]) -> dict[str, PlanTexts]:
        """What a description reads of the `datasets`' episodes, from the catalog's columns
        (`plan_lines.catalog_texts`: each distinct text once, counted); a dataset the catalog has no lines for is
        left out."""
        return catalog_texts(self.root, datasets)

    def persist(self, rel: str) -> None:
        """The file or folder `rel` as the job left it made the corpus's now (a bucket's scratch carried to the bucket,
        its objects the scratch no longer has deleted), so that a rerun after a kill finds it: a step of an intent."""
        self.store.persist(rel)

    def replace_tree(self, rel: str, by: str, aside: str) -> None:
        """The corpus's tree `rel` (a source's datasets) replaced by its tree `by` (none: removed), the old one gone or
        at `aside` until `drop_tree(aside)`: a folder's by renames, a bucket's by its commit protocol (records out
        first, in last). Idempotent while `by` is kept: a rerun after a kill completes it."""
        self.store.replace_tree(rel, by, aside)

    def drop_tree(self, rel: str) -> None:
        """The corpus's tree `rel` deleted, wherever it lies (the scratch's copy too); nothing when there is none."""
        self.store.drop_tree(rel)

    def close(self, published: bool) -> None:
        """End of the job's block: `published` when it ended cleanly (an object store's meta, catalog and job
        folder put then)."""
        self.store.end(published)

    @staticmethod
    @contextmanager
    def open(
        where: Path | str,
        options: StorageOptions | None = None,
        job: str = "ingest",
        *,
        scratch: Path | None = None,
        existing: bool = False,
    ) -> Iterator[Corpus]:
        """The corpus at `where` for the job `job` (see the module's docstring); a bucket's is checked (the bucket, the
        credential, conditional writes) and leased before any work, and published at the block's clean end. `existing`:
        a corpus the job reads (a stage), so one without datasets/ raises `NotACorpus` before anything is written."""
        storage = Root(where, options)
        store = store_for(storage, where, scratch, job)
        if (why := store.open_corpus(existing)) is not None:
            raise NotACorpus(why)
        corpus = Corpus(store.root, storage, store)
        try:
            yield corpus
            corpus.close(published=True)
        finally:
            store.close()

    @staticmethod
    @contextmanager
    def read(
        where: Path | str, options: StorageOptions | None = None, *, copy: bool = False, meta: bool = False
    ) -> Iterator[Corpus]:
        """The corpus at `where` to read, no lease taken (StorageError naming a missing folder, bucket or credential): a
        folder as it is; for a bucket URL a temporary local copy of its `catalog/` and `job/` (what a query or a curate
        reads), with `copy` also each dataset's meta (derived from its commit records: a commit in flight is not seen)
        and episode files, for readers that open files by path; with `meta` the meta and `manifests/` without an episode
        file, for readers that open them through the handle (an export). Files `put` go to the bucket."""
        storage = Root(where, options)
        store = store_for(storage, where, job="read")
        with store.reading(copy=copy, meta=meta) as why:
            if why is not None:
                raise NotACorpus(why)
            yield Corpus(store.root, storage, store)

    @staticmethod
    def where_value(value: object) -> object:
        """A job model's corpus root (a pydantic before-validator): a folder becomes a Path, a bucket URL stays a string
        (a Path would fold its `//`) without its trailing slash, and must be s3:// (why: `Root.output_problem`)."""
        if not isinstance(value, str):
            return value
        if not is_remote(value):
            return Path(value)
        if protocol_of(value) not in ("s3", "s3a"):
            raise ValueError(f"{value}: a corpus in a bucket must be s3:// (an S3-compatible store)")
        return value.rstrip("/")
