"""The catalog of a corpus in a bucket. Read by DuckDB through fsspec: the bucket's filesystem is registered with the
connection (DuckDB's own httpfs extension would be downloaded at run time, which a job cannot count on), and a
catalog folder's parts are listed by the store, never globbed. Rebuilt from the datasets' commit records
(`RecordDigests`): the records hold every object's size and sha256, so the content hashes need no byte of the corpus."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb

from adapters.storage.urls import filesystem
from ingest.storage.bucket_output import BucketOutput
from ingest.storage.objects import list_keys, list_modified
from ingest.storage.publish import DatasetPublisher
from jobs.catalog.build import rebuild_catalog
from jobs.catalog.rows import CatalogError, FileDigests
from schemas.storage import StorageOptions, protocol_of


def bucket_catalog(
    con: duckdb.DuckDBPyConnection, url: str, options: StorageOptions | None = None
) -> Callable[[str], list[str]]:
    """Register the bucket of `url` (a corpus root) with `con`; returns a lister of one catalog folder's committed
    `*.parquet` parts (sorted URLs; hidden temp names and sub-folders left out, as `schemas.corpus.parquet_files`)."""
    fs, path = filesystem(url, options)
    con.register_filesystem(fs)
    protocol = protocol_of(url)

    def parts(rel: str) -> list[str]:
        folder = f"{path}/{rel}/"
        names = [k.removeprefix(folder) for k in list_keys(fs, folder)]
        return [f"{protocol}://{folder}{n}" for n in names if n.endswith(".parquet") and "/" not in n and n[0] != "."]

    return parts


class RecordDigests(FileDigests):
    """A bucket dataset's file digests from its commit records, which hold each committed object's size and sha256:
    exactly what an episode's content hash frames, so no byte is fetched; an object's ingest time is its LastModified
    (one listing of the dataset's `data/`)."""

    def __init__(self, publisher: DatasetPublisher) -> None:
        super().__init__()
        self.publisher = publisher
        records = publisher.log.records(refresh=True)  # committers in other processes appended since it read them
        self.sums = {rel: (o["size"], o["sha256"]) for r in records for rel, o in r.objects.items()}
        self._modified: dict[str, datetime] | None = None

    def digest(self, dataset_root: Path, rel: str) -> tuple[int, str]:
        if rel not in self.sums:
            raise CatalogError(f"{self.publisher.prefix}/{rel}: listed in the dataset's meta but in no commit record")
        size, sha = self.sums[rel]
        self.seen[rel] = (size, 0, sha)
        return size, sha

    def modified(self, dataset_root: Path, rel: str) -> datetime:
        if self._modified is None:
            self._modified = list_modified(self.publisher.fs, f"{self.publisher.prefix}/data")
        key = self.publisher.log.final_key(rel)
        if key not in self._modified:
            raise CatalogError(f"{key}: committed but not in the bucket")
        return self._modified[key]


def rebuild_bucket_catalog(out: BucketOutput) -> int:
    """The catalog of a bucket output, rebuilt in its scratch corpus from the datasets' meta and commit records (no
    episode file fetched); `out.publish()` then puts it in the bucket. Returns the number of rows."""

    def digests_for(dataset_root: Path) -> FileDigests:
        return RecordDigests(out.publisher(dataset_root.relative_to(out.scratch).as_posix()))

    return rebuild_catalog(out.scratch, digests_for=digests_for)
