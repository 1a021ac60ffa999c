"""How a storage keeps a corpus or an export's trees: the strategy `store_for` picks once from its `Root`'s
capabilities, so neither handle (`corpus.Corpus`, `tree.Tree`) nor its callers ask the storage kind. A storage that
renames keeps them as folders (`FolderStore`: a file is read where it lies, a finished tree renamed into place); one
without (an object store) through a local scratch, published object by object under a lease
(`object_store.ObjectStore`, DESIGN.md 3.2).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from adapters.storage.atomic import atomic_write, undo_on_error
from adapters.storage.derived import DerivedFileError, file_metadata
from adapters.storage.digests import FileDigests
from adapters.storage.hard_links import note_linked
from adapters.storage.object_store import ObjectStore, T, W
from adapters.storage.root import Root
from schemas.corpus import DATASETS_DIR
from schemas.storage import StorageError

PARTIAL = ".partial-"  # a folder's tree being written: `.NAME.partial-<id>` beside it


class FolderStore:
    """A corpus or an output folder at `root` (as its user spelled it) on a storage that renames and replaces."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def where(self) -> Path:
        return self.root

    def open_corpus(self, existing: bool) -> str | None:
        """Why the folder is no corpus to open (`existing`: a stage's, which must hold datasets/); None: it is."""
        return f"{self.root}: no datasets/ folder; not a corpus" if existing and not self._holds(DATASETS_DIR) else None

    @contextmanager
    def reading(self, *, copy: bool, meta: bool) -> Iterator[str | None]:
        """The folder read as it is: why it is no corpus (None: it is); StorageError when there is no folder."""
        if not self.root.is_dir():
            raise StorageError(f"{self.root}: no such corpus folder")
        yield (  # a raw dataset given as ROOT got advice for a corpus (newcomer review 7, item 8)
            None
            if self._holds(DATASETS_DIR) or self._holds("catalog")
            else f"{self.root}: not an eidata corpus (no datasets/ or catalog/ folder); a raw dataset is ingested "
            "first: `eidata ingest SPEC` writes the corpus, whose folder these commands take"
        )

    def _holds(self, folder: str) -> bool:
        return (self.root / folder).is_dir()

    def end(self, published: bool) -> None:
        """Nothing to publish: every file is in place."""

    def hold(self) -> None:
        """No lease: a folder's output is the machine's."""

    def close(self) -> None:
        """Nothing held."""

    # a corpus's files

    def source(self, path: Path) -> str:
        return str(path)

    def size(self, path: Path) -> int:
        return os.stat(path).st_size  # no Path made: a dry run's estimate asks it of every episode's files

    def sizes(self, root: Path, rels: Iterable[str]) -> list[int]:
        base, out = f"{os.fspath(root)}/", []
        for rel in rels:  # a string per file, no Path made: a dry run's estimate asks 1.6M at 1M episodes (issue 99)
            try:
                out.append(os.stat(base + rel).st_size)
            except OSError:  # as the Path reads it (a "./" or a trailing "/" left out), or its error
                out.append(os.stat(root / rel).st_size)
        return out

    def identity(self, path: Path) -> str:
        st = path.stat() if path.exists() else None
        where = Path(os.path.abspath(path))
        with contextlib.suppress(ValueError):  # a file outside the corpus: its absolute path
            where = where.relative_to(os.path.abspath(self.root))
        return f"{where}|{st.st_size if st else -1}|{st.st_mtime_ns if st else -1}"

    def copy_to(self, path: Path, dst: Path, *, link: bool = False) -> None:
        dst.parent.mkdir(parents=True, exist_ok=True)
        if link:
            try:  # so an ingest of this corpus reads the file of two names; never an unnoted link
                note_linked(self.root, path)
            except OSError as e:  # a corpus it cannot note in (read-only, its log full): a copy
                if e.errno not in (errno.EACCES, errno.EPERM, errno.EROFS, errno.EFBIG):
                    raise
                link = False
        if link:
            try:
                os.link(path, dst)
                return
            except FileExistsError:
                return
            except OSError as e:  # another file system, links refused: a copy
                if e.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                    raise
        atomic_write(dst, lambda tmp: shutil.copyfile(path, tmp))

    def digests(self, dataset_root: Path, *, rehash: bool = False) -> FileDigests:
        if rehash:
            return FileDigests()
        return FileDigests.load(self.root / "catalog" / FileDigests.DIR / FileDigests.name_of(self.root, dataset_root))

    def attach(self, writer: W, dataset: str) -> W:
        return writer

    def committed(self, dataset_root: Path, names: Iterable[str]) -> dict[str, dict[str, str]]:
        out = {}
        for name in names:
            path = Path(dataset_root) / name
            if path.exists():
                try:
                    out[name] = file_metadata(path)
                except DerivedFileError:
                    out[name] = {}
        return out

    def publish_files(self, paths: Iterable[str | Path], what: str) -> int:
        return 0

    def own_file(self, rel: str, write: Callable[[Path], T], put: Callable[[], T]) -> T:
        return write(self.root / rel)

    def persist(self, rel: str) -> None:
        """Written in place: nothing to carry."""

    def replace_tree(self, rel: str, by: str, aside: str) -> None:
        """The tree `rel` moved to `aside` (a marker folder when there is none), then `by` (when there is one) moved
        into its place: renames in one file system, each done once, so a rerun after a kill completes them."""
        live, new, retired = self.root / rel, self.root / by, self.root / aside
        if not retired.exists():
            retired.parent.mkdir(parents=True, exist_ok=True)
            if live.exists():
                live.rename(retired)
            else:
                retired.mkdir(parents=True)
        if new.exists():
            live.parent.mkdir(parents=True, exist_ok=True)
            new.rename(live)

    def drop_tree(self, rel: str) -> None:
        shutil.rmtree(self.root / rel, ignore_errors=True)

    # an export's trees

    def fetch(self, rel: str, read: Callable[[str], bytes | None]) -> None:
        """The file is where it is read from."""

    def closed(self, tree: str, path: Path) -> None:
        """A folder's file stays where it is written."""

    def publish_file(self, rel: str) -> None:
        """Written in place."""

    def publish(self, tree: str, retract: Sequence[str], last: Sequence[str], record: bytes | None) -> None:
        """Written in place, file by file; no completion record (its files are resumed one by one)."""

    def keep(self, tree: str) -> None:
        _clear_partials(self.root / tree)

    @contextmanager
    def write(self, tree: str, retract: Sequence[str], last: Sequence[str]) -> Iterator[Path]:
        final = self.root / tree
        final.parent.mkdir(parents=True, exist_ok=True)
        _clear_partials(final)
        tmp = final.with_name(f".{final.name}{PARTIAL}{uuid.uuid4().hex[:12]}")
        tmp.mkdir()
        with undo_on_error(lambda: shutil.rmtree(tmp, ignore_errors=True)):
            yield tmp
        if final.exists():  # an outdated tree: swap by rename, then drop the old one
            old = final.with_name(f".{final.name}{PARTIAL}old-{uuid.uuid4().hex[:12]}")
            os.rename(final, old)
            os.rename(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, final)


Store = FolderStore | ObjectStore


def store_for(storage: Root, given: Path | str, scratch: Path | None = None, job: str = "ingest") -> Store:
    """The store of `storage` (named `given` by its user), chosen once from its capabilities: a folder's own, or an
    object store's written through `scratch` (None: `object_store.default_scratch`) under the lease of `job`."""
    return FolderStore(Path(given)) if storage.renames else ObjectStore(storage, scratch=scratch, job=job)


def _clear_partials(final: Path) -> None:
    if final.parent.is_dir():
        for p in final.parent.glob(f".{final.name}{PARTIAL}*"):
            shutil.rmtree(p, ignore_errors=True)
