"""How an object store keeps a corpus or an export's trees (`ObjectStore`, the strategy `stores.store_for` picks for a
storage without rename; DESIGN.md 3.2): the job's lease, the local scratch the job's local code writes into, the part
plan, for a corpus a publisher per dataset, for an export its trees put file by file.

A corpus: `open` takes the lease and rebuilds the scratch from the bucket, so a rerun on any machine skips what is
committed or quarantined exactly as a rerun on a local output does; `job/`'s finished mark leaves the bucket until the
job's clean end (a killed job leaves none; the rest of `job/`, the corpus's history, stays). `publish_corpus` rewrites
every dataset's meta from its records and makes the bucket's `catalog/`, then `job/`, the scratch's; `persist` makes
one of its files or folders the bucket's at once (a step a rerun must find done), `replace_tree` swaps one source's
datasets for another tree's by the commit protocol (a re-read, a removal: `jobs.ingest.reread`). The scratch
(`<the setting scratch>/<hash of the URL>`) is never trusted across runs: `open` rebuilds it. Readers trust committed
objects only: a file's size and digests come from its dataset's commit records. An export's trees:
`object_tree.TreePuts`.

A stage's edits of a bucket dataset's meta (captions: tasks added, episode lines rewritten) published as one commit
record (DESIGN.md 3.2).

The stage's writer applies a meta update on the scratch corpus as on a local output. What reaches the bucket is the
difference between the scratch's meta and the records' (`meta_change`): per jsonl file the lines rewritten and the text
appended, the new text of a meta file a stage writes whole (GR00T's `modality.json`), and the next `info.json`, as one
commit record with no object (`publish_meta_change`). After it `derived_meta` gives byte for byte the scratch's files;
a stage killed before it leaves the bucket as it was.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol, TypeVar

from adapters.storage.atomic import atomic_write, undo_on_error
from adapters.storage.commit_log import CommitRecord
from adapters.storage.derived import committed_derived, publish_derived
from adapters.storage.digests import FileDigests, RecordDigests
from adapters.storage.lease import Lease
from adapters.storage.location import locate
from adapters.storage.multipart import PartPlan, abort_uploads
from adapters.storage.object_tree import TreePuts
from adapters.storage.objects import list_keys, list_prefixes, put_changed
from adapters.storage.publish import DatasetPublisher, derived_meta
from adapters.storage.reads import STREAM_BLOCK
from adapters.storage.root import Root
from adapters.storage.urls import preflight
from schemas.corpus import DATASETS_DIR, FINISHED, JOB_DIR, MANIFESTS_DIR
from schemas.lerobot import INFO_PATH, split_lines
from schemas.settings import current
from schemas.storage import STATE_DIR, StorageOptions


class MetaChangeError(RuntimeError):
    """The scratch's meta is not the records' meta plus rewritten lines and appends (a line removed or moved)."""


def meta_change(old: dict[str, bytes], new: dict[str, bytes], where: str = "") -> dict[str, Any] | None:
    """The record meta that turns the meta files `old` into `new` (both {rel: bytes}, `INFO_PATH` among them);
    None when they are equal. A jsonl file may have lines rewritten in place and lines appended, nothing else."""
    if old == new:
        return None
    if set(old) - set(new):
        raise MetaChangeError(f"{where}: the stage removed {sorted(set(old) - set(new))}")
    lines: dict[str, dict[str, str]] = {}
    appends: dict[str, str] = {}
    files: dict[str, str] = {}
    for rel in sorted(set(new) - {INFO_PATH}):
        if not rel.endswith(".jsonl"):  # a meta file written whole (GR00T's modality.json): its new text
            if old.get(rel) != new[rel]:
                files[rel] = new[rel].decode()
            continue
        before, after = split_lines(old.get(rel, b"").decode()), split_lines(new[rel].decode())
        if len(after) < len(before):
            raise MetaChangeError(f"{where}/{rel}: {len(before)} lines in the bucket, {len(after)} after the stage")
        if changed := {str(n): a for n, (b, a) in enumerate(zip(before, after, strict=False)) if a != b}:
            lines[rel] = changed
        if len(after) > len(before):
            appends[rel] = "".join(after[len(before) :])
    change = {"lines": lines, "appends": appends, "info": new[INFO_PATH].decode(), "episodes": []}
    return change | ({"files": files} if files else {})


def scratch_meta(scratch: Path, like: dict[str, bytes]) -> dict[str, bytes]:
    """The scratch dataset's meta files: those the records derive (`like`) and any new jsonl or json beside them."""
    meta = Path(scratch) / "meta"
    found = [*meta.glob("*.jsonl"), *meta.glob("*.json")]
    rels = set(like) | {p.relative_to(scratch).as_posix() for p in found}
    return {rel: (Path(scratch) / rel).read_bytes() for rel in sorted(rels) if (Path(scratch) / rel).exists()}


