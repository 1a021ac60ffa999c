"""A manifest folder read (`schemas.manifest`): its `manifest.json`, and through it the entries file it names, the
commit point every reader goes through (`jobs.catalog.manifest_write`)."""

from __future__ import annotations

from pathlib import Path

from schemas.json_document import parsed_json
from schemas.manifest import ENTRIES_PARQUET, MANIFEST_JSON, Manifest


def load_manifest(manifest_dir: Path | str) -> Manifest:
    """The folder's `manifest.json`, as curate and the trainer read it (Python's json, not pydantic's Rust parser,
    which aborts where a memory limit refuses it: `load_info`); ValueError naming the file when it is not JSON."""
    path = Path(manifest_dir) / MANIFEST_JSON
    return Manifest.model_validate(parsed_json(path.read_bytes(), str(path)))


def entries_file(manifest_dir: Path | str) -> Path:
    """The entries file of the manifest folder: the one its `manifest.json` names (read whole: the file a reader
    reads is the one of the json it read), `entries.parquet` in a folder without one. OSError or ValueError for a
    json that cannot be read."""
    folder = Path(manifest_dir)
    if not (folder / MANIFEST_JSON).is_file():
        return folder / ENTRIES_PARQUET
    return folder / load_manifest(folder).entries
