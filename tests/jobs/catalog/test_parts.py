"""The catalog's parquet parts: rows written sorted in `CATALOG_SCHEMA` under a checked part name, atomically (no
temp file left), tables cast and sorted, quarantine parts sorted by source, raw path and stage; the committed parts
found, nothing else."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from jobs.catalog.census import CENSUS_JSON
from jobs.catalog.parts import parquet_files, write_quarantine_part
from jobs.catalog.rows import dataset_rows
from schemas.catalog import CATALOG_SCHEMA
from schemas.corpus import EPISODES_DIR, QUARANTINE_DIR, QUARANTINE_SCHEMA
from tests.fixtures.corpus import quarantine_row, write_catalog_part


def test_write_catalog_part_sorts_and_leaves_no_temp_file(corpus: Path, tmp_path: Path) -> None:
    rows = sorted(dataset_rows(corpus, corpus / "datasets/oxe/bridge")[0], key=lambda r: r.episode_uid)
    path = write_catalog_part(tmp_path, rows[::-1], "job-1")
    assert path == tmp_path / EPISODES_DIR / "job-1.parquet"
    table = pq.read_table(path)
    assert table["episode_uid"].to_pylist() == [r.episode_uid for r in rows]
    assert table.schema.equals(CATALOG_SCHEMA)
    assert sorted(os.listdir(path.parent)) == [CENSUS_JSON, "job-1.parquet"]  # and the census of its datasets


def test_quarantine_parts_are_sorted_by_source_path_and_stage(tmp_path: Path) -> None:
    keys = [("oxe", "/b", "read"), ("agibot", "/z", "write"), ("oxe", "/a", "write"), ("oxe", "/a", "canonicalize")]
    rows = [quarantine_row(source=source, raw_path=path, stage=stage) for source, path, stage in keys]
    path = write_quarantine_part(tmp_path, rows, "job-0")
    assert path == tmp_path / QUARANTINE_DIR / "job-0.parquet"
    table = pq.read_table(path)
    assert table.schema.equals(QUARANTINE_SCHEMA)
    got = list(zip(*(table[c].to_pylist() for c in ("source", "raw_path", "stage")), strict=True))
    assert got == [
        ("agibot", "/z", "write"),
        ("oxe", "/a", "canonicalize"),
        ("oxe", "/a", "write"),
        ("oxe", "/b", "read"),
    ]
    for bad in ("a/b", ".hidden", "x.parquet", ""):
        with pytest.raises(ValueError, match="plain file stem"):
            write_quarantine_part(tmp_path, rows, bad)


def test_committed_parts_are_found_and_nothing_else(tmp_path: Path) -> None:
    part_dir = tmp_path / QUARANTINE_DIR
    part_dir.mkdir(parents=True)
    for name in ("b.parquet", "a.parquet", ".a.parquet.tmp-1", "notes.txt"):
        (part_dir / name).write_bytes(b"")
    assert [p.name for p in parquet_files(tmp_path, QUARANTINE_DIR)] == ["a.parquet", "b.parquet"]
    assert parquet_files(tmp_path, "catalog/none") == []
