"""Per-episode statistics with quantiles, computed as lerobot 0.6.1 computes them, and their aggregation.

Definitions (lerobot 0.6.1, `src/lerobot/datasets/compute_stats.py`, read from the installed wheel):
- `compute_episode_stats` -> `get_feature_stats(values, axis=0, keepdims=values.ndim == 1)`: a 1-D column becomes
  (N, 1); any other array is flattened by `RunningQuantileStats.update` to (-1, last_dim), so a (N, 2, 21, 3) feature
  gets stats of shape (3,) (pooled over the other axes) while `count` stays N. Values are promoted to
  `result_type(dtype, float32)` (float32 stays float32, int64 -> float64, bool -> float32).
- min / max; mean and mean of squares by `np.mean` in that dtype; std = sqrt(max(0, E[x^2] - mean^2)).
- quantiles q01 q10 q50 q90 q99 from a 5000-bin histogram per dimension, edges
  `np.linspace(min - 1e-10, max + 1e-10, 5001)`, counted as `np.histogram` counts; the quantile is the edge-interpolated
  position of `q * count` in the cumulative counts (`_compute_single_quantile`). Fewer than 2 rows: numpy's
  min/max/mean/std over axis 0 and every quantile = mean (`_compute_basic_stats`).
- `aggregate_stats`: min of mins, max of maxes, count-weighted mean, pooled variance, count-weighted mean of each
  quantile.

The histogram is never built: the quantile needs only the bin of the k-th smallest value and the counts below and in
that bin, which a sort of the episode's values gives. The edges are computed one by one with the exact float
operations `np.linspace` performs (numpy `_core/function_base.py`, unchanged between numpy 2.2 and 2.4), so the
results equal lerobot's bit for bit (`tests/ingest/lerobot/test_stats_v30.py` checks them against lerobot 0.6.1).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

QUANTILES: tuple[float, ...] = (0.01, 0.10, 0.50, 0.90, 0.99)  # lerobot's DEFAULT_QUANTILES
QUANTILE_KEYS: tuple[str, ...] = tuple(f"q{int(q * 100):02d}" for q in QUANTILES)
NUM_BINS = 5000  # RunningQuantileStats(num_quantile_bins=5000)
EDGE_PAD = 1e-10
BISECT_STEPS = math.ceil(math.log2(NUM_BINS))  # halvings that narrow 5000 bins to one

Stats = dict[str, np.ndarray]


class _Edges:
    """`np.linspace(start[d], stop[d], NUM_BINS + 1)` per dimension d, any element on demand, with linspace's own float
    operations (step = delta / div in the result dtype; y = j * step + start, or (j / div) * delta when a step is 0;
    the endpoint set to `stop`)."""

    def __init__(self, start: np.ndarray, stop: np.ndarray) -> None:
        self.start, self.stop = start, stop
        self.dt = start.dtype.type
        self.delta = np.subtract(stop, start, dtype=self.dt)
        self.step = self.delta / self.dt(NUM_BINS)
        # linspace decides per call (here one per dimension): multiply by step unless it is 0 (denormals, gh-5437)
        self.zero_step = self.step == 0
        self.any_zero = bool(self.zero_step.any())

    def at(self, j: np.ndarray) -> np.ndarray:
        jf = j.astype(self.start.dtype)
        y = jf * self.step
        if self.any_zero:
            y = np.where(self.zero_step, (jf / self.dt(NUM_BINS)) * self.delta, y)
        y = y + self.start
        return np.where(j >= NUM_BINS, self.stop, y)


def _bin_of(values: np.ndarray, edges: _Edges) -> np.ndarray:
    """The `np.histogram` bin of values (any leading axes x dims): the largest j with e[j] <= v (last bin closed).

    A float64 guess, checked against the exact edges and nudged by one bin; where float32 rounding repeats an edge
    many times the guess can be further off, and a bisection over the 5000 edges (13 halvings) settles it."""
    span = edges.stop.astype(np.float64) - edges.start
    with np.errstate(divide="ignore", invalid="ignore"):
        guess = np.floor((values - edges.start.astype(np.float64)) / span * NUM_BINS)
    j = np.clip(np.nan_to_num(guess, nan=NUM_BINS - 1), 0, NUM_BINS - 1).astype(np.int64)
    for _ in range(2):
        j = j - (edges.at(j) > values) + ((j < NUM_BINS - 1) & (edges.at(j + 1) <= values))
    if ((edges.at(j) <= values) & ((j == NUM_BINS - 1) | (edges.at(j + 1) > values))).all():
        return j
    lo = np.zeros(values.shape, dtype=np.int64)  # e[0] = min - pad <= v always
    hi = np.full(values.shape, NUM_BINS - 1, dtype=np.int64)
    for _ in range(BISECT_STEPS):
        mid = (lo + hi + 1) >> 1
        ok = edges.at(mid) <= values
        lo = np.where(ok, mid, lo)
        hi = np.where(ok, hi, mid - 1)
    return lo


def _order_keys(values: np.ndarray) -> np.ndarray:
    """float32 -> int64 keys ordered as the floats (-0.0 as 0.0), the dimension (last axis) in the high bits."""
    i = (values + np.float32(0)).view(np.int32)
    ordered = (i ^ ((i >> 31) & np.int32(0x7FFFFFFF))).astype(np.int64)  # sign-magnitude -> two's complement order
    return ordered + (np.arange(values.shape[-1], dtype=np.int64) << 32)


def _count_below(cols: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """For sorted rows `cols` (dims, n) and `queries` (k, dims): how many values of each row are < each query."""
    dims, n = cols.shape
    if cols.dtype == np.float32:  # one searchsorted over all rows: order-preserving integer keys
        flat = _order_keys(cols.T).T.reshape(-1)
        return np.searchsorted(flat, _order_keys(queries), side="left") - np.arange(dims) * n
    return np.stack([np.searchsorted(cols[d], queries[:, d], side="left") for d in range(dims)], axis=1)


def _quantile_parts(flat: np.ndarray, start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """lerobot's `_compute_quantiles` over a (rows, dims) batch, without building its histogram: per quantile and
    dimension, the bin, its lower edge and the interpolated value (float64), every dimension on its own.

    The first cumulative count >= q * n is reached in the bin of the k-th smallest value (k = ceil(q * n)); the
    counts below and inside that bin are the values below its two edges, found in the sorted column."""
    n = flat.shape[0]
    cols = np.sort(np.ascontiguousarray(flat.T), axis=1)  # one sorted row per dimension
    targets = np.array([q * n for q in QUANTILES])[:, None]  # RunningQuantileStats: q * self._count (python floats)
    kth = cols[:, [math.ceil(t) - 1 for t in targets[:, 0]]].T  # (quantiles, dims)
    edges = _Edges(start, stop)
    idx = _bin_of(kth, edges)
    lo = edges.at(idx)
    hi = edges.at(idx + 1)
    below = _count_below(cols, np.concatenate([lo, hi]))
    before = below[: len(QUANTILES)].astype(np.float64)
    through = np.where(idx == NUM_BINS - 1, n, below[len(QUANTILES) :]).astype(np.float64)
    fraction = (targets - before) / (through - before)
    value = lo.astype(np.float64) + fraction * (hi - lo).astype(np.float64)  # the bin width in the edges' dtype
    return idx, lo, np.where(idx == 0, lo.astype(np.float64), value)  # bin 0 returns edges[0] uninterpolated


def _quantile_stats(idx: np.ndarray, lo: np.ndarray, value: np.ndarray) -> dict[str, np.ndarray]:
    # lerobot builds np.array from per-dimension scalars: all edges[0] (float32 scalars) stay float32
    return {key: lo[i].copy() if (idx[i] == 0).all() else value[i] for i, key in enumerate(QUANTILE_KEYS)}


def _basic(values: np.ndarray) -> tuple[Stats, np.ndarray | None]:
    """Everything but the quantiles, and the (rows, last dim) batch the quantiles are taken over (None: < 2 rows)."""
    keepdims = values.ndim == 1
    arr = values.reshape(-1, 1) if keepdims else values
    n = arr.shape[0]
    if n < 2:  # _compute_basic_stats: numpy over axis 0 of the (possibly N-D) array, quantiles = mean
        mean = np.mean(arr, axis=0)
        stats = {"min": np.min(arr, axis=0), "max": np.max(arr, axis=0), "mean": mean, "std": np.std(arr, axis=0)}
        stats.update({q: mean.copy() for q in QUANTILE_KEYS})
        stats["count"] = np.array([n])
        return stats, None
    flat = arr.reshape(-1, arr.shape[-1])
    flat = flat.astype(np.result_type(flat.dtype, np.float32), copy=False)
    mean = np.mean(flat, axis=0)
    mean_sq = np.mean(flat**2, axis=0)
    stats = {"min": np.min(flat, axis=0), "max": np.max(flat, axis=0), "mean": mean}
    stats["std"] = np.sqrt(np.maximum(0, mean_sq - mean**2))
    stats["count"] = np.array([n])
    return stats, flat


def _finish(stats: Stats, ndim: int) -> Stats:
    order = ("min", "max", "mean", "std", "count", *QUANTILE_KEYS)  # RunningQuantileStats.get_statistics order
    stats = {k: stats[k] for k in order}
    if ndim == 1:  # _reshape_for_vector_stats: a 1-D feature keeps shape (1,)
        stats = {k: v if k == "count" else np.asarray(v).reshape(1) for k, v in stats.items()}
    return stats


def feature_stats(values: np.ndarray) -> Stats:
    """lerobot 0.6.1 `get_feature_stats(values, axis=0, keepdims=values.ndim == 1)` of one numeric feature."""
    values = np.asarray(values)
    stats, flat = _basic(values)
    if flat is not None:
        stats |= _quantile_stats(*_quantile_parts(flat, stats["min"] - EDGE_PAD, stats["max"] + EDGE_PAD))
    return _finish(stats, values.ndim)


def episode_stats(columns: Mapping[str, np.ndarray]) -> dict[str, Stats]:
    """`compute_episode_stats` over an episode's numeric columns (name -> (N, *shape) array), equal to
    `feature_stats` of each. Every dimension's quantiles are independent, so columns of one dtype and row count are
    sorted and searched together (one pass instead of one per feature: the per-call overhead dominates short
    episodes); min/max/mean/std stay per feature, as numpy's sums depend on the array's layout."""
    done: dict[str, Stats] = {}
    groups: dict[tuple[np.dtype, int], list[tuple[str, np.ndarray]]] = {}
    for name, values in columns.items():
        stats, flat = _basic(np.asarray(values))
        done[name] = stats
        if flat is not None:
            groups.setdefault((flat.dtype, flat.shape[0]), []).append((name, flat))
    for members in groups.values():
        flat = np.concatenate([f for _, f in members], axis=1) if len(members) > 1 else members[0][1]
        start = np.concatenate([done[m]["min"] - EDGE_PAD for m, _ in members])
        stop = np.concatenate([done[m]["max"] + EDGE_PAD for m, _ in members])
        idx, lo, value = _quantile_parts(flat, start, stop)
        at = 0
        for name, f in members:
            cut = slice(at, at + f.shape[1])
            at += f.shape[1]
            done[name] |= _quantile_stats(idx[:, cut], lo[:, cut], value[:, cut])
    return {name: _finish(done[name], np.asarray(values).ndim) for name, values in columns.items()}


def aggregate_feature_stats(stats: Sequence[Mapping[str, np.ndarray]]) -> Stats:
    """lerobot 0.6.1 `aggregate_feature_stats`: pooled over episodes, quantiles as count-weighted means."""
    basic = ("min", "max", "mean", "std", "count")
    keys = [k for k in stats[0] if k in basic or (k.startswith("q") and k[1:].isdigit())]
    keys = [k for k in keys if all(k in s for s in stats)]
    stacked = {k: _stack([np.asarray(s[k]) for s in stats]) for k in keys}
    # lerobot squares each std in its own dtype before stacking (a float32 episode's square stays float32)
    return aggregate_arrays(stacked, _stack([np.asarray(s["std"]) ** 2 for s in stats]))


def _stack(arrays: list[np.ndarray]) -> np.ndarray:
    """`np.stack` (same values, same promoted dtype) at a fraction of its cost for the writer's pairs."""
    out = np.array(arrays)
    return out if out.dtype != object and out.shape[1:] == arrays[0].shape else np.stack(arrays)


