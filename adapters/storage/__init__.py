"""The storage room: every read and write of sources, corpus and exports, on a folder or an object store (s3://, gs://,
hf://, file://, plain paths) through fsspec. A layer of its own below the rest of the house (imports run schemas <-
adapters.storage <- adapters.hostile <- adapters <- ingest <- training <- jobs: it imports only schemas and third-party
packages), in adapters/ because adapters are the first layer that reads; the URL contract and credentials are
`schemas/storage.py`. The rest of the house imports ten names from it (`tests/test_storage_door.py`): the handles
`Root`, `Location`, `Corpus`, `CorpusFiles`, `Tree`, `FileDigests`; the read fence `Fence`; and a local file's
`atomic_write`, `fsync_path` and `remove_temp_files`.

The one handle is `root.Root` (its views: `location`, `corpus`, `corpus_files`, `tree`; a corpus's or a tree's store,
`stores`, chosen once from its capabilities). The write side is the commit protocol (DESIGN.md 3.2: `objects`,
`commit_log`, `lease`, `publish`, `multipart`, `object_store`, `object_tree`, `derived`, `digests`, `meta_change`,
`atomic`); the read side opens beneath a root (`reads`, `beneath`, `location`, `special`) and names a store that does
not answer (`stalls`; whose fault an error is: `schemas/faults.py`). What a hostile file may cost and reach (bounds,
inflates, sealed stores, the memory limit) is the room above, `adapters.hostile`. Nothing outside this room asks whether
a storage is a bucket (`tests/test_storage_room.py`).
"""
