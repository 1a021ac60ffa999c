"""lerobot 0.6.1's per-episode stats (`stats_v30.episode_stats`) for many consecutive episodes in one pass.

With 300-row episodes `episode_stats`' time goes to ~40 small numpy calls per feature per episode, not to the rows.
Here the features of one dtype sit side by side and the episodes of a batch share calls: per episode one sum, one sum
of squares and one sort for all those features, then everything else for every (quantile, episode, dimension) at
once. The results are the same bits as `episode_stats` of each episode, because every sum is taken in the order numpy
takes it for lerobot's own arrays (numpy 2.x `add.reduce`; checked against lerobot 0.6.1 by
`tests/ingest/lerobot/test_stats_v30_batch.py`):
- a feature whose last axis has more than one element (`(rows, D)`, D > 1, C order) is reduced over axis 0 by adding
  whole rows one after another, so features side by side (C order) sum as each alone;
- a 1-D feature (`(rows, 1)`) is reduced by numpy's pairwise summation over the contiguous run, so it is summed on a
  contiguous row of its own;
- min/max are the ends of the sorted values, redone by numpy where a column holds -0.0 or NaN;
- the quantiles: the k-th smallest read by position in the sorted values, its bin by `stats_v30._bin_of`, and the
  counts below the bin's edges from the k-th's neighbours (a bisection where they do not settle it).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ingest.lerobot.stats_v30 import (
    EDGE_PAD,
    NUM_BINS,
    QUANTILE_KEYS,
    QUANTILES,
    Stats,
    _bin_of,
    _Edges,
    feature_stats,
)


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
    """`stats_v30._quantile_parts` + `_quantile_stats` for every episode of the batch: key -> (episodes, dims)."""
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
    `feature_stats`' own path; an N-D feature (> 2 axes) cannot have one (lerobot's stats then change shape)."""
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
            one = feature_stats(np.asarray(values)[a : a + int(lengths[i])])
            for key, v in one.items():
                out[name][key][i] = np.asarray(v).reshape(-1)
    return {name: out[name] for name in columns}


def episode(stats: Mapping[str, Stats], i: int) -> dict[str, Stats]:
    """Episode i of `batch_stats`, as `episode_stats` returns it (lerobot's key order; count shape (1,))."""
    order = ("min", "max", "mean", "std", "count", *QUANTILE_KEYS)
    return {name: {k: np.asarray(s[k][i]) for k in order} for name, s in stats.items()}
