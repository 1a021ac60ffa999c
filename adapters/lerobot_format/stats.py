"""LeRobot's per-episode and dataset statistics, one module for the reader, the writer and the exporter, v2.1 and v3.0.

v2.1 (lerobot 0.3.3 `compute_episode_stats`): `numeric_stats`, numeric features reduced over frames (min/max in the
dtype, mean and population std in float64); cameras: `ingest/lerobot/image_stats.py`.

v3.0 (lerobot 0.6.1, `src/lerobot/datasets/compute_stats.py`, read from the installed wheel):
- `get_feature_stats(values, axis=0, keepdims=values.ndim == 1)`: a 1-D column becomes (N, 1); any other array is
  flattened by `RunningQuantileStats.update` to (-1, last_dim), so a (N, 2, 21, 3) feature gets stats of shape (3,)
  (pooled over the other axes) while `count` stays N. Values are promoted to `result_type(dtype, float32)`.
- min / max; mean and mean of squares in that dtype; std = sqrt(max(0, E[x^2] - mean^2)).
- quantiles q01 q10 q50 q90 q99 from a 5000-bin histogram per dimension, edges
  `np.linspace(min - 1e-10, max + 1e-10, 5001)`; the quantile is the edge-interpolated position of `q * count` in the
  cumulative counts (`_compute_single_quantile`). Fewer than 2 rows: numpy's min/max/mean/std over axis 0 and every
  quantile = mean (`_compute_basic_stats`).
- `aggregate_stats`: min of mins, max of maxes, count-weighted mean, pooled variance, count-weighted mean of each
  quantile.

One implementation of the sums, `batch_stats`, for one episode or many consecutive ones: with 300-row episodes the time
goes to ~40 small numpy calls per feature per episode, so the features of one dtype sit side by side and the episodes
of a batch share calls. The results are lerobot's bits (`tests/adapters/lerobot_format/stats/` checks them against
lerobot 0.6.1), because every sum is taken in the order numpy takes it for lerobot's own arrays (numpy 2.x
`add.reduce`):
- a feature whose last axis has more than one element (`(rows, D)`, D > 1, C order) is reduced over axis 0 by adding
  whole rows one after another, so features side by side (C order) sum as each alone;
- a 1-D feature (`(rows, 1)`) is reduced by numpy's pairwise summation over the contiguous run, so it is summed on a
  contiguous row of its own;
- min/max are the ends of the sorted values, redone by numpy where a column holds -0.0 or NaN;
- the quantiles: the histogram is never built. The k-th smallest (k = ceil(q * n)) is read by position in the sorted
  values, its bin by `_bin_of`, and the counts below the bin's edges from the k-th's neighbours (a bisection where they
  do not settle it). The edges are computed one by one with the float operations `np.linspace` performs (numpy
  `_core/function_base.py`, unchanged between numpy 2.2 and 2.4).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from schemas.lerobot import FeatureStats
from schemas.lerobot_features import NUMERIC_DTYPES, FeatureSpec


def expected_stats_shape(ft: FeatureSpec, *, v3: bool = False) -> tuple[int, ...] | None:
    """Shape lerobot's `compute_episode_stats` gives a feature's min/max/mean/std; None: no stats expected.

    v3.0 (lerobot 0.6.1 `compute_stats.py`: `RunningQuantileStats.update` reduces a multi-dimensional feature to its
    last axis) gives `(shape[-1],)` where v2.1 (0.3.3, `np.min(axis=0)`) gives the feature's whole shape."""
    if ft.is_visual:
        return (3, 1, 1)
    if None in ft.shape:  # a width that varies by episode (BEHAVIOR-1K's task_info): no one shape to hold it to
        return None
    if ft.dtype in NUMERIC_DTYPES:
        return (tuple(ft.shape)[-1],) if v3 and len(ft.shape) > 1 else tuple(ft.shape)
    return None


def stats_bound(dtype: np.dtype) -> float | None:
    """The largest magnitude a value of a float feature may have, None for other dtypes. lerobot reduces a feature
    in its own dtype: `np.std` in `get_feature_stats` and `_compute_basic_stats`, `batch**2` in
    `RunningQuantileStats.update` (huggingface/lerobot src/lerobot/datasets/compute_stats.py @ db69121), so once a
    deviation from the mean (up to twice a magnitude) squares past the dtype's largest value its std is Infinity:
    sqrt(max) / 2, 9.2e18 for float32 (review 7: finite actions of +-3e38 gave `std: Infinity`). No sensor's reading
    in SI units comes near it; epoch nanoseconds (1.8e18) stay under it."""
    dtype = np.dtype(dtype)
    return float(np.sqrt(np.finfo(dtype).max) / 2) if dtype.kind == "f" else None


