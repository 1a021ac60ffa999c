"""An export's trees on an object store (`TreePuts`, the tree half of `object_store.ObjectStore`), keeping DESIGN.md
3.2's promises for a tree written whole: a killed run never leaves a half tree that looks complete, and its rerun
leaves the objects of an uninterrupted run.

Files go to their final keys with a conditional create (`If-None-Match: *`) as they are finished; at the tree's end
come the files left, the deletion of keys the tree does not have (an older export's), the files that make it loadable
(`meta/info.json`: lerobot reads nothing without it), and last its completion record (`.eidata-export.json`, read to
skip a tree that is done). A rerun after a kill writes the tree again: a key found taken holds the same bytes (kept, no
byte sent) or an older export's (replaced: under the output's lease nobody else writes there). An older complete tree
loses its completion record, then its `info.json`, before any file changes, so no reader takes the mix for a dataset.
A file above the multipart threshold goes in parts (`multipart`: S3 takes one PUT of 5 GiB at most) behind a claim
`<tree>/.eidata/claims/<rel>` holding its size and sha256, deleted first when an older object is replaced.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec

from adapters.storage.atomic import undo_on_error
from adapters.storage.multipart import HASH_BLOCK, PartPlan, abort_uploads, holds, put_final
from adapters.storage.objects import exists, list_keys, split_key
from adapters.storage.publish import CLAIMS_DIR
from adapters.storage.root import Root
from schemas.storage import MARKER, STATE_DIR


@dataclass
class PutStats:
    put: int = 0  # objects created
    kept: int = 0  # found with the same bytes (a killed run's)
    replaced: int = 0  # found with other bytes (an older export's)
    deleted: int = 0  # keys under a tree that the tree no longer has
    bytes_put: int = 0


class TreePuts:
    """The trees of the output `storage`, written through the scratch `root`."""

    storage: Root
    root: Path
    parts: PartPlan

    @property
    def fs(self) -> fsspec.AbstractFileSystem:  # opened at first use: a command's preflight names a bad credential
        return self.storage.fs

    @property
    def path(self) -> str:
        return self.storage.path

    def __init__(self) -> None:
        self.stats = PutStats()
        self._put: dict[str, set[str]] = {}  # tree -> files put this run

    def tree_key(self, *parts: str) -> str:
        """The output's key of `parts` joined, empty ones skipped (the tree "" is the output's root)."""
        return "/".join([self.path, *(p for p in parts if p)])

    def local(self, tree: str) -> Path:
        """The scratch folder a tree is written in."""
        return self.root / tree

    def fetch(self, rel: str, read: Callable[[str], bytes | None]) -> None:
        """The output's file `rel` (`read`: its bytes, None when it has none) into the scratch."""
        if (data := read(rel)) is not None:
            (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.root / rel).write_bytes(data)

    def closed(self, tree: str, path: Path) -> None:
        self.put_file(tree, path)

    def publish_file(self, rel: str) -> None:
        self.put_file("", self.root / rel, drop=False)

    def publish(self, tree: str, retract: Sequence[str], last: Sequence[str], record: bytes | None) -> None:
        self.begin(tree, retract)
        if record is not None:
            (self.local(tree) / MARKER).write_bytes(record)
            last = [*last, MARKER]  # the completion record, last
        self.finish(tree, last)

    def keep(self, tree: str) -> None:
        """Nothing to remove: a killed run's uploads under the tree go at its next `begin`."""

    @contextmanager
    def write(self, tree: str, retract: Sequence[str], last: Sequence[str]) -> Iterator[Path]:
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
        if split_key(self.tree_key(tree))[1]:  # a killed run's uploads under the tree (never a whole bucket's)
            abort_uploads(self.fs, self.tree_key(tree))
        for rel in retract:
            key = self.tree_key(tree, rel)
            if exists(self.fs, key):
                self.fs.rm_file(key)

    def put_file(self, tree: str, local: Path, *, drop: bool = True) -> None:
        """Put one finished file of `tree` (its local path under `self.local(tree)`) at its final key: kept when the
        key holds its bytes (by its claim, the ETag or read back), else the key and its claim deleted (an older
        export's: claim first, so a kill between leaves no claim over other bytes) and the file put once
        (`multipart.put_final`: in parts above the threshold)."""
        path = Path(local)
        rel = path.relative_to(self.local(tree)).as_posix()
        key, claim = self.tree_key(tree, rel), self.tree_key(tree, CLAIMS_DIR, rel)
        sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
        with open(path, "rb") as f:
            while block := f.read(HASH_BLOCK):
                sha.update(block)
                md5.update(block)
        digest: dict[str, Any] = {"size": path.stat().st_size, "sha256": sha.hexdigest()}
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
        claims = self.tree_key(tree, CLAIMS_DIR)
        for key in list_keys(self.fs, claims):  # claims of files the tree no longer has (their keys go below)
            if key.removeprefix(claims + "/") not in mine:
                self.fs.rm_file(key)
        for key in list_keys(self.fs, self.tree_key(tree)):
            rel = key.removeprefix(self.tree_key(tree) + "/")
            if rel in mine or rel.split("/", 1)[0] == STATE_DIR:
                continue
            self.fs.rm_file(key)
            self.stats.deleted += 1
        for p in tail:
            self.put_file(tree, p)
        if tree:
            shutil.rmtree(root, ignore_errors=True)