def publish_meta_change(publisher: DatasetPublisher) -> CommitRecord | None:
    """Commit the scratch's meta edits as one record (call under the output's lease, after the stage's writers
    closed); None when the stage changed nothing. The meta objects are rewritten by `publisher.finish`."""
    old = derived_meta(publisher.log.records(refresh=True))
    if not old:
        return None  # a dataset the bucket has no record of: nothing a stage after ingest may create
    change = meta_change(old, scratch_meta(publisher.scratch, old), publisher.prefix)
    if change is None:
        return None
    digest = hashlib.sha256(json.dumps(change, sort_keys=True).encode()).hexdigest()[:16]
    return publisher.log.commit(f"meta change {digest}", {}, change, in_place=True)


SYNCED_DIRS = ("catalog", JOB_DIR)  # corpus folders the scratch holds whole and the bucket mirrors, in this order


class Committing(Protocol):
    """A dataset writer whose commits can be published (`ingest.lerobot.writer.LeRobotWriter`)."""

    on_commit: Callable[[dict[str, Any]], None] | None


W = TypeVar("W", bound=Committing)
T = TypeVar("T")


def default_scratch(url: str) -> Path:
    base = Path(current().scratch).expanduser()
    return base / hashlib.sha256(url.rstrip("/").encode()).hexdigest()[:16]


