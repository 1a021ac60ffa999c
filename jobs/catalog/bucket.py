"""The catalog of a corpus in a bucket, read by DuckDB through fsspec: the bucket's filesystem is registered with the
connection (DuckDB's own httpfs extension would be downloaded at run time, which a job cannot count on), and a
catalog folder's parts are listed by the store, never globbed."""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from adapters.storage.urls import filesystem
from ingest.storage.objects import list_keys
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
