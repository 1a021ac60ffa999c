"""An export's output (`--out`) as one handle (`open_tree`): a folder, or a bucket prefix written through a local
scratch (`BucketTree`). A tree (one exported dataset) written whole goes through `write` (a fresh folder, beside the
final one as `.NAME.partial-<id>`, renamed into place at the block's clean end, removed on an error); one written in
place (LingBot-VA, resumed file by file) is finished by `publish`.

A bucket's trees keep DESIGN.md 3.2's promises for a tree written whole: a killed run never leaves a half tree that
looks complete, and its rerun leaves the objects of an uninterrupted run. Files go to their final keys with a
conditional create (`If-None-Match: *`) as they are finished; at the tree's end come the files left, the deletion of
keys the tree does not have (an older export's), the files that make it loadable (`meta/info.json`: lerobot reads
nothing without it), and last its completion record (`.eidata-export.json`, read to skip a tree that is done). A
rerun after a kill writes the tree again: a key found taken holds the same bytes (kept, no byte sent) or an older
export's (replaced: under the output's lease nobody else writes there). An older complete tree loses its completion
record, then its `info.json`, before any file changes, so no reader takes the mix for a dataset. A file above the
multipart threshold goes in parts (`multipart`: S3 takes one PUT of 5 GiB at most) behind a claim
`<tree>/.eidata/claims/<rel>` holding its size and sha256, deleted first when an older object is replaced.

A dry run's output is a `PlanTree`: it reads, `fill` records a tree's estimated bytes, whatever else would change the
output refuses.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from adapters.storage.atomic import undo_on_error
from adapters.storage.bucket_output import BucketOutput
from adapters.storage.hard_links import RECORD
from adapters.storage.multipart import HASH_BLOCK, abort_uploads, holds, put_final
from adapters.storage.objects import exists, list_keys, split_key
from adapters.storage.publish import CLAIMS_DIR, STATE_DIR
from adapters.storage.root import Root
from adapters.storage.urls import preflight
from schemas.storage import StorageOptions

MARKER = RECORD  # an exported tree's completion record, last (a local --out's too)
PARTIAL = ".partial-"  # a folder's tree being written: `.NAME.partial-<id>` beside it


class Tree:
    """An export's output folder on this machine (see the module's docstring); the base of a bucket's."""

    def __init__(self, root: Path) -> None:
        self.root, self.storage = Path(root), Root(root)  # the one handle: what the output can do (`Root.renames`)

    @property
    def where(self) -> Path | str:
        """The output as its user names it: the folder, or the object store's URL."""
        return self.root if self.storage.paths else self.storage.where

    def read(self, rel: str) -> bytes | None:
        """The output's file `rel`, None when there is none."""
        try:
            return self.storage.read(rel)
        except (FileNotFoundError, IsADirectoryError):
            return None

    def fetch(self, rel: str) -> None:
        """The output's file `rel` into `root` (an object store's scratch), when the output has one."""
        if not self.storage.paths and (data := self.read(rel)) is not None:
            (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.root / rel).write_bytes(data)

    def closed(self, tree: str, path: Path) -> None:
        """`path`, a file of the tree `tree` being written, is closed for good."""

    def publish_file(self, rel: str) -> None:
        """The finished file `root / rel` at the output (kept in `root`)."""

    def publish(
        self, tree: str, *, retract: Sequence[str] = (), last: Sequence[str] = (), record: bytes | None = None
    ) -> None:
        """The tree `tree`, written in place under `root`, is finished: `retract` goes before any of its files
        changes, `last` after them in order, its completion `record` (`MARKER`) last of all."""

    def keep(self, tree: str) -> None:
        """The tree `tree` stays as the output holds it: what a killed write of it left is removed."""
        _clear_partials(self.root / tree)

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


class DryRunWriteError(RuntimeError):
    """Something asked a dry run's output to change (a bug of the command: its plan must go through `fill`)."""


class PlanTree(Tree):
    """A dry run's output: `inner`, the output's own handle, only read; `planned`: tree -> its bytes."""

    def __init__(self, inner: Tree) -> None:
        self.root, self.storage, self.inner = inner.root, inner.storage, inner
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


def _clear_partials(final: Path) -> None:
    if final.parent.is_dir():
        for p in final.parent.glob(f".{final.name}{PARTIAL}*"):
            shutil.rmtree(p, ignore_errors=True)


@dataclass
class PutStats:
    put: int = 0  # objects created
    kept: int = 0  # found with the same bytes (a killed run's)
    replaced: int = 0  # found with other bytes (an older export's)
    deleted: int = 0  # keys under a tree that the tree no longer has
    bytes_put: int = 0


