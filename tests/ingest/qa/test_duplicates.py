"""Fingerprints and the LSH near-duplicate search: copies are candidates, distinct motions apart, each pair once
(a candidate is verified on the signals: test_copies)."""

from __future__ import annotations

import numpy as np

from benchmarks.duplicates_real import COPIES, GR00T, episodes, grid
from ingest.canonical.limits import DimLimits
from ingest.qa.duplicates import fingerprint, level_tokens, minhash, near_duplicates, similarity
from schemas.behaviour import BehaviourConfig
from tests.realdata import realdata

CFG = BehaviourConfig()
LIM = DimLimits(np.full(3, -1.0), np.full(3, 1.0), ("rad",) * 3)


def walk(seed: int, n: int = 300) -> np.ndarray:
    """A smooth random motion of three joints at 30 fps."""
    rng = np.random.default_rng(seed)
    return np.clip(np.cumsum(rng.normal(0, 0.01, (n, 3)), axis=0), -1, 1)


def test_minhash_estimates_jaccard() -> None:
    a = np.arange(1000, dtype=np.uint64)
    b = np.arange(500, 1500, dtype=np.uint64)  # Jaccard 500 / 1500 = 1/3
    est = similarity(minhash(a, 256), minhash(b, 256))
    assert abs(est - 1 / 3) < 0.1


def test_copy_resampled_and_trimmed_is_similar_distinct_walks_are_not() -> None:
    x = walk(1)
    sig = fingerprint(x, 30.0, LIM, CFG)
    copy = x[10:].astype(np.float32).astype(np.float64)
    assert similarity(sig, fingerprint(copy, 30.0, LIM, CFG)) >= CFG.duplicate_candidate_similarity
    half_rate = x[::2]  # the same demonstration stored at 15 fps
    assert similarity(sig, fingerprint(half_rate, 15.0, LIM, CFG)) >= CFG.duplicate_candidate_similarity
    assert similarity(sig, fingerprint(walk(2), 30.0, LIM, CFG)) < 0.3


def test_real_recordings_copies_made_as_copies_are_made_are_candidates_distinct_ones_are_not() -> None:
    """The five real GR00T PickNPlace recordings (one task) on the 10 Hz grid, and copies of each made the ways
    `benchmarks.duplicates_real` makes them: every copy reaches the candidate bar, no two recordings come near it.
    The level trigrams before the turn levels gave re-gridded copies 0.28 and two recordings 0.31."""
    eps, fps = episodes(realdata(GR00T))
    lim = DimLimits.observed(np.concatenate(eps))
    sig = [fingerprint(grid(e, fps), 10.0, lim, CFG) for e in eps]
    distinct = [similarity(sig[i], sig[j]) for i in range(len(eps)) for j in range(i + 1, len(eps))]
    assert max(distinct) <= 0.15
    for how, make in COPIES.items():
        found = [similarity(sig[i], fingerprint(make(e, fps), 10.0, lim, CFG)) for i, e in enumerate(eps)]
        assert min(found) >= CFG.duplicate_candidate_similarity, (how, found)


def test_motionless_episode_has_the_empty_signature_and_is_never_paired() -> None:
    still = np.zeros((100, 3))
    assert len(level_tokens(still, 30.0, LIM, CFG)) == 0
    sigs = np.stack([fingerprint(still, 30.0, LIM, CFG)] * 3 + [fingerprint(walk(3), 30.0, LIM, CFG)])
    pairs = near_duplicates(sigs, CFG)
    assert len(pairs.first) == 0 and pairs.empty == 3


def test_search_finds_planted_pairs_once_among_random_rows() -> None:
    rng = np.random.default_rng(0)
    sigs = rng.integers(0, 2**32, (5000, CFG.fingerprint_hashes), dtype=np.uint64).astype(np.uint32)
    sigs[4000] = sigs[17]  # exact copy
    sigs[4500] = sigs[300]
    sigs[4500, :4] ^= 1  # 4 of 32 hashes differ: similarity 0.875
    pairs = near_duplicates(sigs, CFG)
    found = {(int(a), int(b)): float(s) for a, b, s in zip(pairs.first, pairs.second, pairs.similarity, strict=True)}
    assert found == {(17, 4000): 1.0, (300, 4500): 0.875}


def test_a_large_bucket_is_split_not_skipped_and_identical_rows_beyond_it_are_counted() -> None:
    rng = np.random.default_rng(1)
    m = CFG.fingerprint_hashes
    # 600 repetitions of one task: every band value shared, the rest of each signature its own
    sigs = rng.integers(0, 2**32, (600, m), dtype=np.uint64).astype(np.uint32)
    sigs[:, : m // CFG.fingerprint_bands] = 7
    sigs[599] = sigs[10]
    sigs[599, -1] ^= 1  # a copy: 31 of 32 hashes equal
    pairs = near_duplicates(sigs, CFG, max_bucket=16)
    found = set(zip(pairs.first.tolist(), pairs.second.tolist(), strict=True))
    assert (10, 599) in found and pairs.refined_buckets == 1 and pairs.unjudged_pairs == 0
    # 100 identical signatures: no hash splits them; each compared with its 15 neighbours, the rest counted
    same = np.repeat(sigs[:1], 100, axis=0)
    pairs = near_duplicates(same, CFG, max_bucket=4, window=16)
    assert len(pairs.first) == 15 * 100 - 15 * 16 // 2
    assert pairs.unjudged_pairs == 100 * 99 // 2 - len(pairs.first)
    assert sorted(pairs.unjudged_rows.tolist()) == list(range(100)) and set(pairs.unjudged_sizes.tolist()) == {100}
