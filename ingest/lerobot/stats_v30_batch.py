"""lerobot 0.6.1's per-episode stats (`stats_v30.episode_stats`) for many consecutive episodes in one pass.

`stats_v30` computes one episode at a time; with 300-row episodes its time goes to ~40 small numpy calls per feature
per episode, not to the rows. Here the episodes of a batch (rows of episode i at `starts[i]:starts[i] + lengths[i]`)
share every call, and the results are the same bits as `episode_stats` of each episode, because every sum is taken
in the order numpy takes it (numpy 2.x `add.reduce`, checked by `tests/ingest/lerobot/test_stats_v30_batch.py`):
- a feature whose last axis has more than one element (`(rows, D)`, D > 1, C order) is reduced over axis 0 by adding
  whole rows one after another, so the batch adds row i of every episode still longer than i at once;
- a 1-D feature (`(rows, 1)`) is reduced by numpy's pairwise summation over the contiguous run, so it is summed per
  episode on a contiguous row (one call per episode for all 1-D columns of a dtype);
- min/max by `minimum.reduceat` (order-free);
- the quantiles: each episode's values sorted per dimension, the k-th smallest read by position, its histogram bin
  found by `stats_v30._bin_of` on every (quantile, episode, dimension) at once, and the counts below the bin's edges
  by a bisection in each sorted segment run for all of them together.
"""

from __future__ import annotations

import math
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
    aggregate_arrays,
    feature_stats,
)


class _Group:
    """Features of one promoted dtype and one rows-per-frame multiplier, side by side: (frames * mult, dims)."""

    def __init__(self, names: list[str], flats: list[np.ndarray]) -> None:
        self.names = names
        self.widths = [f.shape[1] for f in flats]
        self.values = np.concatenate(flats, axis=1) if len(flats) > 1 else flats[0]


def _flat(values: np.ndarray) -> tuple[np.ndarray, int]:
    """The (rows * mult, last dim) array lerobot takes stats over, in its promoted dtype, and mult."""
    arr = values.reshape(-1, 1) if values.ndim == 1 else values
    flat = arr.reshape(-1, arr.shape[-1])
    flat = flat.astype(np.result_type(flat.dtype, np.float32), copy=False)
    return flat, flat.shape[0] // max(values.shape[0], 1)


