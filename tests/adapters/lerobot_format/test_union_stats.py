"""Exact union statistics by radix selection (`adapters/lerobot_format/union_stats.py`): equal to numpy on the masked,
finite values (quantiles bit for bit with `np.quantile`'s linear method, min/max exactly, mean/std to float64 rounding),
whatever the batching and order; ties, signs, subnormals, a dimension nobody uses, one value."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.lerobot_format import union_stats
from adapters.lerobot_format.stats import QUANTILE_KEYS, QUANTILES
from adapters.lerobot_format.union_stats import UnionStats, from_keys, order_keys


def _run(batches: list[tuple[np.ndarray, np.ndarray]], dim: int) -> dict[str, np.ndarray]:
    stats = UnionStats(dim)
    for values, used in batches:
        stats.add(values, used)
    return stats.result()


def _exact(batches: list[tuple[np.ndarray, np.ndarray]], d: int) -> np.ndarray:
    parts = [v[np.broadcast_to(u, v.shape)[:, d], d] for v, u in batches]
    vals = np.concatenate([np.zeros(0, np.float32), *parts]).astype(np.float64)
    return vals[np.isfinite(vals)]


def _batches(seed: int, dim: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    scale = rng.choice([1e-3, 1.0, 300.0], size=dim)
    out = []
    for _ in range(25):
        n = int(rng.integers(1, 200))
        v = (rng.normal(size=(n, dim)) * scale + rng.normal(size=dim)).astype(np.float32)
        v[:, 0] = np.round(v[:, 0])  # many ties
        v[:, 1] = np.abs(v[:, 1]) * -1  # negatives only
        v[rng.random((n, dim)) < 0.02] = np.nan
        v[:, 2] = np.float32(1e-42) * rng.integers(-3, 4, size=n)  # subnormals and both zeros
        used = rng.random((n, dim)) < 0.8 if rng.random() < 0.5 else rng.random(dim) < 0.8
        out.append((v, used))
    return out


@pytest.mark.parametrize(("seed", "buffer"), [(0, None), (1, None), (2, 100)])
def test_equal_to_numpy_on_the_used_finite_values(seed: int, buffer: int | None, monkeypatch) -> None:
    if buffer is not None:  # counted in many small batches: the moments merged batch by batch
        monkeypatch.setattr(union_stats, "BUFFER_VALUES", buffer)
    dim = 6
    batches = _batches(seed, dim)
    got = _run(batches, dim)
    for d in range(dim):
        vals = _exact(batches, d)
        want = np.quantile(vals, QUANTILES)
        assert [got[k][d] for k in QUANTILE_KEYS] == want.tolist(), d  # bit for bit
        assert got["count"][d] == len(vals) and got["min"][d] == vals.min() and got["max"][d] == vals.max()
        assert np.isclose(got["mean"][d], vals.mean(), rtol=1e-12, atol=1e-300)
        assert np.isclose(got["std"][d], vals.std(), rtol=1e-9, atol=1e-30)
    # the order of the batches does not matter
    again = _run(list(reversed(batches)), dim)
    assert all(np.array_equal(got[k], again[k], equal_nan=True) for k in (*QUANTILE_KEYS, "min", "max", "count"))


def test_a_dimension_nobody_uses_is_nan_and_one_value_is_every_quantile() -> None:
    values = np.array([[1.5, 7.0]], dtype=np.float32)
    got = _run([(values, np.array([True, False]))], 2)
    assert [got[k][0] for k in QUANTILE_KEYS] == [1.5] * 5 and got["std"][0] == 0.0
    assert got["count"][1] == 0 and all(np.isnan(got[k][1]) for k in (*QUANTILE_KEYS, "min", "mean"))


def test_keys_keep_the_order_of_floats() -> None:
    x = np.array([-np.inf, -3e38, -1.0, -1e-42, -0.0, 0.0, 1e-42, 1.0, 3e38, np.inf], dtype=np.float32)
    k = order_keys(x)
    assert (np.diff(k.astype(np.int64)) > 0).all()
    assert from_keys(k).tolist() == x.astype(np.float64).tolist()


def test_values_after_the_results_are_refused() -> None:
    stats = UnionStats(1)
    stats.add(np.ones((3, 1), np.float32), np.ones(1, bool))
    assert stats.result()["q50"][0] == 1.0
    with pytest.raises(RuntimeError, match="added after the results"):
        stats.add(np.ones((3, 1), np.float32), np.ones(1, bool))


@pytest.mark.parametrize("spool", [None, 64])
def test_groups_and_their_union_equal_numpy_each_value_counted_once(spool: int | None, monkeypatch) -> None:
    if spool is not None:  # the spilled keys go to a temporary file at once
        monkeypatch.setattr(union_stats, "SPOOL_BYTES", spool)
    dim = 6
    batches = {"a": _batches(3, dim), "b": _batches(4, dim)[:7], "c": []}
    stats = UnionStats(dim, groups=("a", "b", "c"))
    cells = []
    count_keys = union_stats._Group.count_keys

    def counted(self, keys, cols, pass_index):
        cells.append((pass_index, keys.size))
        return count_keys(self, keys, cols, pass_index)

    monkeypatch.setattr(union_stats._Group, "count_keys", counted)
    for name, group in batches.items():
        for values, used in group:
            stats.add(values, used, name)
    everything = [b for group in batches.values() for b in group]
    for name, group in (*batches.items(), ("", everything)):
        got = stats.result(name)
        for d in range(dim):
            vals = _exact(group, d)
            if not len(vals):
                assert got["count"][d] == 0 and np.isnan(got["q50"][d])
                continue
            assert [got[k][d] for k in QUANTILE_KEYS] == np.quantile(vals, QUANTILES).tolist(), (name, d)
            assert got["min"][d] == vals.min() and got["max"][d] == vals.max() and got["count"][d] == len(vals)
            assert np.isclose(got["mean"][d], vals.mean(), rtol=1e-12, atol=1e-300)
            assert np.isclose(got["std"][d], vals.std(), rtol=1e-9, atol=1e-30)
    # every value counted once per pass, for its group and the union together
    spilled = sum(v.size if u.ndim == 2 else len(v) * int(u.sum()) for v, u in everything)
    assert [sum(n for p, n in cells if p == k) for k in range(3)] == [spilled] * 3
