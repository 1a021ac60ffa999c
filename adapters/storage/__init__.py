"""Reading roots that are object-store URLs (s3://, gs://, hf://, file://, plain paths) through fsspec.

It lives in adapters/ because adapters are the first layer that reads raw sources (imports run schemas <- adapters <-
ingest); adapters/storage holds the write side (the commit protocol, DESIGN.md section 3.2). The URL contract and the
credential model are `schemas/storage.py`. The modules: `location` (what adapters use: a root or a ref's path as a
pathlib Path or a UPath, and the files libraries open from it; DESIGN.md 3.3), `h5` (h5py on an object), `urls` (a URL
to a filesystem, the preflight), `reads` (streamed and seekable reads with bounded read-ahead, the counting wrapper,
the bounded local cache).
"""