def numeric_stats(values: np.ndarray) -> FeatureStats:
    """Stats over axis 0 (population std, as `get_feature_stats`): min and max in the array's own dtype, mean and
    std in float64, which no value under `stats_bound` can overflow; a stat that is not finite anyway raises
    ValueError naming the first row that holds a value past the bound (never written to `episodes_stats.jsonl`)."""
    keepdims = values.ndim == 1
    wide = values.astype(np.float64, copy=False)
    stats = FeatureStats(
        min=np.min(values, axis=0, keepdims=keepdims).tolist(),
        max=np.max(values, axis=0, keepdims=keepdims).tolist(),
        mean=np.mean(wide, axis=0, keepdims=keepdims).tolist(),
        std=np.std(wide, axis=0, keepdims=keepdims).tolist(),
        count=[len(values)],
    )
    if not all(np.isfinite(getattr(stats, k)).all() for k in ("min", "max", "mean", "std")):
        raise ValueError(f"its statistics are not finite ({_first_past(values)})")
    return stats


def _first_past(values: np.ndarray) -> str:
    """The first row of `values` (rows on axis 0) holding a value that is not finite or past `stats_bound`, said."""
    bound = stats_bound(values.dtype)
    flat = values.reshape(len(values), -1)
    bad = ~(np.abs(flat) <= bound) if bound is not None else np.zeros(flat.shape, bool)  # NaN fails too
    rows = np.flatnonzero(bad.any(axis=1))
    if not len(rows):
        return "no value past the bound"
    row = int(rows[0])
    return f"first at frame {row}: {float(flat[row][bad[row]][0]):.4g}"


QUANTILES: tuple[float, ...] = (0.01, 0.10, 0.50, 0.90, 0.99)  # lerobot's DEFAULT_QUANTILES
QUANTILE_KEYS: tuple[str, ...] = tuple(f"q{int(q * 100):02d}" for q in QUANTILES)
STAT_ORDER = ("min", "max", "mean", "std", "count", *QUANTILE_KEYS)  # RunningQuantileStats.get_statistics order
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


def _flat(values: np.ndarray) -> tuple[np.ndarray, int]:
    """The (rows * mult, last dim) array lerobot takes stats over, in its promoted dtype, and mult."""
    arr = values.reshape(-1, 1) if values.ndim == 1 else values
    flat = arr.reshape(-1, arr.shape[-1])
    flat = flat.astype(np.result_type(flat.dtype, np.float32), copy=False)
    return flat, flat.shape[0] // max(values.shape[0], 1)


def _pass(g: np.ndarray, starts: np.ndarray, sizes: np.ndarray, pairwise: np.ndarray) -> tuple[np.ndarray, ...]:
    """One loop over the episodes of `g` (rows, dims): sum and sum of squares per episode (episodes, dims), each in
    the order numpy reduces lerobot's own (rows, D) array (see the module doc), every episode's values sorted per
    dimension into one buffer (episode e, dimension d at `dims * starts[e] + d * sizes[e]`), and min/max read from
    it (redone by numpy where a column holds -0.0 or NaN, whose min/max the sort cannot tell as numpy does)."""
    e, dims = len(starts), g.shape[1]
    s, s2 = np.empty((e, dims), g.dtype), np.empty((e, dims), g.dtype)
    ones = np.flatnonzero(pairwise)
    t = np.ascontiguousarray(g[:, ones].T)  # the 1-D features as contiguous runs (numpy sums those pairwise)
    buf = np.empty(g.size, g.dtype)
    runs = list(zip(starts.tolist(), sizes.tolist(), strict=True))
    for i, (a, n) in enumerate(runs):
        block = g[a : a + n]
        if len(ones) < dims:
            s[i], s2[i] = np.add.reduce(block, axis=0), np.add.reduce(block * block, axis=0)
        if len(ones):
            run = t[:, a : a + n]
            s[i, ones] = np.add.reduce(run, axis=1)
            s2[i, ones] = np.add.reduce(run * run, axis=1)
        out = buf[dims * a : dims * (a + n)].reshape(dims, n)
        out[...] = block.T
        out.sort(axis=1)
    first = dims * starts[:, None] + np.arange(dims)[None, :] * sizes[:, None]
    vmin, vmax = buf[first], buf[first + sizes[:, None] - 1]
    odd = np.flatnonzero((np.signbit(g) & (g == 0)).any(axis=0) | np.isnan(g).any(axis=0))
    for d in odd:
        for i, (a, n) in enumerate(runs):
            col = np.ascontiguousarray(g[a : a + n, d : d + 1]) if pairwise[d] else g[a : a + n]
            at = 0 if pairwise[d] else d
            vmin[i, d], vmax[i, d] = col.min(axis=0)[at], col.max(axis=0)[at]
    return vmin, vmax, s, s2, buf