class ObjectStore(TreePuts):
    """The output at `where` in an object store: `open` (a corpus job's) or `hold` (an export's) takes its lease,
    `close` releases it."""

    def __init__(
        self,
        where: Root | str,
        options: StorageOptions | None = None,
        *,
        scratch: Path | None = None,
        job: str = "ingest",
        ttl_s: float | None = None,
    ) -> None:
        self.storage = where if isinstance(where, Root) else Root(where, options)  # the one handle
        self.url, self.options = str(self.storage.where), self.storage.options
        self.parts = PartPlan.of(self.options)  # which objects go in parts (multipart upload)
        self.root = self.scratch = Path(scratch) if scratch is not None else default_scratch(self.url)
        self._job, self._ttl_s = job, ttl_s
        self._publishers: dict[str, DatasetPublisher] = {}
        self._sizes: dict[str, dict[str, int]] = {}  # dataset -> its committed objects' sizes
        super().__init__()

    @cached_property
    def lease(self) -> Lease:
        return Lease(self.storage, job=self._job, ttl_s=self._ttl_s)

    @property
    def where(self) -> str:
        """The output as its user names it: the URL."""
        return self.url

    def datasets(self) -> list[str]:
        """`datasets/<source>/<subset>` of every dataset in the bucket with at least one commit record."""
        sources = list_prefixes(self.fs, f"{self.path}/{DATASETS_DIR}")
        subsets = [self._rel(subset) for source in sources for subset in list_prefixes(self.fs, source)]
        return [rel for rel in subsets if self.publisher(rel).log.records(refresh=True)]

    def _rel(self, key: str) -> str:
        return key.removeprefix(self.path + "/")

    def publisher(self, rel: str) -> DatasetPublisher:
        """The publisher of the dataset `rel` (`datasets/<source>/<subset>`), writing in `scratch / rel`."""
        if rel not in self._publishers:
            dataset = Root(self.storage.url(rel), self.options)
            self._publishers[rel] = DatasetPublisher(dataset, self.scratch / rel, parts=self.parts)
        return self._publishers[rel]

    def open_corpus(self, existing: bool) -> str | None:
        """A corpus job's start: the bucket checked, then `open`; why it is no corpus (`existing`: a stage's, which
        must hold datasets/), None when opened."""
        preflight(self.url, self.options, write=True)
        if existing and not list_prefixes(self.fs, f"{self.path}/{DATASETS_DIR}"):
            return f"{self.url}: no datasets/ in the bucket; not a corpus"
        self.open()
        return None

    def open(self) -> list[str]:
        """Take the lease, recover every dataset, rebuild the scratch; returns the garbage keys deleted."""
        self.lease.acquire()
        with undo_on_error(self.lease.release):
            garbage = abort_uploads(self.fs, self.path)  # a dead job's incomplete uploads, datasets without records too
            datasets = self.datasets()
            for rel in datasets:
                garbage += self.publisher(rel).recover()
            self.rebuild(datasets, SYNCED_DIRS)
            # the finished mark is the running job's: out of the bucket until its clean end puts it back, so a killed
            # job leaves none and its rerun takes the interrupted path (roll forward, catalog). The rest of `job/`
            # stays: it holds the corpus's history (every spec, each source's readings) and a re-read's intent
            if self.storage.exists(FINISHED):
                self.storage.remove(FINISHED)
            return garbage

    @contextmanager
    def reading(self, *, copy: bool, meta: bool) -> Iterator[str | None]:
        """The corpus to read (`Corpus.read`), no lease taken, in a temporary scratch: `catalog/` and `job/`,
        with `copy` or `meta` each dataset's meta and `manifests/`, with `copy` its episode files too."""
        preflight(self.url, self.options)  # a wrong credential or a missing bucket is named before any read
        with tempfile.TemporaryDirectory(prefix="eidata-corpus-") as tmp:
            self.root = self.scratch = Path(tmp) / self.url.rsplit("/", 1)[-1]  # no lease: its listings
            tops = (*SYNCED_DIRS, MANIFESTS_DIR) if copy or meta else SYNCED_DIRS
            self.rebuild(self.datasets() if copy or meta else (), tops, episodes=copy)
            yield None  # nothing refused: the preflight named a missing bucket

    def rebuild(self, datasets: Iterable[str], tops: Iterable[str], *, episodes: bool = False) -> Path:
        """The scratch made again from the bucket: each of `datasets` its meta derived from its records (`episodes`:
        and its committed episode files; a commit in flight is not seen), each folder of `tops` copied whole."""
        shutil.rmtree(self.scratch, ignore_errors=True)
        self.scratch.mkdir(parents=True)
        for rel in datasets:
            pub = self.publisher(rel)
            pub.hydrate()
            for obj in (o for r in pub.log.records() for o in r.objects) if episodes else ():
                (self.scratch / rel / obj).parent.mkdir(parents=True, exist_ok=True)
                (self.scratch / rel / obj).write_bytes(self.fs.cat_file(pub.log.final_key(obj)))
        for rel in tops:
            self.download(rel)
        return self.scratch

    def publish_corpus(self) -> list[str]:
        """Every dataset's meta from its records, then the scratch's `catalog/` and `job/`; returns the keys put."""
        written = []
        for rel in sorted(set(self._publishers) | set(self.datasets())):
            written += [f"{rel}/{m}" for m in self.publisher(rel).finish()]
        for rel in SYNCED_DIRS:  # the job folder last: its presence says the job before ran to its end
            written += self._upload(rel)
        return written

    def hold(self) -> None:
        """An export's start: the bucket checked (credential, conditional creates), the output leased."""
        preflight(self.url, self.options, write=True)
        self.lease.acquire()

    def close(self) -> None:
        self.lease.release()

    def download(self, rel: str) -> None:
        """The bucket's folder `rel` (of the corpus) copied whole into the scratch."""
        for key in list_keys(self.fs, f"{self.path}/{rel}"):
            local = self.scratch / self._rel(key)
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(self.fs.cat_file(key))

    def _upload(self, rel: str) -> list[str]:
        """Make the bucket's `rel/` the scratch's: put what differs, delete what the scratch no longer has (a catalog
        rebuild replaces its parts). Hidden files (temp files, locks) stay local."""
        root = self.scratch / rel
        local = {
            p.relative_to(self.scratch).as_posix(): p
            for p in (sorted(root.rglob("*")) if root.exists() else [])
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
        }
        written = [name for name, p in local.items() if put_changed(self.fs, f"{self.path}/{name}", p.read_bytes())]
        for key in list_keys(self.fs, f"{self.path}/{rel}"):
            if self._rel(key) not in local:
                self.fs.rm_file(key)
        return written

    # a corpus's files: `corpus.Corpus` asks these of its store

    def source(self, path: Path) -> str:
        return f"{self.url}/{self._in_corpus(path)}"

    def size(self, path: Path) -> int:
        """From the dataset's commit records (readers trust committed objects only)."""
        parts = self._in_corpus(path).split("/")  # datasets/<source>/<subset>/<file in the dataset>
        dataset, name = "/".join(parts[:3]), "/".join(parts[3:])
        if dataset not in self._sizes:
            records = self.publisher(dataset).log.records()
            self._sizes[dataset] = {obj: int(d["size"]) for r in records for obj, d in r.objects.items()}
        if name not in self._sizes[dataset]:
            raise FileNotFoundError(f"{self.source(path)}: no commit record names it")
        return self._sizes[dataset][name]

    def size_of(self, folder: Path, rels: Iterable[str]) -> int:
        return sum(self.size(folder / rel) for rel in rels)

    def identity(self, path: Path) -> str:
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "-"
        return f"{self.source(path)}|{digest}"

    def copy_to(self, path: Path, dst: Path, *, link: bool = False) -> None:
        def fetch(tmp: Path) -> None:
            with locate(self.source(path), self.options).open_binary(stream=True) as f, open(tmp, "wb") as out:
                shutil.copyfileobj(f, out, STREAM_BLOCK)

        dst.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(dst, fetch)

    def digests(self, dataset_root: Path, *, rehash: bool = False) -> FileDigests:
        return RecordDigests(self.publisher(self._in_corpus(dataset_root)))

    def attach(self, writer: W, dataset: str) -> W:
        writer.on_commit = self.publisher(dataset).on_commit
        return writer

    def committed(self, dataset_root: Path, names: Iterable[str]) -> dict[str, dict[str, str]]:
        done = committed_derived(self.publisher(self._in_corpus(dataset_root)))
        return {n: done[n] for n in names if n in done}

    def publish_files(self, paths: Iterable[str | Path], what: str) -> int:
        by_dataset: dict[str, list[str]] = {}
        for p in paths:
            parts = self._in_corpus(Path(p)).split("/")  # datasets/<source>/<subset>/<file in the dataset>
            by_dataset.setdefault("/".join(parts[:3]), []).append("/".join(parts[3:]))
        for rel, files in sorted(by_dataset.items()):
            publish_derived(self.publisher(rel), what, files)
        return sum(map(len, by_dataset.values()))

    def own_file(self, rel: str, write: Callable[[Path], T], put: Callable[[], T]) -> T:
        return put()

    def persist(self, rel: str) -> None:
        """The scratch's file or folder `rel` made the bucket's now, not at the job's clean end (a step a rerun after a
        kill must find done): put where it differs, the bucket's objects the scratch no longer has deleted."""
        local = self.scratch / rel
        if local.is_file():
            put_changed(self.fs, self.storage.key(rel), local.read_bytes())
            return
        self._upload(rel)
        key = self.storage.key(rel)
        self.fs.invalidate_cache(key)
        if not local.exists() and self.fs.isfile(key):  # a file the scratch no longer has
            self.fs.rm_file(key)

    def replace_tree(self, rel: str, by: str, aside: str) -> None:
        """The bucket's tree `rel` made the tree `by` (none: gone), by the protocol's own order so a reader trusting
        commit records never mixes the two: `rel`'s records deleted first (its datasets vanish), then its other
        objects; `by`'s objects copied in (server-side), its records last (the new datasets appear). Every step is
        done again by a rerun after a kill (`by` is kept until the caller drops it), ending with the same objects.
        `aside` is a folder's (its old tree renamed there): an object store keeps nothing aside. The scratch's copy
        of `rel` is then derived from the new records, as `open` derives it."""
        for key in sorted(self.storage.keys(rel), key=lambda k: not _protocol(k)):
            self.storage.remove(key)
        for key in sorted(self.storage.keys(by), key=_protocol):
            self.storage.copy(key, f"{rel}/{key.removeprefix(by + '/')}")
        for cached in [d for d in self._publishers if d.startswith(f"{rel}/")]:
            del self._publishers[cached]
            self._sizes.pop(cached, None)
        shutil.rmtree(self.scratch / rel, ignore_errors=True)
        for subset in list_prefixes(self.fs, self.storage.key(rel)):
            self.publisher(self._rel(subset)).hydrate()

    def drop_tree(self, rel: str) -> None:
        """Every object under `rel` deleted, and the scratch's copy."""
        for key in self.storage.keys(rel):
            self.storage.remove(key)
        shutil.rmtree(self.scratch / rel, ignore_errors=True)

    def end(self, published: bool) -> None:
        """A corpus job's end: when `published` (a clean end), each dataset's meta edits, then `publish_corpus`."""
        if published:
            for rel in self.datasets():
                publish_meta_change(self.publisher(rel))
            self.publish_corpus()

    def _in_corpus(self, path: Path) -> str:
        return Path(path).relative_to(self.scratch).as_posix()


def _protocol(rel: str) -> bool:
    """Whether the object `rel` is the commit protocol's own (a record, a claim): what makes a dataset's objects
    visible to readers."""
    return f"/{STATE_DIR}/" in f"/{rel}"
