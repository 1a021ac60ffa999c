"""An export's output (`--out`) as one handle (`Tree.open`): a folder, or a bucket prefix written through a
local scratch, told apart only by its store (`stores.store_for`). A tree (one exported dataset) written whole goes
through `write`: a folder's in a fresh folder beside the final one as `.NAME.partial-<id>`, renamed into place at the
block's clean end, removed on an error; a bucket's put file by file, completion record last
(`object_tree.TreePuts`, DESIGN.md 3.2). One written in place (LingBot-VA, resumed file by file) is finished by
`publish`.

A dry run's output is a `PlanTree`: it reads, `fill` records a tree's estimated bytes, whatever else would change the
output refuses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from adapters.storage.root import Root
from adapters.storage.stores import Store, store_for
from schemas.storage import DryRunWriteError, StorageOptions


class Tree:
    """The output `where` of the export `job`, kept by `store` (default: the one `stores.store_for` chooses; an object
    store's written through `scratch`); `with` holds a bucket's lease."""

    def __init__(
        self,
        where: Path | str,
        options: StorageOptions | None = None,
        *,
        job: str = "export",
        scratch: Path | None = None,
        store: Store | None = None,
    ) -> None:
        self.storage = Root(where, options)  # the one handle
        self.store = store if store is not None else store_for(self.storage, where, scratch, job)
        self.root = self.store.root  # the folder the trees are written in: the output's, or the scratch

    def __enter__(self) -> Tree:
        self.store.hold()
        return self

    def __exit__(self, *exc: object) -> None:
        self.store.close()

    @property
    def where(self) -> Path | str:
        """The output as its user names it: the folder, or the object store's URL."""
        return self.store.where

    def named(self, rel: str) -> str:
        """The file or tree `rel` of the output as its user names it: a path in the folder, or its URL."""
        return f"{self.where}/{rel}" if isinstance(self.where, str) else str(self.where / rel)

    def read(self, rel: str) -> bytes | None:
        """The output's file `rel`, None when there is none."""
        try:
            return self.storage.read(rel)
        except (FileNotFoundError, IsADirectoryError):
            return None

    def fetch(self, rel: str) -> None:
        """The output's file `rel` into `root` (an object store's scratch), when the output has one."""
        self.store.fetch(rel, self.read)

    def closed(self, tree: str, path: Path) -> None:
        """`path`, a file of the tree `tree` being written, is closed for good."""
        self.store.closed(tree, path)

    def publish_file(self, rel: str) -> None:
        """The finished file `root / rel` at the output (kept in `root`)."""
        self.store.publish_file(rel)

    def publish(
        self, tree: str, *, retract: Sequence[str] = (), last: Sequence[str] = (), record: bytes | None = None
    ) -> None:
        """The tree `tree`, written in place under `root`, is finished: `retract` goes before any of its files
        changes, `last` after them in order, its completion `record` (`MARKER`) last of all."""
        self.store.publish(tree, retract, last, record)

    def keep(self, tree: str) -> None:
        """The tree `tree` stays as the output holds it: what a killed write of it left is removed."""
        self.store.keep(tree)

    def fill(
        self,
        tree: str,
        writer: Callable[[Path], object],
        estimate: Callable[[], int],
        *,
        retract: Sequence[str] = (),
        last: Sequence[str] = (),
    ) -> bool:
        """Write the tree `tree` whole: `writer(folder)` into `write`'s fresh folder; True when written (a dry run's
        output records `estimate()`, its bytes, and returns False)."""
        with self.write(tree, retract=retract, last=last) as folder:
            writer(folder)
        return True

    @contextmanager
    def write(self, tree: str, *, retract: Sequence[str] = (), last: Sequence[str] = ()) -> Iterator[Path]:
        """A fresh folder for the tree `tree`: the output's at the block's clean end (as `publish`), else removed."""
        with self.store.write(tree, retract, last) as folder:
            yield folder

    @staticmethod
    @contextmanager
    def open(
        where: Path | str, options: StorageOptions | None = None, job: str = "export", *, dry_run: bool = False
    ) -> Iterator[Tree]:
        """The output `where` of the export `job` (see the module's docstring); a bucket's is checked (bucket,
        credential, conditional creates) and leased for the block. A dry run's (`PlanTree`) is only read: no check, no
        lease."""
        target = Tree(where, options, job=job)
        if dry_run:
            yield PlanTree(target)
            return
        with target:
            yield target


class PlanTree(Tree):
    """A dry run's output: `inner`, the output's own handle, only read; `planned`: tree -> its bytes."""

    def __init__(self, inner: Tree) -> None:
        self.root, self.storage, self.store, self.inner = inner.root, inner.storage, inner.store, inner
        self.planned: dict[str, int] = {}

    def keep(self, tree: str) -> None:
        """What a killed run left stays: the real run removes it."""

    def fill(self, tree: str, writer: Callable[[Path], object], estimate: Callable[[], int], **_: object) -> bool:
        self.planned[tree] = int(estimate())
        return False

    def _refuse(self, what: str) -> DryRunWriteError:
        return DryRunWriteError(f"{self.where}: a dry run writes nothing ({what} asked)")

    def write(self, tree: str, **_: object) -> Iterator[Path]:  # type: ignore[override]
        raise self._refuse(f"write of {tree}")

    def closed(self, tree: str, path: Path) -> None:
        raise self._refuse(f"publication of {path}")

    def publish_file(self, rel: str) -> None:
        raise self._refuse(f"publication of {rel}")

    def publish(self, tree: str, **_: object) -> None:  # type: ignore[override]
        raise self._refuse(f"publication of {tree}")
