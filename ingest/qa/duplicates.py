"""Content fingerprints of episodes and the near-duplicate search over a catalog of them.

Fingerprint: the set of per-dim level trigrams of the episode's motion, min-hashed. Each moving arm dim is smoothed
by a centred moving average of 1/`fingerprint_rate_hz` s, quantised in steps of `fingerprint_step` of its limit range
(at most `fingerprint_step_m` for a metre dim: a canonical wrist's range is a workspace of metres), and run-length
compressed: the sequence of levels a dim passes through does not depend on the frame rate, a trimmed start or a
re-encoding, so a copy of a demonstration shares almost all its tokens with the original, while two demonstrations of
the same task differ in their paths. Min-hashes (multiply-shift hashing on uint64) of the tokens estimate the Jaccard
similarity of two token sets. Cost: O(N x D) per episode, a few microseconds per frame; 32 uint32 values per episode.

Search: LSH banding over the signatures: episodes whose band values all agree in at least one band are candidates,
verified by their signature similarity. One sort per band: O(B N log N), about a second per band at a million rows
(`benchmarks/behaviour.py`). A band bucket larger than `max_bucket` (a degenerate signature shared by thousands of
motionless episodes) is not expanded into pairs but reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.qa.state import DimLimits, _finite_span, _in_use, min_move
from schemas.behaviour import BehaviourConfig

_SEED = 20261122


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


def level_tokens(values: np.ndarray, fps: float, limits: DimLimits, config: BehaviourConfig) -> np.ndarray:
    """The episode's token set as unique uint64 hashes of (dim, level, next, after) over its moving dims."""
    v = np.asarray(values, np.float64)
    use = _in_use(limits) & ~limits.resting  # a gripper's two levels say little about which demonstration it is
    step = config.fingerprint_step * _finite_span(limits)
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
        q = q[np.concatenate([[True], q[1:] != q[:-1]])]  # run-length compressed levels
        if len(q) < 3:
            continue
        with np.errstate(over="ignore"):
            h = _mix(np.uint64(d + 1) * np.uint64(0x9E3779B97F4A7C15) + q[:-2].astype(np.uint64))
            h = _mix(h ^ q[1:-1].astype(np.uint64))
            h = _mix(h ^ q[2:].astype(np.uint64))
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
    skipped_buckets: int  # band buckets above max_bucket, not expanded
    empty: int  # rows without motion (no tokens), never paired


def near_duplicates(
    signatures: np.ndarray, config: BehaviourConfig, threshold: float | None = None, max_bucket: int = 64
) -> DuplicatePairs:
    """Pairs of rows of an (N, M) uint32 signature table with estimated similarity >= threshold (default: the
    config's candidate bound), each pair once, earlier row first."""
    sig = np.ascontiguousarray(signatures, dtype=np.uint32)
    n, m = sig.shape
    thr = config.duplicate_candidate_similarity if threshold is None else threshold
    bands = config.fingerprint_bands
    rows = m // bands
    empty = (sig == 0xFFFFFFFF).all(axis=1)
    live = np.flatnonzero(~empty)
    firsts, seconds = [], []
    skipped = 0
    for b in range(bands):
        part = sig[live, b * rows : (b + 1) * rows].astype(np.uint64)
        key = np.zeros(len(live), np.uint64)
        for j in range(rows):
            key = _mix(key ^ part[:, j] ^ np.uint64(j << 40))
        order = np.argsort(key, kind="stable")
        k = key[order]
        starts = np.flatnonzero(np.concatenate([[True], k[1:] != k[:-1]]))
        sizes = np.diff(np.concatenate([starts, [len(k)]]))
        big = sizes > max_bucket
        skipped += int(big.sum())
        ok = np.repeat(~big, sizes)  # members of buckets small enough to expand
        for off in range(1, int(sizes[~big].max(initial=1))):
            i = np.flatnonzero(ok[:-off] & (k[off:] == k[:-off]) & ok[off:])
            if not len(i):
                break
            firsts.append(live[order[i]])
            seconds.append(live[order[i + off]])
    if not firsts:
        z = np.zeros(0, np.int64)
        return DuplicatePairs(z, z, np.zeros(0), skipped, int(empty.sum()))
    f, s = np.concatenate(firsts), np.concatenate(seconds)
    f, s = np.minimum(f, s), np.maximum(f, s)
    pair = np.unique(f.astype(np.int64) * n + s)
    f, s = pair // n, pair % n
    sim = (sig[f] == sig[s]).mean(axis=1)
    keep = sim >= thr
    return DuplicatePairs(f[keep], s[keep], sim[keep], skipped, int(empty.sum()))
