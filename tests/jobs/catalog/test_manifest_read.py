"""A manifest folder read (`jobs.catalog.manifest_read`): its manifest.json as written, a json that does not parse
refused naming the file, and the entries file the json names (`entries.parquet` in a folder without one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.catalog.curate import curate
from jobs.catalog.manifest_read import entries_file, load_manifest
from schemas.manifest import ENTRIES_PARQUET, MANIFEST_JSON, Manifest, entries_name


def test_the_manifest_and_its_entries_are_read_as_written(corpus_copy: Path) -> None:
    folder = Path(curate(corpus_copy, "all", "true"))
    manifest = Manifest.model_validate_json((folder / MANIFEST_JSON).read_text())
    assert load_manifest(folder) == manifest and entries_file(folder) == folder / manifest.entries
    assert manifest.entries == entries_name(entries_file(folder).read_bytes())
    assert entries_file(folder / "none") == folder / "none" / ENTRIES_PARQUET


@pytest.mark.parametrize("body", [b"{not json", b'{"name": "m",', b"\xff\xfe{}"])
def test_a_manifest_json_that_does_not_parse_names_its_file(tmp_path: Path, body: bytes) -> None:
    (tmp_path / MANIFEST_JSON).write_bytes(body)
    with pytest.raises(ValueError, match=r"manifest\.json: not valid JSON"):
        load_manifest(tmp_path)
