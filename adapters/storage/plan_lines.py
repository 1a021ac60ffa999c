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
from collections.abc import Collection, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from schemas.corpus import EPISODES_DIR
from schemas.episode_lines import PLAN_COLUMN, PlanLines, PlanTexts

MOVES_COLUMN = "native_moves"
COLUMNS = ["dataset", "episode_index", "num_frames", "episode_uid", MOVES_COLUMN, PLAN_COLUMN]
LATENTS_COLUMNS = ["latents_keys", "latents_files"]  # read where the catalog has them (a catalog of before: not)
BATCH = 65_536  # rows decoded at a time: the column's text is kept as its dictionary's codes


def _parts(corpus_root: Path) -> list[Path]:
    # the committed parts (`jobs.catalog.parts.parquet_files` lists them for jobs; a temp part is hidden)
    return sorted(p for p in (Path(corpus_root) / EPISODES_DIR).glob("*.parquet") if not p.name.startswith("."))


def catalog_texts(corpus_root: Path, datasets: Collection[str]) -> dict[str, PlanTexts]:
    """dataset -> its every episode's index (in the catalog's order) and `plan_line` texts, each parsed once with how
    many of its episodes have it (in the order the dataset's rows first have them), for each dataset of `datasets`
    whose every row has a `plan_line`; {} where the corpus folder `corpus_root` has no catalog or one without the
    columns. `catalog_plan`'s columns grouped by dataset: no object per episode but its index (`catalog_lines` makes
    three, 7 CPU-s at 1M)."""
    names = sorted(datasets)
    plan = catalog_plan(corpus_root, names, latents=False)
    if plan is None or not plan.dataset.size:
        return {}
    found: dict[str, PlanTexts] = {}
    parsed: dict[int, Mapping[str, Any]] = {}  # code -> its text's fields: one object per distinct text
    order = np.argsort(plan.dataset, kind="stable")
    for rows in np.split(order, np.flatnonzero(np.diff(plan.dataset[order])) + 1):
        codes = plan.plan[rows]
        if (codes < 0).any():  # a row cataloged before `plan_line`: the dataset's meta is read
            continue
        distinct, first, counts = np.unique(codes, return_index=True, return_counts=True)
        held = found[names[plan.dataset[rows[0]]]] = PlanTexts(episodes=plan.episode_index[rows].tolist())
        for i in np.argsort(first):
            code = int(distinct[i])
            if (shared := parsed.get(code)) is None:
                shared = parsed[code] = json.loads(plan.plans[code])
            held.texts[plan.plans[code]] = (shared, int(counts[i]))
    return found


def catalog_lines(corpus_root: Path, wanted: Mapping[str, Collection[int] | None] | None) -> dict[str, PlanLines]:
    """dataset -> its `wanted` episodes' lines (those the catalog holds; in the catalog's order) for each dataset of
    `wanted` (None: every dataset; a dataset's None: its every episode) whose every row has a `plan_line`; {} where
    the corpus folder `corpus_root` has no catalog or one without the column."""
    parts = _parts(corpus_root)
    found: dict[str, PlanLines] = {}
    lacking: set[str] = set()  # datasets with a row cataloged before `plan_line`: read from their meta
    parsed: dict[str, Mapping[str, Any]] = {}  # text -> its fields: one object per distinct text
    arrays: dict[tuple[bool, ...], np.ndarray] = {}  # native_moves -> one read-only array per distinct value
    held: dict[tuple[tuple[str, ...], tuple[str, ...]], Mapping[str, Mapping[str, Any]]] = {}  # one per distinct set
    names = None if wanted is None else pa.array(list(wanted), pa.string())
    written_ns = max((p.stat().st_mtime_ns for p in parts), default=0)
    for part in parts:
        # ParquetFile, as jobs.catalog.source_findings says why (read_table's dataset path aborts at exit)
        names_in = set(pq.read_schema(part).names)
        if not {PLAN_COLUMN, MOVES_COLUMN} <= names_in:
            return {}
        latents = set(LATENTS_COLUMNS) <= names_in
        f = pq.ParquetFile(part, read_dictionary=[PLAN_COLUMN])
        read = COLUMNS + LATENTS_COLUMNS if latents else COLUMNS
        for batch in f.iter_batches(batch_size=BATCH, columns=read, use_threads=False):
            if names is not None:
                batch = batch.filter(pc.is_in(batch.column("dataset"), value_set=names))
            if not batch.num_rows:
                continue
            plan = batch.column(PLAN_COLUMN)
            texts = plan.dictionary.to_pylist()
            codes = plan.indices.to_pylist()
            nulls = [None] * batch.num_rows
            files = [batch.column(c).to_pylist() for c in LATENTS_COLUMNS] if latents else [nulls, nulls]
            columns = zip(*(batch.column(c).to_pylist() for c in COLUMNS[:5]), codes, *files, strict=True)
            for dataset, index, length, uid, moves, code, keys, held_texts in columns:
                if wanted is not None and (episodes := wanted[dataset]) is not None and index not in episodes:
                    continue
                if code is None:
                    lacking.add(dataset)
                    continue
                text = texts[code]
                if (shared := parsed.get(text)) is None:
                    shared = parsed[text] = json.loads(text)
                if (lines := found.get(dataset)) is None:
                    lines = found[dataset] = PlanLines()
                    lines.written_ns = written_ns
                lines._rows[index] = (shared, length, uid)
                lines.moves[index] = None if moves is None else _shared(arrays, moves)
                lines.latents[index] = (
                    None if keys is None or held_texts is None else _latents(keys, held_texts, held, parsed)
                )
    return {ds: lines for ds, lines in found.items() if ds not in lacking}


