"""What bytes a corpus holds: the sha256 and size of each file of a dataset, as the catalog's content hashes frame
them. `FileDigests` hashes a folder's files, reusing the sums of files unchanged since they were last hashed (as git's
index does); `RecordDigests` reads them from a bucket dataset's commit records, which hold each committed object's
size and sha256, so no byte is fetched. A corpus handle (`adapters.storage.corpus`) gives the one that fits it."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from adapters.storage.atomic import atomic_write
from adapters.storage.corpus_files import CorpusFiles
from adapters.storage.objects import list_modified
from adapters.storage.publish import DatasetPublisher
from schemas.corpus import relative_posix
from schemas.storage import CatalogError

ROW_GROUP_SIZE = 122_880  # DuckDB's own row group size (the catalog's parts use it too)

FILE_DIGEST_SCHEMA = pa.schema(
    [("file", pa.string()), ("size", pa.int64()), ("mtime_ns", pa.int64()), ("sha256", pa.string())]
)

_PLAIN = re.compile(r"[A-Za-z0-9_.\-~/]*")  # urllib.parse._ALWAYS_SAFE, and "/"


class FileDigests:
    """sha256 of one dataset's files, reused while a file's (size, mtime_ns) is unchanged, as git's index does.

    A rebuild then costs a stat per file for data already cataloged, instead of rereading the whole corpus.
    Start from `FileDigests()` to hash every byte."""

    DIR = ".file_digests"  # inside catalog/: per-dataset file digests a rebuild reuses

    def __init__(self, known: dict[str, tuple[int, int, str]] | None = None) -> None:
        self.known = known or {}
        self.seen: dict[str, tuple[int, int, str]] = {}
        self.hashed_bytes = 0
        self._files: CorpusFiles | None = None  # the dataset's files, as `header` reads them

    def digest(self, dataset_root: Path, rel: str) -> tuple[int, str]:
        """(size, sha256 hex) of `dataset_root / rel`."""
        path = dataset_root / rel
        try:
            st = path.stat()
        except FileNotFoundError:
            raise CatalogError(f"{path}: listed in the dataset's meta but missing on disk") from None
        hit = self.known.get(rel)
        if hit is not None and hit[:2] == (st.st_size, st.st_mtime_ns):
            self.seen[rel] = hit
            return st.st_size, hit[2]
        with open(path, "rb") as f:  # streamed: a file of many GiB never sits in memory
            h = hashlib.file_digest(f, "sha256")
        self.hashed_bytes += st.st_size
        self.seen[rel] = (st.st_size, st.st_mtime_ns, h.hexdigest())
        return st.st_size, self.seen[rel][2]

    def modified(self, dataset_root: Path, rel: str) -> datetime:
        """When the file was written: the catalog's `ingested_at` for an episode's data file."""
        micros = (dataset_root / rel).stat().st_mtime_ns // 1000  # exact to the microsecond the parquet column keeps
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)

    def exists(self, dataset_root: Path, rel: str) -> bool:
        """Whether the dataset holds the file `rel` (a derived file: latents)."""
        return (dataset_root / rel).exists()

    def header(self, dataset_root: Path, rel: str, tensor: str) -> tuple[dict[str, Any], np.ndarray] | None:
        """The safetensors header of the derived file `rel` and the values of its small `tensor` stored first (one
        read of its head: `CorpusFiles.safetensors_meta`), for the catalog's columns of what a plan reads of it; None
        where it cannot be read (its reader then opens it, and says why)."""
        if self._files is None or self._files.root != dataset_root:
            self._files = CorpusFiles(dataset_root)
        try:
            return self._files.safetensors_meta(dataset_root / rel, tensor)
        except (OSError, KeyError, RuntimeError, ValueError, TypeError):
            return None

    @classmethod
    def load(cls, path: Path) -> FileDigests:
        """The digests a previous rebuild saved; none (hash everything) when the file is missing or unreadable."""
        try:
            t = pq.read_table(path, schema=FILE_DIGEST_SCHEMA).to_pydict()
        except (OSError, pa.ArrowException):
            return cls()
        return cls({f: (s, m, d) for f, s, m, d in zip(t["file"], t["size"], t["mtime_ns"], t["sha256"], strict=True)})

    def save(self, path: Path) -> None:
        """The digests of the files seen (files no longer listed drop out)."""
        rows = [dict(zip(FILE_DIGEST_SCHEMA.names, (f, *v), strict=True)) for f, v in sorted(self.seen.items())]
        table = pa.Table.from_pylist(rows, schema=FILE_DIGEST_SCHEMA)
        atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression="zstd", row_group_size=ROW_GROUP_SIZE))

    @staticmethod
    def name_of(corpus_root: Path, dataset_root: Path) -> str:
        """The file under `catalog/<DIR>/` holding one dataset's saved digests: its path in the corpus, quoted."""
        rel = relative_posix(dataset_root, corpus_root)
        # what `quote` leaves as it is, and "/" as it quotes it: its per-character loop for each of a 1M corpus's 30k
        # datasets was 1 CPU-s of every `catalog`
        plain = _PLAIN.fullmatch(rel) is not None
        return (rel.replace("/", "%2F") if plain else quote(rel, safe="")) + ".parquet"

    @staticmethod
    def hash_file(h: Any, path: Path, rel: str) -> None:
        """Feed one file into `h`, framed by its relative name and size so concatenations cannot collide."""
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise CatalogError(f"{path}: listed in the dataset's meta but missing on disk") from None
        h.update(f"{rel}\0{size}\0".encode())
        with open(path, "rb") as f:
            hashlib.file_digest(f, lambda: h)


class RecordDigests(FileDigests):
    """A bucket dataset's file digests from its commit records (each object's size and sha256: what an episode's content
    hash frames, no byte fetched); an object's ingest time is its LastModified (one listing of `data/`)."""

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
            self._modified = list_modified(self.publisher.root.fs, f"{self.publisher.prefix}/data")
        key = self.publisher.log.final_key(rel)
        if key not in self._modified:
            raise CatalogError(f"{key}: committed but not in the bucket")
        return self._modified[key]

    def exists(self, dataset_root: Path, rel: str) -> bool:
        return rel in self.sums  # committed: a file no record names is not there for a reader

    def header(self, dataset_root: Path, rel: str, tensor: str) -> tuple[dict[str, Any], np.ndarray] | None:
        return None  # no byte fetched: a bucket's plans read its files (records hold no tensor's shape)
