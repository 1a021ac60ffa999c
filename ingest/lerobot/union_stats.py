"""Exact per-dimension statistics over the union of many episodes' frames, each dimension over only the frames that use
it, in memory bounded by the dimension count (not the frame count).

Why: lerobot aggregates per-episode quantiles by their count-weighted mean (`aggregate_stats`, lerobot 0.6.1
`datasets/compute_stats.py`), which is not a quantile of the union: across embodiments it puts q01/q99 where no frame
is, and a dimension an embodiment does not use (padded with 0) pulls the others' statistics towards 0. Here each value
is kept only where its frame's mask says the dimension is real and finite, and the statistics are those of exactly
those values:
- count, min, max; mean and population std in float64, each batch's by two passes and the batches merged by Chan et
  al.'s pairwise update (no E[x^2] - mean^2 cancellation: within float64 rounding of numpy's mean and std);
- quantiles as `np.quantile(values.astype(float64), q)` with its default ("linear") method. They are found by radix
  selection on the float32 bit patterns mapped to order-preserving uint32 keys: pass 1 counts each dimension's values
  per top 12 bits (with the moments), which fixes n and the bucket of every wanted order statistic; passes 2 and 3
  count, among the values whose key starts with that bucket, the next 10 bits; after 32 bits the key is the value.
  The result is exact (equal to numpy's, `tests/ingest/lerobot/test_union_stats.py`), reproducible (counting is
  order-free), and needs D x 4096 + D x T x 1024 int64 counters (T <= 10 wanted order statistics per dimension) and
  a buffer of `BUFFER_VALUES` values, whatever the frame count; the cost is three reads of the values.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ingest.lerobot.stats_v30 import QUANTILES, Stats

PASS_BITS = (12, 10, 10)  # bits of the 32-bit key fixed by each pass
BUFFER_VALUES = 1 << 21  # values held before they are counted (8 MB of float32 and 2 MB of mask)


def order_keys(values: np.ndarray) -> np.ndarray:
    """float32 -> uint32 with the same order (negative floats: all bits flipped; others: the sign bit set)."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    return np.where(bits >> 31 == 1, ~bits, bits | np.uint32(0x80000000))


def from_keys(keys: np.ndarray) -> np.ndarray:
    """The inverse of `order_keys`, as float64."""
    keys = np.asarray(keys, dtype=np.uint32)
    bits = np.where(keys >> 31 == 1, keys & np.uint32(0x7FFFFFFF), ~keys)
    return bits.astype(np.uint32).view(np.float32).astype(np.float64)


def _virtual(n: np.ndarray, q: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """numpy's linear method: (previous index, next index, gamma) for sample sizes `n` (NumPy `_get_indexes`)."""
    virtual = (n.astype(np.float64) - 1) * q
    prev = np.floor(virtual)
    nxt = prev + 1
    above = virtual >= n - 1
    prev, nxt = np.where(above, n - 1, prev), np.where(above, n - 1, nxt)
    gamma = virtual - np.floor(virtual)
    return np.maximum(prev, 0).astype(np.int64), np.maximum(nxt, 0).astype(np.int64), gamma


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """NumPy's `_lerp` (numpy/lib/_function_base_impl.py): a + (b - a) t, from b's side when t >= 0.5."""
    diff = b - a
    return np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)


