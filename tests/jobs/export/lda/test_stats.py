"""`meta/stats_gr00t.json` (`jobs/export/lda/stats.py`): exactly LDA's statistics of the values given in batches."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jobs.export.lda.stats import ColumnStats, dumps
from schemas.lda import STATS_KEYS


def test_batches_give_the_statistics_of_all_frames() -> None:
    rng = np.random.default_rng(3)
    batches = [rng.normal(size=(n, 4)).astype(np.float32) for n in (7, 1, 30)]
    batches[1][:] = 0  # zeros count as frames, as in LDA's own computation
    stats = ColumnStats({"a": 4, "empty": 2})
    for b in batches:
        stats.add({"a": b})
    got = stats.result()
    assert set(got) == {"a"}  # a column without frames is left out
    x = np.concatenate(batches).astype(np.float64)
    assert set(got["a"]) == set(STATS_KEYS)
    np.testing.assert_array_equal(got["a"]["min"], x.min(0))
    np.testing.assert_array_equal(got["a"]["max"], x.max(0))
    np.testing.assert_allclose(got["a"]["mean"], x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(got["a"]["std"], x.std(0), rtol=1e-9)
    np.testing.assert_array_equal(got["a"]["q01"], np.quantile(x, 0.01, axis=0))
    np.testing.assert_array_equal(got["a"]["q99"], np.quantile(x, 0.99, axis=0))
    assert json.loads(dumps(got)) == got


def test_non_finite_statistics_are_refused() -> None:
    with pytest.raises(ValueError, match=r"a\.mean"):
        dumps({"a": {"mean": [float("nan")], "std": [1.0]}})
