"""Exact per-dimension statistics over the union of many episodes' frames, each dimension over only the frames that use
it, per group of episodes (an embodiment) and over all groups together, reading each episode once, in memory bounded by
the dimension count (not the frame count).

Why: lerobot aggregates per-episode quantiles by their count-weighted mean (`aggregate_stats`, lerobot 0.6.1
`datasets/compute_stats.py`), which is not a quantile of the union: across embodiments it puts q01/q99 where no frame
is, and a dimension an embodiment does not use (padded with 0) pulls the others' statistics towards 0. Here each value
is kept only where its frame's mask says the dimension is real and finite, and the statistics are those of exactly
those values:
- count, min, max; mean and population std in float64, each batch's by two passes and the batches merged by Chan et
  al.'s pairwise update (no E[x^2] - mean^2 cancellation: within float64 rounding of numpy's mean and std);
- quantiles as `np.quantile(values.astype(float64), q)` with its default ("linear") method. They are found by radix
  selection on the float32 bit patterns mapped to order-preserving uint32 keys: pass 1 counts each dimension's values
  per top 12 bits, which fixes n and the bucket of every wanted order statistic; passes 2 and 3 count, among the
  values whose key starts with a wanted prefix (found through lookup tables, `_luts`), the next 10 bits; after 32 bits
  the key is the value. The result is exact (equal to numpy's, `tests/ingest/lerobot/test_union_stats.py`) and
  reproducible (counting is order-free).

Cost: the values are given once (`add`); pass 1 counts them as they come and keeps their keys (only the used
dimensions) in a spill file (`tempfile.SpooledTemporaryFile`: in memory up to `SPOOL_BYTES`, then local temporary
disk, 4 bytes a used value), which passes 2 and 3 read back. Every value is counted once per pass: a group's counters
hold the prefixes its own and the union's order statistics need, and the union's counts are the sum of its groups'.
Memory: D x 4096 int64 counters per group in pass 1, D x T x 1024 after (T <= 10 wanted order statistics per
dimension, twice that for a group beside the union), `BUFFER_VALUES` cells before they are counted, and the spool.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from adapters.lerobot_format.stats import QUANTILES, Stats

PASS_BITS = (12, 10, 10)  # bits of the 32-bit key fixed by each pass
BUFFER_VALUES = 1 << 21  # counter cells gathered before one bincount (16 MB of int64)
SPOOL_BYTES = 16 << 20  # a group's spilled keys held in memory before they go to a temporary file
SKIP = np.uint32(0xFFFFFFFF)  # the key of a value a frame does not use (a NaN's key: never counted)
# pass-1 digits of the finite floats' keys: below FINITE[0] are -inf and the negative NaNs, from FINITE[1] +inf and the
# positive NaNs (and SKIP), so a non-finite value is never counted by zeroing those digits once
FINITE = (8, 4088)
UNION = ""  # `result`'s name for all groups together


def order_keys(values: np.ndarray) -> np.ndarray:
    """float32 -> uint32 with the same order (negative floats: all bits flipped; others: the sign bit set)."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    return bits ^ ((bits.view(np.int32) >> 31).view(np.uint32) | np.uint32(0x80000000))


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


def _luts(slots: np.ndarray, dim: int, consumed: int) -> list[np.ndarray]:
    """Lookup tables from a key's leading bits to its slot: `slots` are sorted distinct (d << consumed | prefix);
    table 0 maps d << 12 | the key's top 12 bits, table k (k >= 1) maps its parent's entry << 10 | the next 10 bits,
    to an entry of its level (-1: no wanted prefix starts so); the last level's entries are the slots' indices."""
    d, prefix = slots >> consumed, slots & ((1 << consumed) - 1)
    tables: list[np.ndarray] = []
    bits, parents = 0, np.zeros(0, dtype=np.int64)
    for width in PASS_BITS:
        if bits == consumed:
            break
        bits += width
        level = np.unique((d << bits) | (prefix >> (consumed - bits)))
        if not tables:
            index = level
            table = np.full(dim << width, -1, dtype=np.int64)
        else:
            index = (np.searchsorted(parents, level >> width) << width) | (level & ((1 << width) - 1))
            table = np.full(len(parents) << width, -1, dtype=np.int64)
        table[index] = np.arange(len(level))
        tables.append(table)
        parents = level
    return tables