def _count_below(buf: np.ndarray, base: np.ndarray, low: np.ndarray, high: np.ndarray, query: np.ndarray) -> np.ndarray:
    """How many values of each sorted segment of `buf` (starting at `base`) are < `query`, known to lie in
    [`low`, `high`] (all arrays of one shape): a bisection over the still-open entries only."""
    lo, hi = low.ravel().copy(), high.ravel().copy()
    base, query = base.ravel(), query.ravel()
    open_ = np.flatnonzero(lo < hi)
    while open_.size:
        left, right = lo[open_], hi[open_]
        mid = (left + right) >> 1
        go = buf[base[open_] + mid] < query[open_]
        lo[open_] = np.where(go, mid + 1, left)
        hi[open_] = np.where(go, right, mid)
        open_ = open_[lo[open_] < hi[open_]]
    return lo.reshape(low.shape)


def _quantiles(
    buf: np.ndarray, dims: int, starts: np.ndarray, lengths: np.ndarray, vmin: np.ndarray, vmax: np.ndarray
) -> dict:
    """lerobot's `_compute_quantiles` for every episode of the batch: key -> (episodes, dims)."""
    seg = dims * starts[:, None] + np.arange(dims)[None, :] * lengths[:, None]  # (episodes, dims)
    targets = np.array(QUANTILES)[:, None] * lengths[None, :]  # q * count (float64), (quantiles, episodes)
    k = np.broadcast_to((np.ceil(targets).astype(np.int64))[:, :, None], (len(QUANTILES), *seg.shape))
    base = np.broadcast_to(seg[None], k.shape)
    kth = buf[base + k - 1]  # the k-th smallest, (quantiles, episodes, dims)
    edges = _Edges(vmin - EDGE_PAD, vmax + EDGE_PAD)  # (episodes, dims), broadcast over quantiles
    idx = _bin_of(kth, edges)
    lo, hi = edges.at(idx), edges.at(idx + 1)
    n = np.broadcast_to(lengths[None, :, None], k.shape)
    # lo <= kth < hi: fewer than k values lie below lo, at least k below hi; the neighbours of the k-th settle most
    near = (k == 1) | (buf[base + np.maximum(k - 2, 0)] < lo)
    below_lo = _count_below(buf, base, np.where(near, k - 1, 0), k - 1, lo)
    near = (k == n) | (buf[base + np.minimum(k, n - 1)] >= hi)
    below_hi = _count_below(buf, base, k, np.where(near, k, n), hi)
    below = np.concatenate([below_lo, below_hi])
    nq = len(QUANTILES)
    before = below[:nq].astype(np.float64)
    through = np.where(idx == NUM_BINS - 1, lengths[None, :, None], below[nq:]).astype(np.float64)
    value = lo.astype(np.float64) + ((targets[:, :, None] - before) / (through - before)) * (hi - lo).astype(np.float64)
    value = np.where(idx == 0, lo.astype(np.float64), value)
    return dict(zip(QUANTILE_KEYS, value, strict=True))


