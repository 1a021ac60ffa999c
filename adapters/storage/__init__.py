"""The storage room: every read and write of sources, corpus and exports, on a folder or an object store (s3://, gs://,
hf://, file://, plain paths) through fsspec. A layer of its own below the rest of the house (imports run schemas <-
adapters.storage <- adapters <- ingest <- training <- jobs: it imports only schemas and third-party packages), in
adapters/ because adapters are the first layer that reads; the URL contract and credentials are `schemas/storage.py`.

One handle, `root.Root` (a folder or a prefix named once by a path or a URL, with its capabilities: `replaces`,
`renames`, `ranged_reads`, `paths`), behind the views: `location` (what adapters read through: a root or a ref's path
as a pathlib Path or a UPath, and the files libraries open from it; DESIGN.md 3.3), `corpus` (a job's corpus),
`corpus_files` (training's reads), `tree` (an export's output). The write side is the commit protocol (DESIGN.md 3.2:
`objects`, `commit_log`, `lease`, `publish`, `multipart`, `bucket_output`, `derived`, `digests`, `meta_change`,
`atomic`); the read side bounds what a file may cost (`reads`, `bounds`, `h5`, `zarr_*`, `sealed`, `contain`,
`beneath`, `absent`, `memory_limit`) and names faults of the environment (`faults`, `stalls`, `vanished`). Nothing
outside this room asks whether a storage is a bucket (`tests/test_storage_room.py`).
"""