@dataclass
class _Targets:
    """The wanted order statistics of one group (or the union): [dim, T] prefix found so far and rank among the values
    with that prefix; `n` the values per dimension."""

    n: np.ndarray
    prefix: np.ndarray
    rank: np.ndarray

    def live(self) -> np.ndarray:
        """[dim, T] bool: the statistics of a dimension with values (the others are NaN, nothing to count)."""
        return np.broadcast_to((self.n > 0)[:, None], self.prefix.shape)


@dataclass
class _Group:
    """One group's moments, spilled keys and counters."""

    dim: int
    count: np.ndarray = field(init=False)
    mean: np.ndarray = field(init=False)
    m2: np.ndarray = field(init=False)  # sum of squared deviations from the mean
    min: np.ndarray = field(init=False)
    max: np.ndarray = field(init=False)
    hist: np.ndarray = field(init=False)
    slots: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    tables: list[np.ndarray] = field(default_factory=list)
    batches: list[tuple[int, np.ndarray]] = field(default_factory=list)  # rows and dims of each spilled batch
    cells: list[np.ndarray] = field(default_factory=list)
    buffered: int = 0

    def __post_init__(self) -> None:
        self.count = np.zeros(self.dim, dtype=np.int64)
        self.mean, self.m2 = np.zeros(self.dim), np.zeros(self.dim)
        self.min, self.max = np.full(self.dim, np.inf), np.full(self.dim, -np.inf)
        self.hist = np.zeros((self.dim, 1 << PASS_BITS[0]), dtype=np.int64)
        self.spill = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (closed by UnionStats)

    def moments(self, values: np.ndarray, cols: np.ndarray, used: np.ndarray | None) -> None:
        """Merge a batch's count, min, max, mean and M2 of `values` [n, len(cols)] (`used`: [n, len(cols)] or None
        for all) into dims `cols`: each batch's by two passes, merged by Chan et al.'s pairwise update."""
        finite = np.isfinite(values)
        if used is not None:
            finite &= used
        if finite.all():
            n_b = np.full(len(cols), len(values), dtype=np.int64)
            v64 = values.astype(np.float64)
            mean_b = v64.sum(axis=0) / max(len(values), 1)
            m2_b = ((v64 - mean_b) ** 2).sum(axis=0)
            lo, hi = v64.min(axis=0, initial=np.inf), v64.max(axis=0, initial=-np.inf)
        else:
            v64 = np.where(finite, values, 0).astype(np.float64)
            n_b = finite.sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean_b = np.where(n_b > 0, v64.sum(axis=0) / n_b, 0.0)
            m2_b = (np.where(finite, v64 - mean_b, 0.0) ** 2).sum(axis=0)
            lo = np.where(finite, v64, np.inf).min(axis=0, initial=np.inf)
            hi = np.where(finite, v64, -np.inf).max(axis=0, initial=-np.inf)
        count = self.count[cols]
        n = count + n_b
        with np.errstate(invalid="ignore", divide="ignore"):
            delta = mean_b - self.mean[cols]
            self.mean[cols] = np.where(n > 0, self.mean[cols] + delta * np.where(n > 0, n_b / n, 0.0), 0.0)
            self.m2[cols] += m2_b + np.where(n > 0, delta * delta * count * n_b / n, 0.0)
        self.count[cols] = n
        self.min[cols] = np.minimum(self.min[cols], lo)
        self.max[cols] = np.maximum(self.max[cols], hi)

    def count_keys(self, keys: np.ndarray, cols: np.ndarray, pass_index: int) -> None:
        """Gather the counter cells of a batch of keys [n, len(cols)] in this pass; counted by `flush`."""
        top = (keys >> (32 - PASS_BITS[0])).astype(np.int64) + (cols.astype(np.int64) << PASS_BITS[0])
        if pass_index == 0:
            cells = top.reshape(-1)
        else:
            slot, rest, shift = self.tables[0][top.reshape(-1)], keys.reshape(-1), 32 - PASS_BITS[0]
            for table, width in zip(self.tables[1:], PASS_BITS[1:], strict=False):
                hit = slot >= 0
                slot, rest, shift = slot[hit], rest[hit], shift - width
                slot = table[(slot << width) | ((rest >> shift) & ((1 << width) - 1)).astype(np.int64)]
            hit = slot >= 0
            width = PASS_BITS[pass_index]
            digit = (rest[hit] >> (shift - width)) & ((1 << width) - 1)
            cells = (slot[hit] << width) | digit.astype(np.int64)
        self.cells.append(cells)
        self.buffered += len(cells)
        if self.buffered >= BUFFER_VALUES:
            self.flush()

    def flush(self) -> None:
        if self.cells:
            cells = np.concatenate(self.cells)
            self.hist += np.bincount(cells, minlength=self.hist.size).reshape(self.hist.shape)
        self.cells, self.buffered = [], 0

    def replay(self, pass_index: int) -> None:
        """Count the spilled keys again in a later pass."""
        self.spill.seek(0)
        for rows, cols in self.batches:
            raw = self.spill.read(rows * len(cols) * 4)
            self.count_keys(np.frombuffer(raw, dtype=np.uint32).reshape(rows, len(cols)), cols, pass_index)
        self.flush()


