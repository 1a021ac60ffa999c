"""Batched per-episode stats (`adapters/lerobot_format/stats.py`): every episode of a batch equal bit for bit to
lerobot 0.6.1's `compute_episode_stats` of that episode alone (run by the v3.0 oracle), on episodes of 1, 2 and up
to 1000 rows, both summation paths (row after row for many episodes, per episode for few long ones), the delicate
columns of `test_stats_v30` and an N-D feature; the batch aggregate equal to lerobot's formulas episode by episode."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from adapters.lerobot_format.stats import aggregate_arrays, aggregate_stats, batch_stats, episode, episode_stats


def _batch(lengths: list[int], nd: bool) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(len(lengths))
    r = int(sum(lengths))
    ulp = np.float32(6.1035156e-05)  # float32 spacing at 1000: a few-ulp range repeats histogram edges
    cols = {
        "state": np.cumsum(rng.normal(scale=0.05, size=(r, 50)), axis=0).astype(np.float32),
        "timestamp": (np.arange(r) / 10).astype(np.float32),
        "index": np.arange(r, dtype=np.int64),
        "few_ulps": np.float32(1000) + rng.integers(0, 8, size=(r, 3)).astype(np.float32) * ulp,
        "flag": rng.random(r) < 0.3,
        "constant": np.full((r, 4), 0.5, np.float32),
        "many_zeros": np.where(rng.random((r, 6)) < 0.5, 0, rng.normal(size=(r, 6))).astype(np.float32),
        "heavy_tail": (rng.standard_cauchy(size=(r, 4)) * 100).astype(np.float32),
    }
    if nd:
        cols["keypoints"] = rng.normal(size=(r, 2, 21, 3)).astype(np.float32)
    return cols


CASES = {
    "few_long": ([300, 1, 2, 250, 377, 5, 1000], False),  # per-episode sums; one- and two-row episodes
    "many": ([int(n) for n in np.random.default_rng(0).integers(2, 120, size=60)], True),  # row-after-row sums
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_batch_equals_lerobot_061_per_episode(case: str, run_oracle_v30, tmp_path: Path) -> None:
    lengths, nd = CASES[case]
    cols = _batch(lengths, nd)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    runs = list(enumerate(zip(starts, lengths, strict=True)))
    slices = {f"{name}@{i}": v[a : a + n] for name, v in cols.items() for i, (a, n) in runs}
    np.savez(tmp_path / "in.npz", **slices)
    run_oracle_v30("feature-stats", tmp_path / "in.npz", tmp_path / "theirs.pkl")
    theirs = pickle.loads((tmp_path / "theirs.pkl").read_bytes())
    ours = batch_stats(cols, np.array(lengths))
    for i in range(len(lengths)):
        got = episode(ours, i)
        for name in cols:
            expected = theirs[f"{name}@{i}"]
            assert list(got[name]) == list(expected), (name, i)
            for stat, value in expected.items():
                assert got[name][stat].shape == np.shape(value), (name, i, stat)
                assert got[name][stat].tolist() == np.asarray(value).tolist(), (name, i, stat)


def test_batch_equals_episode_stats_and_aggregates_as_lerobot() -> None:
    lengths = [int(n) for n in np.random.default_rng(5).integers(2, 400, size=200)]
    cols = _batch(lengths, nd=False)
    batch = batch_stats(cols, np.array(lengths))
    per_episode = []
    a = 0
    for i, n in enumerate(lengths):
        ref = episode_stats({k: v[a : a + n] for k, v in cols.items()})
        a += n
        got = episode(batch, i)
        assert all(got[f][k].tolist() == np.asarray(ref[f][k]).tolist() for f in ref for k in ref[f]), i
        per_episode.append(ref)
    theirs, ours = aggregate_stats(per_episode), {name: aggregate_arrays(s) for name, s in sorted(batch.items())}
    assert list(theirs) == list(ours)
    for f in theirs:
        assert list(theirs[f]) == list(ours[f])
        for k in theirs[f]:  # one sum over all episodes, the same formula: the same bits
            assert np.asarray(ours[f][k]).tolist() == np.asarray(theirs[f][k]).tolist(), (f, k)


def test_one_row_nd_episode_is_refused() -> None:
    cols = {"keypoints": np.zeros((3, 2, 3), np.float32)}
    with pytest.raises(ValueError, match="keypoints"):
        batch_stats(cols, np.array([2, 1]))
