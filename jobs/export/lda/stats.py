"""`meta/stats_gr00t.json` of an exported dataset, so LDA never computes (and writes) its own.

LDA reads it keyed by parquet column, each with mean/std/min/max/q01/q99 lists (`datasets.py:475-511` at
jiangranlv/latent-dynamics-action@99bf08b), and slices it by each modality entry's `original_key`; without it, or with
one its pydantic model refuses, it computes the file over every column and writes it into the dataset folder. Its
statistics are over every frame (zeros of unused parts included: its q99 normalization sees them too). Here the same
definitions, exact and in bounded memory (`adapters/lerobot_format/union_stats.py`: population std, quantiles equal to
`np.quantile` of the float32 values), one column at a time as the episodes are written.
"""

from __future__ import annotations

import json
import math

import numpy as np

from adapters.lerobot_format.union_stats import UnionStats
from schemas.lda import STATS_KEYS


class ColumnStats:
    """Statistics of the vector columns given, frame batch by frame batch."""

    def __init__(self, widths: dict[str, int]) -> None:
        self._stats = {k: UnionStats(w, quantiles=(0.01, 0.99)) for k, w in widths.items()}

    def add(self, columns: dict[str, np.ndarray]) -> None:
        for key, values in columns.items():
            stats = self._stats[key]
            stats.add(np.asarray(values, dtype=np.float32), np.ones(stats.dim, dtype=bool))

    def result(self) -> dict[str, dict[str, list[float]]]:
        """{column: {mean, std, min, max, q01, q99}} as lists; a column without frames is left out."""
        out = {}
        for key, stats in self._stats.items():
            r = stats.result()
            if not int(r["count"].max(initial=0)):
                continue
            out[key] = {k: [float(v) for v in np.asarray(r[k], dtype=np.float64)] for k in STATS_KEYS}
        return out


def dumps(stats: dict[str, dict[str, list[float]]]) -> str:
    """As LDA writes it (`json.dump(..., indent=4)`); a non-finite value is refused (JSON has none)."""
    bad = [f"{k}.{s}" for k, v in stats.items() for s, xs in v.items() if not all(map(math.isfinite, xs))]
    if bad:
        raise ValueError(f"non-finite statistics: {', '.join(bad[:5])}")
    return json.dumps(stats, indent=4) + "\n"
