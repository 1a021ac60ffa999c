"""A manifest written or replaced in one step: `manifests/<name>/` holds the old manifest or the new one whole, at
every instant, whatever kills the writer (issue 67 item 7: `curate --overwrite` killed between its two renames left
the old `manifest.json`, 4 entries, beside new entries of 21 rows, and `export --dry-run` took the mix for a manifest).

The entries go to a file named by their digest (`schemas.manifest.entries_name`) beside the old one, and
`manifest.json`, which names it, is replaced by one rename: the commit point (readers open the entries through it,
`manifest_read.entries_file`). Only then are unnamed entries and a killed writer's temporary files removed
(`_sweep`, also run first); an flock on the folder keeps two writers of one name from sweeping each other's entries.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from adapters.storage.atomic import fsync_path
from adapters.storage.corpus import Corpus
from jobs.catalog.manifest_read import entries_file
from schemas.corpus import MANIFESTS_DIR
from schemas.manifest import ENTRIES_NAME, MANIFEST_JSON, Manifest, entries_name


def write_manifest(corpus: Corpus, manifest: Manifest, entries: bytes, *, overwrite: bool = False) -> Path | str:
    """`manifests/<manifest.name>/` of the corpus holding `manifest` and its `entries` (parquet bytes), replacing the
    manifest there when `overwrite` (else FileExistsError when one is there, even one written meanwhile by another
    curate); returns the folder as its user names it (`corpus.where_of`)."""
    rel = f"{MANIFESTS_DIR}/{manifest.name}"
    name = entries_name(entries)
    manifest = manifest.model_copy(update={"entries": name})
    folder = corpus.root / rel  # a bucket's: its local copy, swept alike (the bucket's objects are put whole)
    folder.mkdir(parents=True, exist_ok=True)
    with corpus.locked(rel):  # two writers of one name: one waits
        _sweep(folder)  # what a killed writer left
        try:
            corpus.put(f"{rel}/{name}", entries)  # beside the old entries: no reader reads it yet
            try:  # the commit point: one rename (a create that fails on an existing one without `overwrite`)
                corpus.put(f"{rel}/{MANIFEST_JSON}", manifest.dump().encode(), exclusive=not overwrite)
            except FileExistsError:
                raise FileExistsError(f"manifest {corpus.where_of(rel)} already exists") from None
        finally:
            _sweep(folder)  # the entries no manifest names: the old ones, or ours when the json was not ours
    return corpus.where_of(rel)


def _sweep(folder: Path) -> None:
    """Remove from the manifest folder every entries file its `manifest.json` does not name and every hidden file
    (the temporary files of a write killed before its rename); nothing when the json cannot be read (which entries
    it names is then unknown). Other files are left alone."""
    try:
        kept = entries_file(folder).name
    except (OSError, ValueError):
        return
    removed = False
    for p in folder.iterdir():
        if p.name != kept and (ENTRIES_NAME.fullmatch(p.name) or p.name.startswith(".")) and p.is_file():
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
                removed = True
    if removed:
        fsync_path(folder)
