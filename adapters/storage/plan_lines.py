"""What a plan reads of each episode's `episodes.jsonl` line, read from the catalog (issue 99): an export's plan
(`jobs/export/lerobot_v3/source.py`) and train's index (`training/episodes.py`) read one column of the catalog's
parts (`plan_line`, with `dataset`, `episode_index`, `num_frames` and `episode_uid`), filtered to the datasets and
episodes they plan, instead of every dataset's `episodes.jsonl` (~7 KB of lineage per G1 episode: at 100k episodes the
meta made a plan linear, 54-307 s, benchmarks/COMMAND_SURFACE.md).

The catalog is rebuilt from the meta (`jobs.catalog.rows` writes the column from the same line) and every command
that plans checks that it still describes the datasets (`jobs.catalog.census`) before it reads it; a dataset the
catalog has no `plan_line` for (no catalog, a catalog of an older eidata, a manifest outside a corpus) is left out
of the answer, so that its reader takes its meta as before.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from schemas.corpus import EPISODES_DIR, LINEAGE_KEY
from schemas.episode_lines import joined_fields

PLAN_COLUMN, MOVES_COLUMN = "plan_line", "native_moves"
COLUMNS = ["dataset", "episode_index", "num_frames", "episode_uid", MOVES_COLUMN, PLAN_COLUMN]
BATCH = 65_536  # rows decoded at a time: the column's text is kept as its dictionary's codes


class PlanLines(Mapping[int, dict[str, Any]]):
    """One dataset's planned episodes: episode_index -> its line cut to the plan's fields (`plan_fields`), made at
    each ask from the catalog's row (read-only: the values of a `plan_line` text are one object for every episode
    that has it), and of each its catalog's `native_moves` (`moves`: an array per distinct value, None where null)."""

    def __init__(self) -> None:
        self._rows: dict[int, tuple[Mapping[str, Any], int, str]] = {}
        self.moves: dict[int, np.ndarray | None] = {}

    def __getitem__(self, index: int) -> dict[str, Any]:
        shared, length, uid = self._rows[index]
        return joined_fields(shared, index, length, uid, LINEAGE_KEY)

    def shared(self, index: int) -> tuple[Mapping[str, Any], str]:
        """The episode's `plan_line` parsed (one object for every episode with the same text: what is derived from it
        alone is derived once, `SourceDataset.lineage`) and its uid, which its line's lineage gets beside it."""
        shared, _, uid = self._rows[index]
        return shared, uid

    def __contains__(self, index: object) -> bool:
        return index in self._rows

    def __iter__(self) -> Iterator[int]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


def catalog_lines(corpus_root: Path, wanted: Mapping[str, Collection[int] | None] | None) -> dict[str, PlanLines]:
    """dataset -> its `wanted` episodes' lines (those the catalog holds; in the catalog's order) for each dataset of
    `wanted` (None: every dataset; a dataset's None: its every episode) whose every row has a `plan_line`; {} where
    the corpus folder `corpus_root` has no catalog or one without the column."""
    # the committed parts (`jobs.catalog.parts.parquet_files` lists them for jobs; a temp part is hidden)
    parts = sorted(p for p in (Path(corpus_root) / EPISODES_DIR).glob("*.parquet") if not p.name.startswith("."))
    found: dict[str, PlanLines] = {}
    lacking: set[str] = set()  # datasets with a row cataloged before `plan_line`: read from their meta
    parsed: dict[str, Mapping[str, Any]] = {}  # text -> its fields: one object per distinct text
    arrays: dict[tuple[bool, ...], np.ndarray] = {}  # native_moves -> one read-only array per distinct value
    names = None if wanted is None else pa.array(list(wanted), pa.string())
    for part in parts:
        # ParquetFile, as jobs.catalog.source_findings says why (read_table's dataset path aborts at exit)
        if not {PLAN_COLUMN, MOVES_COLUMN} <= set(pq.read_schema(part).names):
            return {}
        f = pq.ParquetFile(part, read_dictionary=[PLAN_COLUMN])
        for batch in f.iter_batches(batch_size=BATCH, columns=COLUMNS, use_threads=False):
            if names is not None:
                batch = batch.filter(pc.is_in(batch.column("dataset"), value_set=names))
            if not batch.num_rows:
                continue
            plan = batch.column(PLAN_COLUMN)
            texts = plan.dictionary.to_pylist()
            codes = plan.indices.to_pylist()
            columns = zip(*(batch.column(c).to_pylist() for c in COLUMNS[:5]), codes, strict=True)
            for dataset, index, length, uid, moves, code in columns:
                if wanted is not None and (episodes := wanted[dataset]) is not None and index not in episodes:
                    continue
                if code is None:
                    lacking.add(dataset)
                    continue
                text = texts[code]
                if (shared := parsed.get(text)) is None:
                    shared = parsed[text] = json.loads(text)
                lines = found.setdefault(dataset, PlanLines())
                lines._rows[index] = (shared, length, uid)
                array = None if moves is None else arrays.get(key := tuple(moves))
                if moves is not None and array is None:  # made once per distinct value, not per episode
                    array = arrays[key] = _frozen(moves)
                lines.moves[index] = array
    return {ds: lines for ds, lines in found.items() if ds not in lacking}


def _frozen(values: list[bool]) -> np.ndarray:
    out = np.asarray(values, dtype=bool)
    out.flags.writeable = False
    return out