def _sums(g: np.ndarray, starts: np.ndarray, lengths: np.ndarray, pairwise: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per-episode sum and sum of squares of `g` (rows, dims) in numpy's own order (see the module doc): the
    `pairwise` dims (1-D features) per episode, the others row after row."""
    sq = g * g
    s, s2 = np.empty((len(starts), g.shape[1]), g.dtype), np.empty((len(starts), g.shape[1]), g.dtype)
    if pairwise.any():  # one call per episode for all 1-D columns, each a contiguous run
        t, t2 = np.ascontiguousarray(g[:, pairwise].T), np.ascontiguousarray(sq[:, pairwise].T)
        runs = list(zip(starts, lengths, strict=True))
        s[:, pairwise] = np.stack([np.add.reduce(t[:, a : a + n], axis=1) for a, n in runs])
        s2[:, pairwise] = np.stack([np.add.reduce(t2[:, a : a + n], axis=1) for a, n in runs])
    if pairwise.all():
        return s, s2
    rest = ~pairwise
    g, sq = np.ascontiguousarray(g[:, rest]), np.ascontiguousarray(sq[:, rest])  # C order: row after row
    longest = int(lengths.max())
    if len(starts) * 4 < longest:  # few long episodes: numpy's own call per episode is cheaper than one per row
        s[:, rest] = np.stack([np.add.reduce(g[a : a + n], axis=0) for a, n in zip(starts, lengths, strict=True)])
        s2[:, rest] = np.stack([np.add.reduce(sq[a : a + n], axis=0) for a, n in zip(starts, lengths, strict=True)])
        return s, s2
    order = np.argsort(-lengths, kind="stable")
    first, sizes = starts[order], lengths[order]
    acc, acc2 = g[first].copy(), sq[first].copy()
    alive = np.searchsorted(-sizes, -np.arange(longest), side="left")  # episodes longer than i (a prefix)
    for i in range(1, longest):
        k = alive[i]
        rows = first[:k] + i
        acc[:k] += g[rows]
        acc2[:k] += sq[rows]
    s[np.ix_(order, np.flatnonzero(rest))] = acc
    s2[np.ix_(order, np.flatnonzero(rest))] = acc2
    return s, s2


def _count_below(sorted_t: np.ndarray, seg_start: np.ndarray, seg_len: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """How many values of each sorted segment are < the query: `sorted_t` (dims, rows), segment e of row d at
    `seg_start[e]:seg_start[e] + seg_len[e]`; queries (k, episodes, dims) -> counts of the same shape."""
    dims, rows = sorted_t.shape
    flat = sorted_t.reshape(-1)
    base = (np.arange(dims) * rows)[None, None, :] + seg_start[None, :, None]
    lo = np.broadcast_to(base, queries.shape).copy()
    hi = lo + seg_len[None, :, None]
    for _ in range(math.ceil(math.log2(int(seg_len.max()) + 1))):
        active = lo < hi
        mid = (lo + hi) >> 1
        less = flat[np.minimum(mid, flat.size - 1)] < queries
        go = active & less
        lo = np.where(go, mid + 1, lo)
        hi = np.where(active & ~go, mid, hi)
    return lo - base


def _quantiles(g: np.ndarray, starts: np.ndarray, lengths: np.ndarray, vmin: np.ndarray, vmax: np.ndarray) -> dict:
    """`stats_v30._quantile_parts` + `_quantile_stats` for every episode of the batch: key -> (episodes, dims)."""
    t = np.ascontiguousarray(g.T)
    for a, n in zip(starts, lengths, strict=True):
        t[:, a : a + n].sort(axis=1)
    targets = np.array(QUANTILES)[:, None] * lengths[None, :]  # q * count (float64), (quantiles, episodes)
    pos = starts[None, :] + np.ceil(targets).astype(np.int64) - 1
    kth = np.moveaxis(t[:, pos], 0, -1)  # (quantiles, episodes, dims)
    edges = _Edges(vmin - EDGE_PAD, vmax + EDGE_PAD)  # (episodes, dims), broadcast over quantiles
    idx = _bin_of(kth, edges)
    lo, hi = edges.at(idx), edges.at(idx + 1)
    below = _count_below(t, starts, lengths, np.concatenate([lo, hi]))
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
    ndims = {}
    for name, values in columns.items():
        values = np.asarray(values)
        if values.ndim > 2 and (lengths < 2).any():
            raise ValueError(f"{name}: an episode of fewer than 2 frames has N-D stats of another shape")
        ndims[name] = values.ndim
        flat, mult = _flat(values)
        names, flats = groups.setdefault((flat.dtype, mult), ([], []))
        names.append(name)
        flats.append(flat)
    out: dict[str, Stats] = {}
    for (_, mult), (names, flats) in groups.items():
        g = _Group(names, flats)
        starts, sizes = frame_starts * mult, lengths * mult
        vmin = np.minimum.reduceat(g.values, starts, axis=0)
        vmax = np.maximum.reduceat(g.values, starts, axis=0)
        pairwise = np.concatenate([np.full(w, w == 1) for w in g.widths])
        s, s2 = _sums(g.values, starts, sizes, pairwise)
        n = sizes[:, None].astype(g.values.dtype)
        mean = s / n
        std = np.sqrt(np.maximum(0, s2 / n - mean**2))
        ok = lengths >= 2
        qs = _quantiles(g.values, starts[ok], sizes[ok], vmin[ok], vmax[ok]) if ok.any() else {}
        at = 0
        for name, width in zip(g.names, g.widths, strict=True):
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


def aggregate_batch(stats: Mapping[str, Stats]) -> dict[str, Stats]:
    """lerobot 0.6.1 `aggregate_stats` over the batch's episodes (its formulas on the stacked arrays)."""
    return {name: aggregate_arrays(s) for name, s in sorted(stats.items())}
