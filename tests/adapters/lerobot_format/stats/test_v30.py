"""Quantile stats (`adapters/lerobot_format/stats.py`) against lerobot 0.6.1's own `compute_episode_stats`, run by the
v3.0 oracle on the same arrays: equal bit for bit, on the cases its histogram makes delicate (constant columns, float32
ranges a few ulps wide where edges repeat, booleans, int64 promoted to float64, one or two rows, N-D features)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from adapters.lerobot_format.stats import QUANTILE_KEYS, aggregate_stats, episode_stats


def _cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    ulp = np.float32(6.1035156e-05)  # float32 spacing at 1000
    return {
        "state": rng.normal(size=(300, 50)).astype(np.float32),
        "scalar": rng.normal(size=(37,)).astype(np.float32),
        "constant": np.full((20, 4), 0.5, np.float32),
        "few_ulps": (np.float32(1000) + rng.integers(0, 8, size=(50, 3)).astype(np.float32) * ulp),
        "int64": np.arange(123, dtype=np.int64) * 3 - 7,
        "bool": rng.random(40) < 0.3,
        "keypoints": rng.normal(size=(25, 2, 21, 3)).astype(np.float32),
        "one_row": rng.normal(size=(1, 5)).astype(np.float32),
        "one_row_nd": rng.normal(size=(1, 2, 3)).astype(np.float32),
        "two_rows": rng.normal(size=(2, 5)).astype(np.float32),
        "many_zeros": np.where(rng.random((100, 6)) < 0.5, 0, rng.normal(size=(100, 6))).astype(np.float32),
        "heavy_tail": (rng.standard_cauchy(size=(500, 4)) * 100).astype(np.float32),
    }


def feature_stats(values: np.ndarray) -> dict[str, np.ndarray]:
    """lerobot 0.6.1 `get_feature_stats(values, axis=0, keepdims=values.ndim == 1)` of one numeric feature."""
    return episode_stats({"": values})[""]


def test_feature_stats_equal_lerobot_061(run_oracle_v30, tmp_path: Path) -> None:
    cases = _cases()
    np.savez(tmp_path / "in.npz", **cases)
    run_oracle_v30("feature-stats", tmp_path / "in.npz", tmp_path / "theirs.pkl")
    theirs = pickle.loads((tmp_path / "theirs.pkl").read_bytes())
    for name, values in cases.items():
        ours = feature_stats(values)
        assert sorted(ours) == sorted(theirs[name]), name
        for stat, expected in theirs[name].items():
            got = np.asarray(ours[stat])
            assert got.shape == expected.shape, (name, stat, got.shape, expected.shape)
            assert got.tolist() == np.asarray(expected).tolist(), (name, stat)


def test_quantiles_follow_the_data() -> None:
    """Physical sense, independent of lerobot: ordered, inside [min, max], near numpy's exact quantiles."""
    x = np.random.default_rng(3).normal(size=(4000, 3)).astype(np.float32)
    s = feature_stats(x)
    qs = np.stack([s[k] for k in QUANTILE_KEYS])
    assert (np.diff(qs, axis=0) >= 0).all()
    assert (qs >= s["min"]).all() and (qs <= s["max"]).all()
    # the q * n-th smallest value's neighbourhood, widened by one histogram bin (lerobot's 5000-bin resolution)
    srt = np.sort(x, axis=0)
    width = (s["max"] - s["min"]) / 5000
    for q, got in zip([0.01, 0.1, 0.5, 0.9, 0.99], qs, strict=True):
        k = int(np.ceil(q * len(x)))
        assert (got >= srt[k - 2] - width).all() and (got <= srt[k] + width).all(), q


def test_aggregate_weights_by_count() -> None:
    a = feature_stats(np.zeros((10, 2), np.float32))
    b = feature_stats(np.ones((30, 2), np.float32))
    agg = aggregate_stats([{"x": a}, {"x": b}])["x"]
    assert agg["count"].tolist() == [40]
    assert np.allclose(agg["mean"], 0.75) and np.allclose(agg["q50"], 0.75)
    assert np.allclose(agg["std"], np.std(np.r_[np.zeros(10), np.ones(30)]))
