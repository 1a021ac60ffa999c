"""Which episodes of a corpus a stage works on (`eidata latents --manifest NAME --where SQL`), read as every command
reads `--manifest` and as `eidata curate --where` runs its clause; both given: the episodes both select. The result is
{dataset folder relative to the corpus: episode indices}, what a stage's plan filters its rows by.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from jobs.catalog.bounded import SqlLimitError
from jobs.catalog.census import check_census
from jobs.catalog.manifest_arg import manifest_folder, missing_hint
from jobs.catalog.manifest_current import check_current
from jobs.catalog.manifest_read import entries_file
from schemas.arrow import grouped
from schemas.corpus import EPISODES_DIR
from schemas.manifest import check_entries


class Scoped(BaseModel):
    """The scope options of a stage's job (`eidata latents`, `eidata caption`): `--manifest` and `--where`, one
    definition for every stage that takes them (`select`)."""

    manifest: str | None = Field(
        None,
        description="only this manifest's episodes: its NAME in ROOT/manifests, its folder, or a file of it (as "
        "export and train take it)",
    )
    where: str | None = Field(
        None,
        description="only the episodes this SQL expression over the catalog's episodes selects, as `eidata curate "
        "--where` takes it (with --manifest: the episodes both select)",
    )


class SelectionError(ValueError):
    """The selection cannot be made: a manifest not there, a where clause the guard refuses, no catalog."""


@dataclass(frozen=True)
class Selection:
    """The episodes selected, per dataset (relative to the corpus root), and how they were chosen, as said."""

    episodes: dict[str, frozenset[int]] = field(default_factory=dict)
    said: str = ""  # "manifest m1 and where tier = 'high'"

    def __len__(self) -> int:
        return sum(len(v) for v in self.episodes.values())

    def datasets(self, root: Path, found: list[Path]) -> list[Path]:
        """Those of the corpus's datasets `found` (folders under `root`) that hold a selected episode; SelectionError
        naming the datasets selected that the corpus lacks (a manifest of another corpus, or an older one)."""
        names = {ds.relative_to(root).as_posix(): ds for ds in found}
        if lacking := sorted(set(self.episodes) - names.keys()):
            named = ", ".join(lacking[:5])
            raise SelectionError(f"{self.said} names datasets this corpus lacks: {named}; curate again")
        return [ds for name, ds in names.items() if name in self.episodes]

    def keep(self, root: Path, ds: Path, lengths: dict[int, int]) -> dict[int, int]:
        """The selected of one dataset's episodes (index -> length); SelectionError naming those it lacks."""
        wanted = self.episodes.get(ds.relative_to(root).as_posix(), frozenset())
        if absent := sorted(wanted - lengths.keys()):
            raise SelectionError(f"{self.said}: {ds} has no episodes {absent[:5]} ({len(absent)} in all); curate again")
        return {i: n for i, n in lengths.items() if i in wanted}


def _grouped(datasets: pa.ChunkedArray, indices: pa.ChunkedArray) -> dict[str, frozenset[int]]:
    """Each dataset's episode indices (`schemas.arrow.grouped`: 1M rows without an object per row but its index)."""
    return {ds: frozenset(v) for ds, v in grouped(datasets, indices).items()}


def manifest_episodes(root: Path, given: str) -> dict[str, frozenset[int]]:
    """The episodes of the manifest `--manifest given` names in the corpus at `root`; ManifestStaleError (a
    CatalogError) when some changed or are gone since it was made (`manifest_current.check_current`)."""
    folder = Path(manifest_folder(given, root))
    try:
        entries = entries_file(folder)  # the one its manifest.json names
        if not entries.is_file():
            raise SelectionError(f"{folder}: no {entries.name}{missing_hint(given, root)}")
        table = check_entries(pq.read_table(entries), folder)
    except (OSError, ValueError) as e:
        raise SelectionError(f"--manifest {given}: {e}") from None
    check_current(root, folder, root, table)  # the entries read once
    return _grouped(table["dataset"], table["episode_index"])


def where_episodes(root: Path, where: str) -> dict[str, frozenset[int]]:
    """The episodes `--where` selects in the catalog of the corpus at `root`, as `eidata curate --where` does."""
    from jobs.catalog.episode_select import select_episodes  # duckdb's views: only when a where is given

    if not (root / EPISODES_DIR).is_dir():
        raise SelectionError(f"{root}: no catalog to run --where on; `eidata catalog {root}` builds it")
    try:  # the catalog must describe the datasets the stage works on (`jobs.catalog.census`)
        check_census(root, root, "--where")
        _, rows, _ = select_episodes(root, where)
    except (duckdb.Error, ValueError, SqlLimitError) as e:  # the guard's ExpressionError is a ValueError
        raise SelectionError(f"--where {where!r}: {e}") from None
    return _grouped(rows["dataset"], rows["episode_index"])


def select(root: Path, manifest: str | None, where: str | None) -> Selection | None:
    """The episodes `--manifest` and `--where` select together (None when neither is given: every episode)."""
    parts = []
    if manifest is not None:
        parts.append((f"manifest {manifest}", manifest_episodes(root, manifest)))
    if where is not None:
        parts.append((f"where {where}", where_episodes(root, where)))
    if not parts:
        return None
    said, chosen = parts[0]
    for words, more in parts[1:]:
        said += f" and {words}"
        chosen = {ds: v & more[ds] for ds, v in chosen.items() if ds in more and v & more[ds]}
    return Selection(chosen, said)
