"""The action masks of every episode, as the corpus report's mask coverage and wrist trajectories read them: from the
catalog's `plan_line` column, each dataset's meta only where the catalog does not say (`CorpusMasks`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from adapters.lerobot_format.files import load_info, read_jsonl
from adapters.storage.root import Root
from ingest.lerobot.settled import settle_dataset
from jobs.catalog.census import cataloged_datasets
from jobs.catalog.parts import parquet_files
from jobs.report.data import DatasetView, ReportError, dataset_view, info_mask
from schemas.canonical import HANDS, STATE, WRIST_POS, hand_dims
from schemas.corpus import EPISODES_DIR, LINEAGE_KEY
from schemas.episode_lines import PLAN_COLUMN
from schemas.lerobot import EPISODES_PATH, INFO_PATH


@dataclass
class CorpusMasks:
    """What the report reads of every episode's action mask: per embodiment how many episodes have each canonical
    action dim, the first episodes with a wrist position (one per dataset, up to a limit) and the counts. The masks
    and embodiments are the catalog's `plan_line` (the lineage's, `adapters.storage.plan_lines`), counted per
    distinct mask in DuckDB; a dataset's info.json is read only where a line has no mask or no embodiment of its own
    (info.json's are the default) or for a wrist episode, and its episodes.jsonl streamed only where the catalog has
    no `plan_line` for it (a catalog of an older eidata): at 1M episodes every episodes.jsonl streamed took 36 s."""

    coverage: dict[str, tuple[int, np.ndarray]]  # embodiment -> (episodes, (50,) fraction whose mask has the dim)
    wrists: list[DatasetView]  # per dataset, its first episode whose mask has a wrist position
    datasets: int
    episodes: int


def _has_wrist(mask: np.ndarray) -> bool:
    return any(mask[hand_dims(k, WRIST_POS)].all() for k in range(len(HANDS))) if len(mask) else False


BATCH = 65_536  # rows decoded at a time, as `adapters.storage.plan_lines.catalog_lines` decodes them
COLUMNS = ["dataset", "episode_index", PLAN_COLUMN]


class _Masks(NamedTuple):
    """Episodes of one dataset with the same lineage mask and embodiment (None: the lineage has none)."""

    mask: list[int] | None
    embodiment: str | None
    episodes: int
    first: int  # the first of them (episode_index); a streamed line's position in its file
    line: dict[str, Any] | None = None  # a streamed line (a dataset the catalog has no `plan_line` for)


def _catalog_masks(root: Path) -> dict[str, list[_Masks]]:
    """dataset -> its episodes' `_Masks` groups (by their `plan_line` text: `shared_fields`, whose lineage holds the
    mask and the embodiment), for every dataset whose every catalog row has a `plan_line`. The parts are read
    `BATCH` rows at a time, the text as its dictionary's codes, as `adapters.storage.plan_lines.catalog_lines` reads
    it (DuckDB's GROUP BY over the text held 530 MB more at 1M episodes); each distinct text is parsed once."""
    groups: dict[tuple[str, str], list[int]] = {}  # (dataset, text) -> [episodes, first]
    lacking: set[str] = set()
    for part in parquet_files(root, EPISODES_DIR):
        if PLAN_COLUMN not in pq.read_schema(part).names:
            return {}
        f = pq.ParquetFile(part, read_dictionary=[PLAN_COLUMN])
        for batch in f.iter_batches(batch_size=BATCH, columns=COLUMNS, use_threads=False):
            plan = batch.column(PLAN_COLUMN)
            codes = pa.table({"dataset": batch.column("dataset"), "code": plan.indices, "at": batch.column(COLUMNS[1])})
            texts = plan.dictionary.to_pylist()
            per = codes.group_by(["dataset", "code"], use_threads=False).aggregate([("at", "count"), ("at", "min")])
            for dataset, code, n, first in zip(*(per[c].to_pylist() for c in per.column_names), strict=True):
                if code is None:
                    lacking.add(dataset)
                    continue
                g = groups.setdefault((dataset, texts[code]), [0, first])
                g[0], g[1] = g[0] + n, min(g[1], first)
    out: dict[str, list[_Masks]] = {}
    parsed: dict[str, tuple[Any, Any]] = {}  # text -> (mask, embodiment)
    for (dataset, text), (n, first) in groups.items():
        if dataset in lacking:
            continue
        if text not in parsed:
            lineage = json.loads(text).get(LINEAGE_KEY)
            lineage = lineage if isinstance(lineage, dict) else {}
            parsed[text] = (lineage.get("mask"), lineage.get("embodiment"))
        out.setdefault(dataset, []).append(_Masks(*parsed[text], n, first))
    return {d: sorted(found, key=lambda g: g.first) for d, found in out.items()}


def _streamed_masks(ds: Path) -> list[_Masks]:
    """A dataset's episodes.jsonl line by line, as `_Masks` of one episode each (plain JSON, each line dropped)."""
    out = []
    lines = read_jsonl(ds / EPISODES_PATH) if (ds / EPISODES_PATH).is_file() else iter(())
    for k, (_, line) in enumerate(lines):
        lineage = line.get(LINEAGE_KEY) or {}
        out.append(_Masks(lineage.get("mask"), lineage.get("embodiment"), 1, k, line))
    return out


def corpus_masks(root: Path, wrists: int = 6) -> CorpusMasks:
    """The action-mask coverage per embodiment and the wrist-trajectory episodes (`CorpusMasks`)."""
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    found: list[DatasetView] = []
    datasets = episodes = 0
    root = Path(root)
    cataloged = _catalog_masks(root)
    arrays: dict[int, np.ndarray] = {}  # id of a parsed mask -> its array
    per: dict[tuple[str, int], int] = {}  # (embodiment, id of a mask's array) -> episodes: 82k groups at 1M
    for name in cataloged_datasets(root):  # the census's: no walk
        datasets += 1
        try:
            groups = cataloged.get(name) or _streamed_masks(settle_dataset(root / name))
            episodes += sum(g.episodes for g in groups)
            own = all(g.mask is not None and g.embodiment for g in groups)
            wrist = len(found) < wrists and any(
                g.mask is not None and _has_wrist(_array(g.mask, arrays)) for g in groups
            )
            if own and not wrist:  # every line has its mask and embodiment, and no wrist episode is wanted of it
                info, default = None, None
            else:
                ds = settle_dataset(root / name)  # a Path made only for a dataset whose meta is read
                info = load_info(ds / INFO_PATH)
                default, wrist = info_mask(info), len(found) < wrists and info.features.get(STATE) is not None
            view = None if info is None else DatasetView(Root(ds).location(), name, info, [])
            for g in groups:
                raw = default if g.mask is None else g.mask
                if raw is None:
                    continue
                m = _array(raw, arrays)
                emb = g.embodiment or view.embodiment  # type: ignore[union-attr]  # read where one lacks it
                per[emb, id(m)] = per.get((emb, id(m)), 0) + g.episodes
                if wrist and view is not None and _has_wrist(m):
                    view.episodes.append(g.line if g.line is not None else _line(root, name, g.first))
                    found.append(view)
                    wrist = False
        except (ValueError, OSError) as err:
            raise ReportError(f"{root / name}: unreadable meta ({err})") from err
    masks = {id(m): m for m in arrays.values()}  # each held by `arrays`: its id names it alone
    for (emb, at), n in per.items():  # summed per distinct mask: whole counts, exact in any order
        m = masks[at]
        sums[emb] = sums.get(emb, np.zeros(len(m))) + m * n
        counts[emb] = counts.get(emb, 0) + n
    coverage = {e: (counts[e], sums[e] / counts[e]) for e in sorted(sums)}
    return CorpusMasks(coverage, found, datasets, episodes)


def _array(mask: list[int], arrays: dict[int, np.ndarray]) -> np.ndarray:
    """`mask` as a bool array, made once per parsed list (a catalog mask's text is parsed once)."""
    got = arrays.get(id(mask))
    if got is None:
        got = arrays[id(mask)] = np.asarray(mask, bool)
    return got


def _line(root: Path, name: str, index: int) -> dict[str, Any]:
    """Episode `index`'s episodes.jsonl line of dataset `name` (read to that line)."""
    lines = dataset_view(root, name, [index]).episodes
    if not lines:
        raise ReportError(f"{Path(root) / name}: the catalog's episode {index} is not in {EPISODES_PATH}")
    return lines[0]
