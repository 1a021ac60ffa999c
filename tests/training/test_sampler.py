"""The weighted stream sampler: determinism, resumption, rank sharding, weights."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from training.sampler import StreamSampler


def _take(sampler: StreamSampler, n: int) -> list[tuple[int, int]]:
    return list(itertools.islice(iter(sampler), n))


def test_same_seed_same_stream_other_seed_other_stream() -> None:
    w = np.ones(50)
    a, b = _take(StreamSampler(w, seed=1, block=16), 40), _take(StreamSampler(w, seed=1, block=16), 40)
    assert a == b
    assert [i for i, _ in a] != [i for i, _ in _take(StreamSampler(w, seed=2, block=16), 40)]


def test_resume_at_a_position_continues_the_stream() -> None:
    w = np.arange(1, 31, dtype=float)
    full = _take(StreamSampler(w, seed=3, block=8), 50)
    assert _take(StreamSampler(w, seed=3, block=8, start=37), 13) == full[37:]


def test_ranks_split_one_stream_disjointly() -> None:
    w = np.ones(20)
    single = _take(StreamSampler(w, seed=0, block=8), 60)
    r0 = _take(StreamSampler(w, seed=0, rank=0, world_size=2, block=8), 30)
    r1 = _take(StreamSampler(w, seed=0, rank=1, world_size=2, block=8), 30)
    assert r0 == single[0::2] and r1 == single[1::2]
    assert not {g for _, g in r0} & {g for _, g in r1}  # draw numbers (the per-sample seeds) never repeat


def test_blocks_and_epochs_get_new_draws() -> None:
    w = np.ones(8)
    s = _take(StreamSampler(w, seed=0, block=8), 32)
    blocks = [[i for i, _ in s[k : k + 8]] for k in range(0, 32, 8)]
    assert len({tuple(b) for b in blocks}) == 4
    assert StreamSampler(w, seed=0).epoch(16) == 2.0


def test_weights_set_frequencies_and_zero_is_never_drawn() -> None:
    w = np.array([0.0, 1.0, 3.0, 0.0])
    idx = np.array([i for i, _ in _take(StreamSampler(w, seed=0), 20_000)])
    assert set(np.unique(idx)) == {1, 2}
    assert abs((idx == 2).mean() - 0.75) < 0.02


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="weights"):
        StreamSampler(np.zeros(3), seed=0)
    with pytest.raises(ValueError, match="rank"):
        StreamSampler(np.ones(3), seed=0, rank=2, world_size=2)
