"""The same canonical corpus on disk and in a bucket, for the export tests (tests/s3/test_export_*.py): a corpus
fixture's writer run twice, into a local folder and into a bucket output's scratch, where every dataset's
`LeRobotWriter` publishes each commit through the real publisher (`adapters.storage.publish`) as ingest's committers do,
so the bucket's objects are the local files; then each corpus's catalog (the bucket's from its records)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest

from adapters.storage.corpus import Corpus
from adapters.storage.object_store import ObjectStore
from adapters.storage.objects import list_keys
from adapters.storage.urls import filesystem
from ingest.lerobot.writer import LeRobotWriter
from jobs.catalog.build import rebuild_catalog
from tests.s3.server import S3Server


@contextmanager
def publishing(out: ObjectStore) -> Iterator[None]:
    """Every writer created under `out.scratch` inside the block publishes its commits to `out`'s bucket."""
    create = LeRobotWriter.create.__func__  # type: ignore[attr-defined]

    def create_publishing(cls: type[LeRobotWriter], root: Path, **kw: Any) -> LeRobotWriter:
        writer = create(cls, root, **kw)
        writer.on_commit = out.publisher(Path(root).relative_to(out.scratch).as_posix()).on_commit
        return writer

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(LeRobotWriter, "create", classmethod(create_publishing))
        yield


def corpus_pair(write: Callable[[Path], object], s3: S3Server, url: str, tmp: Path) -> Path:
    """`write(root)` run into `tmp/local` and into the bucket corpus `url`; returns the local corpus."""
    local = tmp / "local"
    write(local)
    rebuild_catalog(Corpus(local))
    with closing(ObjectStore(url, s3.options(), scratch=tmp / "ingest-scratch")) as out:
        out.open()
        with publishing(out):
            write(out.scratch)
        rebuild_catalog(Corpus(out.scratch, out.storage, out))
        out.publish_corpus()
    return local


def tree(root: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Every file under `root` (relative path -> sha256), hidden folders and `skip` names left out."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and p.name not in skip
        and not any(part.startswith(".") for part in p.relative_to(root).parts[:-1])
    }


def bucket_tree(url: str, s3: S3Server, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """`tree` of the objects under `url` (the lease's `.eidata/` folder left out)."""
    fs, path = filesystem(url, s3.options())
    return {
        key.removeprefix(path + "/"): hashlib.sha256(fs.cat_file(key)).hexdigest()
        for key in list_keys(fs, path)
        if "/.eidata/" not in key and key.rsplit("/", 1)[-1] not in skip
    }


def fetch(url: str, s3: S3Server, dest: Path) -> Path:
    """The objects under `url` as files in `dest` (what a lerobot user would download)."""
    fs, path = filesystem(url, s3.options())
    for key in list_keys(fs, path):
        if "/.eidata/" in key:
            continue
        local = dest / key.removeprefix(path + "/")
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(fs.cat_file(key))
    return dest