class UnionStats:
    """Statistics of dimension-wise masked values fed in batches, in `passes` passes over the same batches:

        stats = UnionStats(dim)
        while stats.pending:
            for values, used in batches():   # values [n, dim] float32; used [n, dim] or [dim] bool
                stats.add(values, used)
            stats.next_pass()
        result = stats.result()              # min max mean std count q01 q10 q50 q90 q99, each (dim,)

    A dimension no value uses gets NaN statistics and count 0."""

    passes = len(PASS_BITS)

    def __init__(self, dim: int, quantiles: Sequence[float] = QUANTILES) -> None:
        self.dim, self.quantiles = dim, tuple(quantiles)
        self.pass_index = 0
        self.count = np.zeros(dim, dtype=np.int64)
        self.mean = np.zeros(dim)
        self.m2 = np.zeros(dim)  # sum of squared deviations from the mean
        self._buffer: list[tuple[np.ndarray, np.ndarray]] = []
        self._buffered = 0
        self.min = np.full(dim, np.inf)
        self.max = np.full(dim, -np.inf)
        self._hist = np.zeros((dim, 1 << PASS_BITS[0]), dtype=np.int64)
        self._prefix: np.ndarray | None = None  # [dim, T] uint64 key prefix of each wanted order statistic
        self._rank: np.ndarray | None = None  # [dim, T] its rank among the values with that prefix
        self._slots: np.ndarray | None = None  # [dim, S] the distinct prefixes of a dimension (sorted, padded)

    @property
    def pending(self) -> bool:
        return self.pass_index < self.passes

    def _consumed(self) -> int:
        return sum(PASS_BITS[: self.pass_index])

    def add(self, values: np.ndarray, used: np.ndarray) -> None:
        """Feed values of the current pass; they are counted in batches of about `BUFFER_VALUES` values (a count
        touches every counter of the pass once, whatever the batch's size)."""
        values = np.asarray(values, dtype=np.float32).reshape(-1, self.dim)
        self._buffer.append((values, np.broadcast_to(np.asarray(used, dtype=bool), values.shape)))
        self._buffered += values.size
        if self._buffered >= BUFFER_VALUES:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        values = np.concatenate([v for v, _ in self._buffer])
        used = np.concatenate([u for _, u in self._buffer]) & np.isfinite(values)
        self._buffer, self._buffered = [], 0
        if self.pass_index == 0:
            self._moments(values, used)
        rows, dims = np.nonzero(used)
        if not len(rows):
            return
        keys = order_keys(values[rows, dims]).astype(np.uint64)
        bits = PASS_BITS[self.pass_index]
        if self.pass_index == 0:
            digit = (keys >> np.uint64(32 - bits)).astype(np.int64)
            self._hist += np.bincount(dims * (1 << bits) + digit, minlength=self._hist.size).reshape(self._hist.shape)
            return
        assert self._slots is not None
        consumed = self._consumed()
        slots = self._slots.shape[1]
        top = keys >> np.uint64(32 - consumed)
        # every dimension's prefixes in one sorted array, dimension d's offset by d * 2**consumed (a prefix and the
        # padding, 2**consumed - 1, which no finite float's key starts with, are below 2**consumed)
        offset = np.uint64(1 << consumed)
        flat = (np.arange(self.dim, dtype=np.uint64)[:, None] * offset + self._slots).reshape(-1)
        query = dims.astype(np.uint64) * offset + top
        pos = np.minimum(np.searchsorted(flat, query), flat.size - 1)
        hit = flat[pos] == query
        digit = ((keys >> np.uint64(32 - consumed - bits)) & np.uint64((1 << bits) - 1)).astype(np.int64)
        self._hist += np.bincount(
            pos[hit] * (1 << bits) + digit[hit], minlength=self.dim * slots * (1 << bits)
        ).reshape(self._hist.shape)

    def _moments(self, values: np.ndarray, used: np.ndarray) -> None:
        """count, min, max, and mean and M2 merged batch by batch (Chan et al.'s pairwise update, each batch's own
        by two passes): no cancellation of E[x^2] - mean^2."""
        v64 = np.where(used, values, 0).astype(np.float64)
        n_b = used.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_b = np.where(n_b > 0, v64.sum(axis=0) / n_b, 0.0)
        m2_b = (np.where(used, v64 - mean_b, 0.0) ** 2).sum(axis=0)
        n = self.count + n_b
        with np.errstate(invalid="ignore", divide="ignore"):
            delta = mean_b - self.mean
            self.mean = np.where(n > 0, self.mean + delta * np.where(n > 0, n_b / n, 0.0), 0.0)
            self.m2 = self.m2 + m2_b + np.where(n > 0, delta * delta * self.count * n_b / n, 0.0)
        self.count = n
        self.min = np.minimum(self.min, np.where(used, v64, np.inf).min(axis=0, initial=np.inf))
        self.max = np.maximum(self.max, np.where(used, v64, -np.inf).max(axis=0, initial=-np.inf))

    def _targets(self) -> np.ndarray:
        """[dim, T] the 0-based order statistics numpy's linear quantiles need (previous and next per quantile)."""
        idx = [i for q in self.quantiles for i in _virtual(self.count, q)[:2]]
        return np.stack(idx, axis=1)

    def next_pass(self) -> None:
        """Close the pass: locate each wanted order statistic one digit further."""
        self._flush()
        bits = PASS_BITS[self.pass_index]
        if self.pass_index == 0:
            rank = self._targets()
            cum = np.cumsum(self._hist, axis=1)
            digit = np.stack([np.searchsorted(cum[d], rank[d], side="right") for d in range(self.dim)])
            digit = np.minimum(digit, cum.shape[1] - 1)  # a dimension without values: any bucket (its stats are NaN)
            below = np.where(digit > 0, np.take_along_axis(cum, np.maximum(digit - 1, 0), axis=1), 0)
            self._prefix, self._rank = digit.astype(np.uint64), rank - below
        else:
            assert self._prefix is not None and self._rank is not None and self._slots is not None
            slot = np.stack([np.searchsorted(self._slots[d], self._prefix[d]) for d in range(self.dim)])
            hist = self._hist[np.arange(self.dim)[:, None], slot]  # [dim, T, bins]
            cum = np.cumsum(hist, axis=2)
            digit = np.minimum((cum <= self._rank[..., None]).sum(axis=2), cum.shape[2] - 1)
            below = np.where(digit > 0, np.take_along_axis(cum, np.maximum(digit - 1, 0)[..., None], 2)[..., 0], 0)
            self._prefix = (self._prefix << np.uint64(bits)) | digit.astype(np.uint64)
            self._rank = self._rank - below
        self.pass_index += 1
        if self.pending:
            uniq = [np.unique(p) for p in self._prefix]
            width = max(len(u) for u in uniq)
            pad = np.uint64((1 << self._consumed()) - 1)
            self._slots = np.stack([np.concatenate([u, np.full(width - len(u), pad, np.uint64)]) for u in uniq])
            self._hist = np.zeros((self.dim, width, 1 << PASS_BITS[self.pass_index]), dtype=np.int64)
        else:
            self._hist = np.zeros((0,), dtype=np.int64)

    def result(self) -> Stats:
        if self.pending:
            raise RuntimeError(f"UnionStats: {self.passes - self.pass_index} passes over the values are still due")
        assert self._prefix is not None
        n = self.count
        empty = n == 0
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(empty, np.nan, self.mean)
            std = np.where(empty, np.nan, np.sqrt(self.m2 / n))
        values = from_keys(self._prefix.astype(np.uint32))  # [dim, T] the order statistics
        out: Stats = {
            "min": np.where(empty, np.nan, self.min),
            "max": np.where(empty, np.nan, self.max),
            "mean": mean,
            "std": std,
            "count": n.copy(),
        }
        for i, q in enumerate(self.quantiles):
            key = f"q{round(q * 100):02d}"
            gamma = _virtual(n, q)[2]
            out[key] = np.where(empty, np.nan, _lerp(values[:, 2 * i], values[:, 2 * i + 1], gamma))
        return out