@dataclass
class BucketTree(Tree):
    """The bucket `--out` of one export job, written through the scratch `root`; `with` holds its lease."""

    url: str
    options: StorageOptions | None = None
    job: str = "export"
    scratch: Path | None = None
    stats: PutStats = field(default_factory=PutStats)

    def __post_init__(self) -> None:
        out = BucketOutput(self.url, self.options, scratch=self.scratch, job=self.job)  # one object-store output
        self.storage, self.url, self.fs, self.path, self.lease = out.storage, out.url, out.fs, out.path, out.lease
        self.root = self.scratch = out.scratch
        self.parts = out.parts
        self._put: dict[str, set[str]] = {}  # tree -> files put this run

    def __enter__(self) -> BucketTree:
        preflight(self.url, self.options, write=True)
        self.lease.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.lease.release()

    def key(self, *parts: str) -> str:
        """The output's key of `parts` joined, empty ones skipped (the tree "" is the output's root)."""
        return "/".join([self.path, *(p for p in parts if p)])

    def local(self, tree: str) -> Path:
        """The scratch folder a tree is written in."""
        return self.root / tree

    def closed(self, tree: str, path: Path) -> None:
        self.put_file(tree, path)

    def publish_file(self, rel: str) -> None:
        self.put_file("", self.root / rel, drop=False)

    def publish(
        self, tree: str, *, retract: Sequence[str] = (), last: Sequence[str] = (), record: bytes | None = None
    ) -> None:
        self.begin(tree, retract)
        if record is not None:
            (self.local(tree) / MARKER).write_bytes(record)
            last = [*last, MARKER]
        self.finish(tree, last)

    def keep(self, tree: str) -> None:
        """Nothing to remove: a killed run's uploads under the tree go at its next `begin`."""

    @contextmanager
    def write(self, tree: str, *, retract: Sequence[str] = (), last: Sequence[str] = ()) -> Iterator[Path]:
        local = self.local(tree)
        shutil.rmtree(local, ignore_errors=True)
        local.mkdir(parents=True)
        self.begin(tree, retract)
        with undo_on_error(lambda: shutil.rmtree(local, ignore_errors=True)):
            yield local
        self.finish(tree, last)

    def begin(self, tree: str, retract: Sequence[str]) -> None:
        """Before a tree is (re)written: delete its `retract` files in order (its completion record, then what makes
        it loadable), so an older complete tree stops being complete before any of its files changes."""
        self._put[tree] = set()
        if split_key(self.key(tree))[1]:  # a killed run's uploads under the tree (never a whole bucket's): ours to drop
            abort_uploads(self.fs, self.key(tree))
        for rel in retract:
            key = self.key(tree, rel)
            if exists(self.fs, key):
                self.fs.rm_file(key)

    def put_file(self, tree: str, local: Path, *, drop: bool = True) -> None:
        """Put one finished file of `tree` (its local path under `self.local(tree)`) at its final key: kept when the
        key holds its bytes (by its claim, the ETag or read back), else the key and its claim deleted (an older
        export's: claim first, so a kill between leaves no claim over other bytes) and the file put once
        (`multipart.put_final`: in parts above the threshold)."""
        path = Path(local)
        rel = path.relative_to(self.local(tree)).as_posix()
        key, claim = self.key(tree, rel), self.key(tree, CLAIMS_DIR, rel)
        sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
        with open(path, "rb") as f:
            while block := f.read(HASH_BLOCK):
                sha.update(block)
                md5.update(block)
        digest = {"size": path.stat().st_size, "sha256": sha.hexdigest()}
        replacing = exists(self.fs, key)
        if replacing and (self._claims(claim, digest, key) or holds(self.fs, key, digest, md5.hexdigest())):
            self.stats.kept += 1
        else:
            if exists(self.fs, claim) and (replacing or not self._claims(claim, digest)):
                self.fs.rm_file(claim)  # an older export's, or a stale one over no object (a kill between deletions)
            if replacing:
                self.fs.rm_file(key)
            created, _ = put_final(self.fs, key, path, self.parts, claim=claim)  # under the lease nobody else writes
            if replacing:
                self.stats.replaced += 1
            elif created:
                self.stats.put += 1
            else:
                self.stats.kept += 1
            self.stats.bytes_put += digest["size"] if created else 0
        self._put.setdefault(tree, set()).add(rel)
        if drop:
            path.unlink()

    def _claims(self, claim: str, digest: dict, key: str | None = None) -> bool:
        """Whether the claim exists and records `digest` (and, given `key`, the object has its size)."""
        try:
            self.fs.invalidate_cache(claim)
            if json.loads(self.fs.cat_file(claim)) != digest:
                return False
            if key is None:
                return True
            self.fs.invalidate_cache(key)
            return int(self.fs.info(key).get("size", -1)) == digest["size"]
        except (FileNotFoundError, ValueError):
            return False

    def finish(self, tree: str, last: Sequence[str]) -> None:
        """The tree's end: its files left in the scratch, then the deletion of keys it does not have, then `last` in
        order (the completion record last); the scratch folder is removed."""
        root = self.local(tree)
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
        tail = [root / rel for rel in last]
        for p in files:
            if p not in tail:
                self.put_file(tree, p)
        mine = self._put.get(tree, set()) | set(last)
        claims = self.key(tree, CLAIMS_DIR)
        for key in list_keys(self.fs, claims):  # claims of files the tree no longer has (their keys go below)
            if key.removeprefix(claims + "/") not in mine:
                self.fs.rm_file(key)
        for key in list_keys(self.fs, self.key(tree)):
            rel = key.removeprefix(self.key(tree) + "/")
            if rel in mine or rel.split("/", 1)[0] == STATE_DIR:
                continue
            self.fs.rm_file(key)
            self.stats.deleted += 1
        for p in tail:
            self.put_file(tree, p)
        if tree:
            shutil.rmtree(root, ignore_errors=True)


@contextmanager
def open_tree(
    where: Path | str, options: StorageOptions | None = None, job: str = "export", *, dry_run: bool = False
) -> Iterator[Tree]:
    """The output `where` of the export `job` (see the module's docstring); a bucket's is checked (bucket, credential,
    conditional creates) and leased for the block. A dry run's (`PlanTree`) is only read: no check, no lease."""
    if Root(where, options).local:
        yield PlanTree(Tree(Path(where))) if dry_run else Tree(Path(where))
        return
    target = BucketTree(str(where), options, job=job)
    if dry_run:
        yield PlanTree(target)
        return
    with target:
        yield target
