"""The catalog of a corpus in a bucket. Read by DuckDB through fsspec: the bucket's filesystem is registered with the
connection (DuckDB's own httpfs extension would be downloaded at run time, which a job cannot count on), and a
catalog folder's parts are listed by the store, never globbed. Rebuilt from the datasets' commit records
(`RecordDigests`): the records hold every object's size and sha256, so the content hashes need no byte of the corpus."""

from __future__ import annotations

import hashlib
import io
import tempfile
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from adapters.storage.urls import filesystem
from ingest.storage.bucket_output import BucketOutput, bucket_of_scratch
from ingest.storage.digests import RecordDigests
from ingest.storage.objects import exists, list_keys, put, put_if_absent
from jobs.catalog.build import DigestsFor, rebuild_catalog
from schemas.corpus import EPISODES_DIR, MANIFESTS_DIR
from schemas.manifest import ENTRIES_PARQUET, MANIFEST_JSON, Manifest
from schemas.storage import StorageOptions, protocol_of


def _is_part(key: str, folder: str) -> bool:
    """A committed parquet part directly in `folder` (hidden temp names and sub-folders left out, as
    `schemas.corpus.parquet_files`)."""
    name = key.removeprefix(folder)
    return name.endswith(".parquet") and "/" not in name and not name.startswith(".")


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
        return [f"{protocol}://{k}" for k in list_keys(fs, folder) if _is_part(k, folder)]

    return parts


def rebuild_bucket_catalog(out: BucketOutput) -> int:
    """The catalog of a bucket output, rebuilt in its scratch corpus from the datasets' meta and commit records (no
    episode file fetched); `out.publish()` then puts it in the bucket. Returns the number of rows."""

    def digests_for(dataset_root: Path) -> FileDigests:
        return RecordDigests(out.publisher(dataset_root.relative_to(out.scratch).as_posix()))

    return rebuild_catalog(out.scratch, digests_for=digests_for)


def bucket_snapshot_hash(url: str, options: StorageOptions | None = None) -> str:
    """`jobs.catalog.build.catalog_snapshot_hash` of a corpus in a bucket: the same framing (name, size, bytes of each
    part in name order), so one catalog has one snapshot hash on disk and in the bucket."""
    fs, path = filesystem(url, options)
    h = hashlib.sha256()
    for key in sorted(k for k in list_keys(fs, f"{path}/{EPISODES_DIR}") if _is_part(k, f"{path}/{EPISODES_DIR}/")):
        data = fs.cat_file(key)
        h.update(f"{key.rsplit('/', 1)[-1]}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def write_bucket_manifest(
    url: str, name: str, entries: pa.Table, manifest: Manifest, *, overwrite: bool, options: StorageOptions | None
) -> str:
    """`manifests/<name>/` of a corpus in a bucket: `entries.parquet` put first, then `manifest.json`, the manifest's
    commit point (readers open it first); without `overwrite` it is a conditional create, so of two curates of one
    name exactly one succeeds and the other gets FileExistsError. Returns the manifest's URL."""
    fs, path = filesystem(url, options)
    folder = f"{path}/{MANIFESTS_DIR}/{name}"
    where = f"{url}/{MANIFESTS_DIR}/{name}"
    if not overwrite and exists(fs, f"{folder}/{MANIFEST_JSON}"):
        raise FileExistsError(f"{where} already exists; pass overwrite=True (--overwrite) to replace it")
    buf = io.BytesIO()
    pq.write_table(entries, buf, compression="zstd")
    put(fs, f"{folder}/{ENTRIES_PARQUET}", buf.getvalue())
    text = manifest.dump().encode()
    if overwrite:
        put(fs, f"{folder}/{MANIFEST_JSON}", text)
    elif not put_if_absent(fs, f"{folder}/{MANIFEST_JSON}", text):
        raise FileExistsError(f"{where} was created meanwhile; pass overwrite=True (--overwrite) to replace it")
    return where


def load_bucket_manifest(manifest_url: str, options: StorageOptions | None = None) -> Manifest:
    fs, path = filesystem(manifest_url, options)
    return Manifest.model_validate_json(fs.cat_file(f"{path}/{MANIFEST_JSON}"))


def bucket_digests(corpus_root: Path, options: StorageOptions | None = None) -> DigestsFor | None:
    """For `rebuild_catalog(corpus_root, digests_for=...)`: `RecordDigests` when `corpus_root` is a bucket output's
    scratch corpus (its episode files are in the bucket, not here), else None (the files are hashed)."""
    url = bucket_of_scratch(corpus_root)
    if url is None:
        return None
    out = BucketOutput(url, options, scratch=corpus_root)
    return lambda dataset_root: RecordDigests(out.publisher(dataset_root.relative_to(corpus_root).as_posix()))


def catalog_bucket(url: str, options: StorageOptions | None = None) -> tuple[int, int]:
    """`eidata catalog s3://...`: under the output's lease (a running job refuses it, `OutputLeasedError`), recover
    the datasets, rebuild the catalog from their records in a temporary scratch corpus and put it in the bucket.
    Returns (episodes, datasets)."""
    with (
        tempfile.TemporaryDirectory(prefix="eidata-catalog-") as tmp,
        BucketOutput(url, options, scratch=Path(tmp) / "corpus", job="catalog") as out,
    ):
        n = rebuild_bucket_catalog(out)
        out.publish()
        return n, len(out.datasets())
