"""Content fingerprints of episodes and the near-duplicate search over a catalog of them.

Fingerprint: the set of per-dim turn bigrams of the episode's motion, min-hashed. Each moving arm dim is smoothed
by a centred moving average of 1/`fingerprint_rate_hz` s, quantised in steps of `fingerprint_step` of its limit range
(at most `fingerprint_step_m` for a metre dim: a canonical wrist's range is a workspace of metres), run-length
compressed, and reduced to the levels where it turns (`_turns`: its first and last level and each local extreme); a
token is a dim's pair of consecutive turns. The levels a dim turns at do not depend on the frame rate, a trimmed start,
a re-gridding or float16 (a monotone stretch's levels do: a fast move skips levels between two samples, and which
ones depends on the sampling phase), and they are where two demonstrations of one task differ: each reaches its own
extremes, while both pass through every level between. The five real GR00T PickNPlace recordings (one task) on the
10 Hz grid: two recordings 0-0.09, their copies made as `benchmarks/duplicates_real` makes them 0.34-1.0 (with the
level trigrams before: recordings up to 0.31, copies from 0.28); their repetitions with noise and time warps
(`benchmarks/duplicates_scale.py`): copies re-gridded half a frame later 0.37-0.46 before, 0.31-1.0 now. Min-hashes
(multiply-shift hashing on uint64) of the tokens estimate the Jaccard similarity of two token sets. Cost: O(N x D)
per episode, a few microseconds per frame; 32 uint32 values per episode. A fingerprint stored before this rule
(trigrams) is not comparable with one made after it: a corpus ingested across the change is re-ingested for its
copies to be found.

Search (`near_duplicates`, which says how buckets are split and identical signatures counted): LSH banding over
the signatures in `fingerprint_band_pairings` groupings (`band_layout`): a copy sharing few hashes with its original
(trimmed, re-gridded: 0.22-0.31 at 100,000 episodes) shares a band of one of three pairings where it missed every band
of one. One sort per band and split step: O(B N log N).
`benchmarks/duplicates_scale.py`'s signatures of 100,000 episodes of one task, the search alone in one quiet process:
one pairing, buckets of 64: 4.7 CPU-s, recall 0.988, 14,303 candidates; three pairings, buckets of 4: 0.9-1.1 CPU-s,
recall 0.991, 7,516 candidates (half as many to verify: the parts are smaller).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ingest.canonical.limits import DimLimits, finite_span, in_use
from ingest.qa.state import min_move
from schemas.behaviour import BehaviourConfig

_SEED = 20261122
MAX_BUCKET = 4  # members of a band bucket compared pairwise; a larger bucket is split (`near_duplicates`)
IDENTICAL_WINDOW = 64  # identical signatures no hash splits: each compared with this many - 1 neighbours each side


def _hash_params(m: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(_SEED)
    a = rng.integers(1, 2**63, size=m, dtype=np.uint64) | np.uint64(1)  # odd multipliers
    b = rng.integers(0, 2**63, size=m, dtype=np.uint64)
    return a, b


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a well-spread uint64 from any uint64 (wrapping arithmetic)."""
    x = x.astype(np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _turns(q: np.ndarray) -> np.ndarray:
    """The levels where a run-length compressed level sequence turns (its first, each local extreme, its last)."""
    if len(q) < 3:
        return q
    up = np.diff(q) > 0
    return q[np.concatenate([[True], up[1:] != up[:-1], [True]])]


def level_tokens(values: np.ndarray, fps: float, limits: DimLimits, config: BehaviourConfig) -> np.ndarray:
    """The episode's token set as unique uint64 hashes of (dim, turn level, next turn level) over its moving dims."""
    v = np.asarray(values, np.float64)
    use = in_use(limits) & ~limits.resting  # a gripper's two levels say little about which demonstration it is
    step = config.fingerprint_step * finite_span(limits)
    step = np.where(np.array(limits.units) == "m", np.minimum(step, config.fingerprint_step_m), step)
    step = np.maximum(step, min_move(limits, config) / 2)
    w = min(len(v), max(1, round(fps / config.fingerprint_rate_hz)))
    if len(v) == 0:
        return np.zeros(0, np.uint64)
    c = np.cumsum(np.vstack([np.zeros((1, v.shape[1])), v]), axis=0)
    smooth = (c[w:] - c[:-w]) / w  # centred moving average: commutes with a shift, unlike fixed blocks
    rng = smooth.max(axis=0) - smooth.min(axis=0)
    cols = np.flatnonzero(use & np.isfinite(rng) & (rng > 2 * step))
    tokens = []
    for d in cols:  # a loop over dims (tens), each vectorised over time
        q = np.floor((smooth[:, d] - limits.lower[d]) / step[d]).astype(np.int64)
        q = _turns(q[np.concatenate([[True], q[1:] != q[:-1]])])  # run-length compressed, then its turns
        if len(q) < 2:
            continue
        with np.errstate(over="ignore"):
            h = _mix(np.uint64(d + 1) * np.uint64(0x9E3779B97F4A7C15) + q[:-1].astype(np.uint64))
            h = _mix(h ^ q[1:].astype(np.uint64))
        tokens.append(h)
    return np.unique(np.concatenate(tokens)) if tokens else np.zeros(0, np.uint64)


def minhash(tokens: np.ndarray, m: int) -> np.ndarray:
    """(m,) uint32 min-hash signature of a uint64 token set; all 0xFFFFFFFF for an empty set (no motion)."""
    if not len(tokens):
        return np.full(m, 0xFFFFFFFF, np.uint32)
    a, b = _hash_params(m)
    with np.errstate(over="ignore"):
        h = (tokens[:, None] * a[None, :] + b[None, :]) >> np.uint64(32)  # multiply-shift: the high 32 bits
    return h.min(axis=0).astype(np.uint32)


def fingerprint(values: np.ndarray, fps: float, limits: DimLimits, config: BehaviourConfig) -> np.ndarray:
    """The episode's (fingerprint_hashes,) uint32 content fingerprint."""
    return minhash(level_tokens(values, fps, limits, config), config.fingerprint_hashes)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures: the fraction of equal min-hash values."""
    return float(np.mean(np.asarray(a) == np.asarray(b)))


@dataclass(frozen=True)
class DuplicatePairs:
    first: np.ndarray  # (P,) row of the earlier episode (lower row number)
    second: np.ndarray  # (P,) row of the later one
    similarity: np.ndarray  # (P,) estimated Jaccard
    refined_buckets: int  # band buckets above max_bucket, split by further hashes (multi-probe)
    unjudged_pairs: int  # pairs of a bucket no hash splits (identical signatures) left uncompared: counted, not dropped
    empty: int  # rows without motion (no tokens), never paired
    unjudged_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # the rows of such buckets
    unjudged_sizes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # each one's bucket size


def band_layout(m: int, bands: int, pairings: int) -> list[tuple[int, ...]]:
    """The hash columns of each band: `pairings` groupings of the `m` hashes into `bands` bands of `m // bands`, the
    first in column order, the others fixed permutations (seeded: the same bands on every run and machine)."""
    width = m // bands
    rng = np.random.default_rng(_SEED)
    out: list[tuple[int, ...]] = []
    for p in range(pairings):
        cols = np.arange(m) if p == 0 else rng.permutation(m)
        out += [tuple(sorted(int(c) for c in cols[b * width : (b + 1) * width])) for b in range(bands)]
    return out


def _close_pairs(
    key: np.ndarray, rows: np.ndarray, width: int, sig: np.ndarray, low: np.ndarray, thr: float
) -> list[np.ndarray]:
    """Pairs of `rows` (sorted by `key`) with equal keys at most `width - 1` places apart and similarity >= `thr`, as
    (earlier row) * N + later row. Each pair is first compared on `low`, the signatures' low bytes (a quarter of the
    table: at 100,000 episodes the full one, 12.8 MB, is past the caches and its comparisons took 0.37 of 1.2 CPU-s
    against 0.009 at 10,000), which never under-count equal hashes, then the few that pass on the full signatures."""
    out: list[np.ndarray] = []
    n = np.int64(len(sig))
    for off in range(1, width):
        i = np.flatnonzero(key[off:] == key[:-off])
        if not len(i):
            break
        a, b = rows[i], rows[i + off]
        near = (low[a] == low[b]).mean(axis=1) >= thr  # equal hashes have equal low bytes: a superset
        a, b = a[near], b[near]
        exact = (sig[a] == sig[b]).mean(axis=1) >= thr
        a, b = a[exact], b[exact]
        out.append(np.minimum(a, b).astype(np.int64) * n + np.maximum(a, b))
    return out


def _similarity(sig: np.ndarray, f: np.ndarray, s: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """`similarity` of rows f[k] and s[k] of `sig`, a chunk of pairs at a time (two [chunk, M] gathers held)."""
    out = np.empty(len(f))
    for i in range(0, len(f), chunk):
        out[i : i + chunk] = (sig[f[i : i + chunk]] == sig[s[i : i + chunk]]).mean(axis=1)
    return out


def near_duplicates(
    signatures: np.ndarray,
    config: BehaviourConfig,
    threshold: float | None = None,
    max_bucket: int = MAX_BUCKET,
    window: int = IDENTICAL_WINDOW,
) -> DuplicatePairs:
    """Pairs of rows of an (N, M) uint32 signature table with estimated similarity >= threshold (default: the
    config's candidate bound), each pair once, earlier row first.

    Candidates share every value of a band (LSH, `band_layout`). A band bucket larger than `max_bucket` (many
    repetitions of one task pass through the same levels) is not expanded into all its pairs: its members are split
    by one more min-hash at a time (the ones after the band's, cyclically) until each part is at most `max_bucket`,
    so a copy (similarity near 1) stays with its original while repetitions part; at most N x max_bucket / 2 pairs
    per band, near-linear in N. A part no hash splits (identical signatures: rare among repetitions, common where a
    dataset was copied whole) pairs each member with its `window - 1` neighbours (at least `max_bucket - 1`); the
    pairs it leaves uncompared are counted in `unjudged_pairs`."""
    window = max(window, max_bucket)
    sig = np.ascontiguousarray(signatures, dtype=np.uint32)
    n, m = sig.shape
    thr = config.duplicate_candidate_similarity if threshold is None else threshold
    empty = (sig == 0xFFFFFFFF).all(axis=1)
    live = np.flatnonzero(~empty)
    low = (sig & 0xFF).astype(np.uint8)  # `_close_pairs`' first comparison
    found: list[np.ndarray] = []  # (earlier row) * n + later row of pairs above the threshold, per band and part
    refined = unjudged = 0
    unjudged_rows = unjudged_sizes = np.zeros(0, np.int64)
    for b, cols in enumerate(band_layout(m, config.fingerprint_bands, config.fingerprint_band_pairings)):
        # each part's pairs judged by similarity as they are formed: memory holds the candidates, not every pair; a
        # row sits in one part of a band, so a band's pairs are distinct: `np.unique` only over the candidates, at
        # the end (over every band's pairs it took 3 of 4.7 CPU-s at 100,000 episodes)
        key = np.zeros(len(live), np.uint64)
        for j in cols:
            key = _mix(key ^ sig[live, j].astype(np.uint64) ^ np.uint64(j << 40))
        rows = live
        after = max(cols) + 1
        extra = sorted((k for k in range(m) if k not in cols), key=lambda k: (k - after) % m)  # cyclically after
        for step in range(len(extra) + 1):
            order = np.argsort(key, kind="stable")
            key, rows = key[order], rows[order]
            starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
            sizes = np.diff(np.concatenate([starts, [len(key)]]))
            big = np.repeat(sizes > max_bucket, sizes)
            if step == len(extra) or not big.any():  # every hash used: what is left pairs with its neighbours
                found += _close_pairs(key, rows, window, sig, low, thr)
                if b == 0:  # the same identical signatures in every band: counted once
                    wide = sizes > window
                    s_, w = sizes[wide].astype(np.int64), window - 1
                    unjudged = int((s_ * (s_ - 1) // 2 - (w * s_ - w * (w + 1) // 2)).sum())
                    beyond = np.repeat(wide, sizes)
                    unjudged_rows, unjudged_sizes = rows[beyond], np.repeat(sizes, sizes)[beyond]
                break
            if step == 0:
                refined += int((sizes > max_bucket).sum())
            found += _close_pairs(key[~big], rows[~big], max_bucket, sig, low, thr)  # buckets small enough: expanded
            h = extra[step]
            key, rows = key[big], rows[big]
            key = _mix(key ^ sig[rows, h].astype(np.uint64) ^ np.uint64(h << 40))
    pairs = np.unique(np.concatenate(found)) if found else np.zeros(0, np.int64)
    f, s = pairs // n, pairs % n
    sim = _similarity(sig, f, s)
    return DuplicatePairs(f, s, sim, refined, unjudged, int(empty.sum()), unjudged_rows, unjudged_sizes)
