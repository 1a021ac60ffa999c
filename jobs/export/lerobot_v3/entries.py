"""A manifest's entries (`jobs.catalog.manifest_read.entries_file`) as a LeRobot export's plan reads them: columns,
one value per entry (issue 99: a plan of 1M entries made a Python row of each, five times over), the datasets they
name, and their episodes as a plan's (`episodes.PlanEpisodes`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from jobs.export.lerobot_v3.episodes import Kind, PlanEpisodes

OWN_COLUMNS = ("episode_uid", "tier", "split", "weight")  # each entry's own, beside its dataset and episode_index
INDEX_COLUMN = "source_episode_index"  # the episode's index in its dataset, as a plan's own column


class ManifestEntries:
    """The manifest's entries, row for row: each one's dataset (a code into `datasets`, named in the order of their
    first entries), its `episode_index` and its own columns (`OWN_COLUMNS`, Arrow)."""

    def __init__(self, table: pa.Table) -> None:
        encoded = pc.dictionary_encode(table.column("dataset").combine_chunks())
        self.datasets: list[str] = encoded.dictionary.to_pylist()
        self.dataset = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        self.index = table.column("episode_index").to_numpy().astype(np.int64)
        self.own = {name: table.column(name).combine_chunks() for name in OWN_COLUMNS}

    @classmethod
    def read(cls, entries: Path) -> ManifestEntries:
        return cls(pq.read_table(entries, columns=["dataset", "episode_index", *OWN_COLUMNS]))

    def __len__(self) -> int:
        return len(self.index)

    def _by_dataset(self) -> list[np.ndarray]:
        """Of each dataset (by code), the positions of its entries in order."""
        order = np.argsort(self.dataset, kind="stable")
        return np.split(order, np.cumsum(np.bincount(self.dataset, minlength=len(self.datasets)))[:-1])

    def named(self) -> dict[str, set[int]]:
        """dataset -> the episode indices its entries name, the datasets in the order of their first entries."""
        return {ds: set(self.index[at].tolist()) for ds, at in zip(self.datasets, self._by_dataset(), strict=True)}

    def episodes(
        self, sources: Mapping[str, Any], make: Callable[[Any, str, int], Kind], *, alive: bool = True
    ) -> PlanEpisodes:
        """The entries of the datasets in `sources` as a plan's episodes, in the manifest's order: with `alive` only
        those whose episode their dataset has, else every entry (`index in src.episodes` left to the plan). Each
        episode's kind: one per dataset and catalog text (`SourceDataset.text`), `make(src, dataset, index)` made
        from its first episode; its own columns the entry's and its index (`INDEX_COLUMN`)."""
        kinds: list[Kind] = []
        at: dict[Any, int] = {}
        code = np.full(len(self), -1, np.int64)
        for ds, positions in zip(self.datasets, self._by_dataset(), strict=True):
            if (src := sources.get(ds)) is None:
                continue
            lines = src.episodes
            for p, i in zip(positions.tolist(), self.index[positions].tolist(), strict=True):
                if alive and i not in lines:
                    continue
                if (k := at.get(key := (id(src), src.text(i)))) is None:
                    k = at[key] = len(kinds)
                    kinds.append(make(src, ds, i))
                code[p] = k
        kept = np.flatnonzero(code >= 0)
        own = {n: a.take(pa.array(kept)) for n, a in self.own.items()} | {INDEX_COLUMN: pa.array(self.index[kept])}
        return PlanEpisodes(kinds, code[kept], self.index[kept], own)
