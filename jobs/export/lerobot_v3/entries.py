"""A manifest's entries (`jobs.catalog.manifest_read.entries_file`) as a LeRobot export's plan reads them: one row
per entry, and the datasets they name."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow.parquet as pq


class ManifestRow(NamedTuple):
    """One entry of a manifest (`jobs.catalog.manifest_read.entries_file`) as a plan reads it."""

    dataset: str
    episode_index: int
    episode_uid: str
    tier: Any
    split: str
    weight: float | None


def manifest_rows(entries: Path) -> list[ManifestRow]:
    """The manifest's entries, row for row."""
    table = pq.read_table(entries, columns=list(ManifestRow._fields))
    columns = [table.column(name).to_pylist() for name in ManifestRow._fields]
    return [ManifestRow(*r) for r in zip(*columns, strict=True)]


def manifest_datasets(rows: Iterable[tuple[str, int]]) -> dict[str, set[int]]:
    """dataset -> the episode indices of the (dataset, episode_index) `rows`, in the order the rows first name them."""
    named: dict[str, set[int]] = {}
    for dataset, index in rows:
        named.setdefault(dataset, set()).add(int(index))
    return named