def batch_stats(columns: Mapping[str, np.ndarray], lengths: np.ndarray) -> dict[str, Stats]:
    """`episode_stats` of consecutive episodes of `lengths` frames in `columns` (name -> (frames, *shape)): per
    feature, every stat with a leading episode axis ((episodes, last dim); count (episodes, 1)). Quantiles are float64
    (lerobot keeps an all-bin-0 quantile as its float32 edges: the same numbers). Episodes of one frame take
    `_basic_stats`; an N-D feature (> 2 axes) cannot have one (lerobot's stats then change shape)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    frame_starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    groups: dict[tuple[np.dtype, int], tuple[list[str], list[np.ndarray]]] = {}
    for name, values in columns.items():
        values = np.asarray(values)
        if values.ndim > 2 and (lengths < 2).any():
            raise ValueError(f"{name}: an episode of fewer than 2 frames has N-D stats of another shape")
        flat, mult = _flat(values)
        names, flats = groups.setdefault((flat.dtype, mult), ([], []))
        names.append(name)
        flats.append(flat)
    out: dict[str, Stats] = {}
    for (_, mult), (names, flats) in groups.items():
        # the features of one promoted dtype and one rows-per-frame multiplier, side by side: (frames * mult, dims)
        widths = [f.shape[1] for f in flats]
        g = np.concatenate(flats, axis=1) if len(flats) > 1 else flats[0]
        starts, sizes = frame_starts * mult, lengths * mult
        pairwise = np.concatenate([np.full(w, w == 1) for w in widths])
        vmin, vmax, s, s2, buf = _pass(g, starts, sizes, pairwise)
        n = sizes[:, None].astype(g.dtype)
        mean = s / n
        std = np.sqrt(np.maximum(0, s2 / n - mean**2))
        ok = lengths >= 2
        dims = g.shape[1]
        qs = _quantiles(buf, dims, starts[ok], sizes[ok], vmin[ok], vmax[ok]) if ok.any() else {}
        at = 0
        for name, width in zip(names, widths, strict=True):
            cut = slice(at, at + width)
            at += width
            st: Stats = {"min": vmin[:, cut], "max": vmax[:, cut], "mean": mean[:, cut], "std": std[:, cut]}
            st["count"] = lengths[:, None].copy()
            for key in QUANTILE_KEYS:
                q = np.empty((len(lengths), width), dtype=np.float64)
                if ok.any():
                    q[ok] = qs[key][:, cut]
                st[key] = q
            out[name] = st
    for i in np.flatnonzero(lengths < 2):  # lerobot's _compute_basic_stats path
        a = int(frame_starts[i])
        for name, values in columns.items():
            one = _basic_stats(np.asarray(values)[a : a + int(lengths[i])])
            for key, v in one.items():
                out[name][key][i] = np.asarray(v).reshape(-1)
    return {name: out[name] for name in columns}


def episode(stats: Mapping[str, Stats], i: int) -> dict[str, Stats]:
    """Episode i of `batch_stats`, as `episode_stats` returns it (lerobot's key order; count shape (1,))."""
    return {name: {k: np.asarray(s[k][i]) for k in STAT_ORDER} for name, s in stats.items()}


def episode_stats(columns: Mapping[str, np.ndarray]) -> dict[str, Stats]:
    """`compute_episode_stats` over an episode's numeric columns (name -> (N, *shape) array): `batch_stats` of one
    episode, or `_compute_basic_stats` of each where it has fewer than 2 rows (its stats then change shape)."""
    rows = len(np.asarray(next(iter(columns.values())))) if columns else 0
    if rows < 2:
        return {name: _basic_stats(np.asarray(values)) for name, values in columns.items()}
    return episode(batch_stats(columns, np.array([rows])), 0)


def episodes_stats(columns: Sequence[Mapping[str, np.ndarray]]) -> list[dict[str, Stats]]:
    """`episode_stats` of each episode's columns, in one batch (`batch_stats`) unless one has fewer than 2 frames
    (lerobot's stats change shape there)."""
    lengths = np.array([len(next(iter(c.values()))) if c else 0 for c in columns])
    if (lengths < 2).any() or not columns[0]:
        return [episode_stats(c) for c in columns]
    batch = batch_stats({k: np.concatenate([c[k] for c in columns]) for k in columns[0]}, lengths)
    return [episode(batch, i) for i in range(len(columns))]


def _basic_stats(values: np.ndarray) -> Stats:
    """`_compute_basic_stats` (fewer than 2 rows): numpy over axis 0 of the (possibly N-D) array, quantiles = mean."""
    arr = values.reshape(-1, 1) if values.ndim == 1 else values
    mean = np.mean(arr, axis=0)
    stats = {"min": np.min(arr, axis=0), "max": np.max(arr, axis=0), "mean": mean, "std": np.std(arr, axis=0)}
    stats |= {"count": np.array([len(arr)])} | {q: mean.copy() for q in QUANTILE_KEYS}  # in STAT_ORDER
    if values.ndim == 1:  # _reshape_for_vector_stats: a 1-D feature keeps shape (1,)
        stats = {k: v if k == "count" else np.asarray(v).reshape(1) for k, v in stats.items()}
    return stats


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