def _latents(
    keys: list[str],
    texts: list[str],
    held: dict[tuple[tuple[str, ...], tuple[str, ...]], Mapping[str, Mapping[str, Any]]],
    parsed: dict[str, Mapping[str, Any]],
) -> Mapping[str, Mapping[str, Any]]:
    """video key -> its file's parsed catalog text, one read-only mapping per distinct (keys, texts)."""
    found = held.get(key := (tuple(keys), tuple(texts)))
    if found is None:
        found = held[key] = MappingProxyType(
            {
                k: parsed[t] if t in parsed else parsed.setdefault(t, json.loads(t))
                for k, t in zip(keys, texts, strict=True)
            }
        )
    return found


def _shared(arrays: dict[tuple[bool, ...], np.ndarray], values: list[bool]) -> np.ndarray:
    """The one read-only array of `values`, made at its first ask."""
    if (found := arrays.get(key := tuple(values))) is None:
        found = arrays[key] = _frozen(values)
    return found


def _frozen(values: list[bool]) -> np.ndarray:
    out = np.asarray(values, dtype=bool)
    out.flags.writeable = False
    return out


class CatalogPlan:
    """The catalog's plan columns for some datasets as arrays (train's index, `training.entry_lines`: no Python
    object per episode, issue 99): per cataloged row of those datasets its dataset (an index into the names asked
    for), `episode_index`, `num_frames`, and codes into the distinct `plan_line` texts (`plans`, -1 where null) and
    the distinct (latents keys, latents texts) pairs (`latents`, -1 where either is null: the catalog does not know
    the episode's files), as `catalog_lines` reads them row by row."""

    def __init__(self, written_ns: int) -> None:
        self.written_ns = written_ns  # when the catalog's parts were written (their newest modification time)
        self.plans: list[str] = []
        self.latents: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
        self.dataset = self.episode_index = self.length = self.plan = self.files = np.zeros(0, np.int64)


def catalog_plan(corpus_root: Path, names: list[str], latents: bool = True) -> CatalogPlan | None:
    """The catalog's plan columns (`CatalogPlan`) of the datasets `names` (without the latents' codes, all -1, where
    not `latents`); None where the corpus folder has no catalog or one without the columns (then every dataset's meta
    is read, as `catalog_lines` answers {})."""
    parts = _parts(corpus_root)
    out = CatalogPlan(max((p.stat().st_mtime_ns for p in parts), default=0))
    wanted = pa.array(names, pa.string())
    codes: list[dict[str, int]] = [{}, {}]  # text -> its code, per coded column
    columns: list[list[np.ndarray]] = [[], [], [], [], []]
    for part in parts:
        names_in = set(pq.read_schema(part).names)
        if not {PLAN_COLUMN, MOVES_COLUMN} <= names_in:
            return None
        held = latents and set(LATENTS_COLUMNS) <= names_in
        f = pq.ParquetFile(part, read_dictionary=[PLAN_COLUMN])  # ParquetFile: as `catalog_lines` says why
        read = COLUMNS[:3] + [PLAN_COLUMN] + (LATENTS_COLUMNS if held else [])
        for batch in f.iter_batches(batch_size=BATCH, columns=read, use_threads=False):
            batch = batch.filter(pc.is_in(batch.column("dataset"), value_set=wanted))
            if not batch.num_rows:
                continue
            pairs = None  # keys and texts of each row joined by separators JSON never leaves raw: one text a row
            if held:
                keys, texts = (pc.binary_join(batch.column(c), "\x1f") for c in LATENTS_COLUMNS)
                pairs = pc.binary_join_element_wise(keys, texts, "\x1e").dictionary_encode()
            plans = _coded(batch.column(PLAN_COLUMN), batch.num_rows, out.plans, codes[0], str)
            files = _coded(pairs, batch.num_rows, out.latents, codes[1], _pair)
            columns[0].append(pc.index_in(batch.column("dataset"), value_set=wanted).to_numpy().astype(np.int32))
            columns[1].append(batch.column("episode_index").to_numpy().astype(np.int64))
            columns[2].append(batch.column("num_frames").fill_null(-1).to_numpy().astype(np.int64))
            columns[3].append(plans)
            columns[4].append(files)
    if columns[0]:
        out.dataset, out.episode_index, out.length, out.plan, out.files = (np.concatenate(c) for c in columns)
    return out


def _coded(
    column: pa.DictionaryArray | None, rows: int, distinct: list[Any], codes: dict[str, int], parse: Any
) -> np.ndarray:
    """The code of each of the `rows` of a dictionary `column` into `distinct` (-1 where null, every row where there
    is no column): its batch's dictionary mapped, each text new to `distinct` appended as `parse` gives it."""
    if column is None:
        return np.full(rows, -1, np.int32)
    mapped = []
    for text in column.dictionary.to_pylist():
        if (code := codes.get(text)) is None:
            code = codes[text] = len(distinct)
            distinct.append(parse(text))
        mapped.append(code)
    table = np.asarray([*mapped, -1], np.int32)  # the last: null
    return table[column.indices.fill_null(len(mapped)).to_numpy()]


def _pair(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(keys, texts) of a row's latents columns as `catalog_plan` joined them."""
    keys, texts = text.split("\x1e")
    return tuple(keys.split("\x1f")) if keys else (), tuple(texts.split("\x1f")) if texts else ()