def aggregate_arrays(stacked: Mapping[str, np.ndarray], variances: np.ndarray | None = None) -> Stats:
    """`aggregate_feature_stats` of episodes' stats already stacked (episode axis first), lerobot's formulas;
    `variances`: the stds squared one by one, where the episodes' dtypes differ (default: the stacked stds squared)."""
    means, counts = stacked["mean"], stacked["count"]
    variances = stacked["std"] ** 2 if variances is None else variances
    total = counts.sum(axis=0)
    while counts.ndim < means.ndim:
        counts = np.expand_dims(counts, axis=-1)
    mean = (means * counts).sum(axis=0) / total
    variance = ((variances + (means - mean) ** 2) * counts).sum(axis=0) / total
    out: Stats = {
        "min": np.min(stacked["min"], axis=0),
        "max": np.max(stacked["max"], axis=0),
        "mean": mean,
        "std": np.sqrt(variance),
        "count": total,
    }
    for key in [k for k in stacked if k.startswith("q") and k[1:].isdigit()]:
        out[key] = (stacked[key] * counts).sum(axis=0) / total
    return out


def aggregate_stats(stats_list: Iterable[Mapping[str, Mapping[str, np.ndarray]]]) -> dict[str, Stats]:
    """lerobot 0.6.1 `aggregate_stats`: the union of features, each aggregated over the episodes that have it."""
    stats_list = list(stats_list)
    keys = {k for s in stats_list for k in s}
    return {k: aggregate_feature_stats([s[k] for s in stats_list if k in s]) for k in sorted(keys)}


def as_numpy(stats: Mapping[str, Mapping[str, object]]) -> dict[str, Stats]:
    """Stats read from JSON -> arrays, as lerobot's `cast_stats_to_numpy` (at least 1-D)."""
    return {f: {k: np.atleast_1d(np.array(v)) for k, v in s.items()} for f, s in stats.items()}


def flat_columns(ep_stats: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, object]:
    """`flatten_dict({"stats": ep_stats})` with values as lists: the `stats/<feature>/<stat>` episode columns."""
    return {f"stats/{f}/{k}": np.asarray(v).tolist() for f, s in ep_stats.items() for k, v in s.items()}


def jsonable(stats: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, dict[str, object]]:
    """lerobot's `serialize_dict` of stats: arrays as nested lists (meta/stats.json)."""
    return {f: {k: np.asarray(v).tolist() for k, v in s.items()} for f, s in stats.items()}