class UnionStats:
    """Statistics of dimension-wise masked values, per group and over all groups (`UNION`), the values given once:

        stats = UnionStats(dim, groups=("franka", "human"))
        for values, used, group in batches():   # values [n, dim] float32; used [n, dim] or [dim] bool
            stats.add(values, used, group)
        union = stats.result()                   # min max mean std count q01 q10 q50 q90 q99, each (dim,)
        franka = stats.result("franka")

    A dimension no value uses gets NaN statistics and count 0. One group (the default) is the union itself."""

    def __init__(self, dim: int, quantiles: Sequence[float] = QUANTILES, groups: Sequence[str] = (UNION,)) -> None:
        if not groups or len(set(groups)) != len(groups):
            raise ValueError(f"UnionStats: groups must be distinct and at least one, got {list(groups)}")
        self.dim, self.quantiles = dim, tuple(quantiles)
        self._groups = {g: _Group(dim) for g in groups}
        self._results: dict[str, Stats] | None = None

    def add(self, values: np.ndarray, used: np.ndarray, group: str = UNION) -> None:
        """Count a batch in the first pass and keep the keys of its used dims for the others."""
        if self._results is not None:
            raise RuntimeError("UnionStats: values added after the results were computed")
        one = len(self._groups) == 1 and group == UNION
        g = next(iter(self._groups.values())) if one else self._groups[group]
        values = np.asarray(values, dtype=np.float32).reshape(-1, self.dim)
        used = np.asarray(used, dtype=bool)
        if used.ndim == 1:  # one mask for the batch: only its dims are kept
            cols = np.flatnonzero(used)
            values, per_value = (values if len(cols) == self.dim else values[:, cols]), None
        else:
            cols, per_value = np.arange(self.dim), np.broadcast_to(used, values.shape)
        if not len(cols) or not len(values):
            return
        g.moments(values, cols, per_value)
        keys = order_keys(values)
        if per_value is not None:
            keys[~per_value] = SKIP
        g.count_keys(keys, cols, 0)
        g.spill.write(keys.tobytes())
        g.batches.append((len(values), cols))

    def result(self, group: str = UNION) -> Stats:
        """The statistics of one group's values, or of all (`UNION`); the first call runs passes 2 and 3."""
        if self._results is None:
            self._results = self._finish()
        return self._results[group]

    def _finish(self) -> dict[str, Stats]:
        groups = self._groups
        for g in groups.values():
            g.flush()
            g.hist[:, : FINITE[0]] = 0
            g.hist[:, FINITE[1] :] = 0
        targets = {name: self._first_targets(g.hist, g.count) for name, g in groups.items()}
        if len(groups) > 1:
            total = np.add.reduce([g.hist for g in groups.values()])
            targets[UNION] = self._first_targets(total, total.sum(axis=1))
        consumed = PASS_BITS[0]
        for pass_index in range(1, len(PASS_BITS)):
            for name, g in groups.items():
                wanted = [t for key, t in targets.items() if key in (name, UNION)]
                cells = np.concatenate([self._cells(t, consumed) for t in wanted])
                g.slots = np.unique(cells)
                g.tables = _luts(g.slots, self.dim, consumed)
                g.hist = np.zeros((len(g.slots), 1 << PASS_BITS[pass_index]), dtype=np.int64)
                if len(g.slots):
                    g.replay(pass_index)
            for name, t in targets.items():
                members = list(groups.values()) if name == UNION and len(groups) > 1 else [groups[name]]
                self._narrow(t, consumed, PASS_BITS[pass_index], members)
            consumed += PASS_BITS[pass_index]
        for g in groups.values():
            g.spill.close()
            g.hist = np.zeros(0, dtype=np.int64)
        out = {name: self._stats(targets[name], g.count, g.mean, g.m2, g.min, g.max) for name, g in groups.items()}
        out[UNION] = self._union(targets[UNION]) if len(groups) > 1 else next(iter(out.values()))
        return out

    def _first_targets(self, hist: np.ndarray, n: np.ndarray) -> _Targets:
        idx = [i for q in self.quantiles for i in _virtual(n, q)[:2]]
        rank = np.stack(idx, axis=1)  # [dim, T] the 0-based order statistics numpy's linear quantiles need
        cum = np.cumsum(hist, axis=1)
        digit = np.minimum((cum[:, None, :] <= rank[:, :, None]).sum(axis=2), cum.shape[1] - 1)
        below = np.where(digit > 0, np.take_along_axis(cum, np.maximum(digit - 1, 0), axis=1), 0)
        return _Targets(n.copy(), digit.astype(np.int64), rank - below)

    def _cells(self, t: _Targets, consumed: int) -> np.ndarray:
        """(d << consumed | prefix) of the live targets."""
        d = np.broadcast_to(np.arange(self.dim, dtype=np.int64)[:, None], t.prefix.shape)
        return ((d << consumed) | t.prefix)[t.live()]

    def _narrow(self, t: _Targets, consumed: int, bits: int, members: list[_Group]) -> None:
        """Fix the next `bits` of each live target from its members' counts of its prefix."""
        live = t.live()
        cells = self._cells(t, consumed)
        hist = sum(g.hist[np.searchsorted(g.slots, cells)] for g in members)  # [live, 2**bits]
        cum = np.cumsum(hist, axis=1)
        rank = t.rank[live]
        digit = np.minimum((cum <= rank[:, None]).sum(axis=1), cum.shape[1] - 1)
        below = np.where(digit > 0, np.take_along_axis(cum, np.maximum(digit - 1, 0)[:, None], 1)[:, 0], 0)
        prefix = t.prefix << bits
        prefix[live] |= digit
        t.prefix = prefix
        t.rank = t.rank.copy()
        t.rank[live] = rank - below

    def _union(self, t: _Targets) -> Stats:
        groups = list(self._groups.values())
        count = np.zeros(self.dim, dtype=np.int64)
        mean, m2 = np.zeros(self.dim), np.zeros(self.dim)
        for g in groups:  # Chan et al.'s pairwise update, group by group
            n = count + g.count
            with np.errstate(invalid="ignore", divide="ignore"):
                delta = g.mean - mean
                mean = np.where(n > 0, mean + delta * np.where(n > 0, g.count / n, 0.0), 0.0)
                m2 = m2 + g.m2 + np.where(n > 0, delta * delta * count * g.count / n, 0.0)
            count = n
        lo = np.min([g.min for g in groups], axis=0)
        hi = np.max([g.max for g in groups], axis=0)
        return self._stats(t, count, mean, m2, lo, hi)

    def _stats(
        self, t: _Targets, n: np.ndarray, mean: np.ndarray, m2: np.ndarray, lo: np.ndarray, hi: np.ndarray
    ) -> Stats:
        empty = n == 0
        with np.errstate(invalid="ignore", divide="ignore"):
            std = np.where(empty, np.nan, np.sqrt(m2 / n))
        values = from_keys(t.prefix.astype(np.uint32))  # [dim, T] the order statistics
        out: Stats = {
            "min": np.where(empty, np.nan, lo),
            "max": np.where(empty, np.nan, hi),
            "mean": np.where(empty, np.nan, mean),
            "std": std,
            "count": n.copy(),
        }
        for i, q in enumerate(self.quantiles):
            value = _lerp(values[:, 2 * i], values[:, 2 * i + 1], _virtual(n, q)[2])
            out[f"q{round(q * 100):02d}"] = np.where(empty, np.nan, value)
        return out
