"""Normalization statistics of a manifest export: exact, over the union of its frames, each dimension over the frames
whose episode uses it, and per embodiment beside (`adapters/lerobot_format/union_stats.py` computes them; what and why:
jobs/export/README.md, "Manifest stats").

A dimension no selected episode uses keeps the statistics of all frames, and a non-finite value never counts. `count`
stays the dataset's frame count (lerobot stacks counts across datasets when it merges: one number per feature). Padding
met the statistics of the embodiments that have the dim (on a real two-embodiment manifest, |z| up to 1.7e6) until the
masked median filled it (`PADDING_KEY`). The cost: one more read of the masked columns of every episode (`UnionStats`
spools their keys to local disk past `SPOOL_BYTES`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from adapters.lerobot_format.stats import Stats
from adapters.lerobot_format.union_stats import UnionStats
from jobs.export.layout import Column, flatten_column
from jobs.export.lerobot_v3.episodes import EpisodeRef
from jobs.export.lerobot_v3.plan import MASKED_FEATURES, ExportPlan
from schemas.canonical import HAND_KEYPOINTS, keypoint_slot_mask
from schemas.export_layout import ACTION_MASK_COLUMN

STATS_BY_EMBODIMENT_PATH = "meta/stats_by_embodiment.json"
RULE = (
    "exact per-dimension statistics over the frames whose episode uses the dimension (action_mask for action and "
    "observation.state, the dataset's keypoint slots for observation.hand_keypoints; all frames where no episode "
    "uses it), non-finite values left out; quantiles as numpy.quantile's linear method"
)
ALL = "all"


@dataclass
class MaskedStats:
    """The union statistics of the masked features (`all`) and of each embodiment's episodes, and what fills an
    episode's unused dims (`fill_unused`)."""

    frames: int
    all: dict[str, Stats]
    embodiments: dict[str, dict[str, Stats]] = field(default_factory=dict)
    columns: list[Column] = field(default_factory=list)
    used_by_any: dict[str, np.ndarray] = field(default_factory=dict)  # feature -> [D] a dim some episode uses

    def fill_value(self, key: str) -> np.ndarray:
        """[D] the masked median (q50) of each dim: the value an episode that does not use the dim holds there."""
        q50 = self.all[key]["q50"]
        return np.where(np.isfinite(q50), q50, 0.0).astype(np.float32)

    def fill_unused(self, ref: EpisodeRef, table: pa.Table) -> tuple[pa.Table, set[str]]:
        """The episode's frames (exported layout) with the dims it does not use, where another episode does, set to
        the masked median; returns the table and the features it changed."""
        changed = set()
        for c in self.columns:
            dim = len(self.used_by_any[c.key])
            unused = ~_used(ref, c, dim) & self.used_by_any[c.key]
            if not unused.any():
                continue
            col = table.column(c.key).combine_chunks()
            values = col.values.to_numpy(zero_copy_only=False).reshape(len(col), dim).copy()
            values[:, unused] = self.fill_value(c.key)[unused]
            arr = pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1), type=col.type.value_type), dim)
            table = table.set_column(table.schema.get_field_index(c.key), table.schema.field(c.key), arr)
            changed.add(c.key)
        return table, changed

    def write_sidecar(self, root: Path) -> None:
        """`meta/stats_by_embodiment.json` under `root`: arrays as lists, NaN (a dim none of the group's frames uses)
        as null."""

        def plain(stats: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, Any]:
            return {
                f: {
                    k: [None if isinstance(x, float) and math.isnan(x) else x for x in np.asarray(v).tolist()]
                    for k, v in st.items()
                }
                for f, st in stats.items()
            }

        emb = {e: plain(s) for e, s in sorted(self.embodiments.items())}
        sidecar = {"rule": RULE, "frames": self.frames, ALL: plain(self.all), "embodiments": emb}
        (root / STATS_BY_EMBODIMENT_PATH).write_text(json.dumps(sidecar, indent=1), encoding="utf-8")


def _masked_columns(plan: ExportPlan) -> list[Column]:
    """The plan's flat (1-D) features the masks apply to (the benchmark `benchmarks/manifest_stats.py` reads them)."""
    return [c for c in plan.layout.columns if c.key in MASKED_FEATURES and len(plan.features[c.key]["shape"]) == 1]


def _used(ref: EpisodeRef, column: Column, dim: int) -> np.ndarray:
    """[dim] bool: the dims of `column` this episode uses (see the module doc); all of them where nothing says."""
    if column.key == HAND_KEYPOINTS:
        slots = keypoint_slot_mask((ref.source.features.get(HAND_KEYPOINTS) or {}).get("info")).reshape(-1)
        return np.repeat(slots, dim // slots.size)  # (hand, slot) -> its x, y, z
    mask = ref.column(ACTION_MASK_COLUMN)
    return np.ones(dim, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)


def _read(ref: EpisodeRef, columns: list[Column], dims: Mapping[str, int]) -> dict[str, np.ndarray]:
    with ref.source.corpus.open_file(ref.source.data_file(ref.episode_index)) as f:
        table = pq.ParquetFile(f, memory_map=True).read(columns=[c.source for c in columns], use_threads=False)
    out = {}
    for c in columns:
        flat = flatten_column(table.column(c.source), dims[c.key]).values.to_numpy(zero_copy_only=False)
        out[c.key] = flat.reshape(table.num_rows, dims[c.key])
    return out


def masked_stats(plan: ExportPlan) -> MaskedStats:
    """The masked features' statistics over the plan's episodes, each episode's file read once; each value counted
    once per pass for its embodiment and the union together (`UnionStats`' groups)."""
    columns = _masked_columns(plan)
    dims = {c.key: int(plan.features[c.key]["shape"][0]) for c in columns}
    # by the episode's place: a plan's refs are made at each ask (`episodes.PlanEpisodes`), their ids reused
    used = [{c.key: _used(ref, c, dims[c.key]) for c in columns} for ref in plan.episodes]
    anyone = {c.key: np.logical_or.reduce([u[c.key] for u in used]) for c in columns}
    embodiment = [str(ref.column("embodiment", "unknown")) for ref in plan.episodes]
    names = sorted(set(embodiment))
    stats = {c.key: UnionStats(dims[c.key], groups=names) for c in columns} if names else {}
    frames = 0
    for at, ref in enumerate(plan.episodes):
        values = _read(ref, columns, dims)
        frames += len(next(iter(values.values()))) if values else 0
        for c in columns:
            mask = used[at][c.key] | ~anyone[c.key]  # a dim nobody uses: every frame's (padding)
            stats[c.key].add(values[c.key], mask, embodiment[at])
    union = {k: s.result() for k, s in stats.items()}
    by_embodiment = {name: {k: s.result(name) for k, s in stats.items()} for name in names}
    return MaskedStats(frames, union, by_embodiment, columns, anyone)


def as_lerobot(masked: Mapping[str, Stats], fallback: Mapping[str, Mapping[str, np.ndarray]], frames: int) -> dict:
    """`meta/stats.json` entries for the masked features: lerobot's keys and shapes, `count` = [frames]; a statistic
    that is NaN (a dim whose every value is non-finite) takes lerobot's aggregate value there."""
    out = {}
    for key, stats in masked.items():
        entry = {}
        for stat, value in stats.items():
            if stat == "count":
                continue
            lerobot = np.asarray(fallback[key][stat], dtype=np.float64).reshape(value.shape)
            entry[stat] = np.where(np.isnan(value), lerobot, value)
        entry["count"] = np.array([frames])
        out[key] = entry
    return out
