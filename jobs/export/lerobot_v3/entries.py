"""A manifest's entries (`schemas.manifest.entries_file`) as a LeRobot export's plan reads them: one row per entry,
the texts its rows repeat one object each, and the datasets they name (issue 75: a plan reads a manifest of 100k
episodes whole)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow.parquet as pq

from jobs.export.lerobot_v3.columns import Interner


class ManifestRow(NamedTuple):
    """One entry of a manifest (`schemas.manifest.entries_file`) as a plan reads it."""

    dataset: str
    episode_index: int
    episode_uid: str
    tier: Any
    split: str
    weight: float | None


def manifest_rows(entries: Path) -> list[ManifestRow]:
    """The manifest's entries, the texts its rows repeat (dataset, tier, split) one object each (issue 75: a
    manifest of 100k episodes is read for a plan)."""
    table = pq.read_table(entries, columns=list(ManifestRow._fields))
    intern = Interner()
    columns = []
    for name in ManifestRow._fields:
        if name not in ("dataset", "tier", "split"):
            columns.append(table.column(name).to_pylist())
            continue
        values: list[Any] = []
        for chunk in table.column(name).dictionary_encode().chunks:  # each distinct text made once
            texts = [intern(v) for v in chunk.dictionary.to_pylist()]
            values += [None if i is None else texts[i] for i in chunk.indices.to_pylist()]
        columns.append(values)
    return [ManifestRow(*r) for r in zip(*columns, strict=True)]


def manifest_datasets(rows: Iterable[tuple[str, int]]) -> dict[str, set[int]]:
    """dataset -> the episode indices of the (dataset, episode_index) `rows`, in the order the rows first name them."""
    named: dict[str, set[int]] = {}
    for dataset, index in rows:
        named.setdefault(dataset, set()).add(int(index))
    return named
