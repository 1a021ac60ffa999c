"""v2.1 numeric statistics (`adapters/lerobot_format/stats.py` `numeric_stats`): float64 moments, never written
non-finite."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.lerobot_format.stats import numeric_stats, stats_bound


def test_numeric_stats_are_computed_in_float64_and_never_written_non_finite() -> None:
    """Review 7 i02b: float32 actions of +-3e38 gave `std: Infinity` (the square overflows float32). In float64 the
    std is the values' own 3e38; a stat that overflows even there (float64 values past 1e154) raises, naming the
    first frame past the bound, so it never reaches `episodes_stats.jsonl`."""
    big = np.where(np.arange(20) % 2, 3e38, -3e38).astype(np.float32)[:, None] * np.ones((1, 3), np.float32)
    stats = numeric_stats(big)
    assert np.isfinite(stats.std).all() and stats.std == pytest.approx([3e38] * 3, rel=1e-6)
    assert numeric_stats(np.ones((4, 2), np.float32)).std == [0.0, 0.0]
    huge = np.zeros((10, 2))
    huge[6:, 1] = [1e300, -1e300, 1e300, -1e300]
    with pytest.raises(ValueError, match="first at frame 6: 1e\\+300"):
        numeric_stats(huge)


def test_the_bound_is_where_a_deviation_squared_overflows_the_dtype() -> None:
    bound = stats_bound(np.dtype(np.float32))
    assert bound == pytest.approx(9.22e18, rel=1e-3)
    assert np.isfinite(np.std(np.array([bound, -bound], np.float32)))  # lerobot's own reduction, in float32
    assert not np.isfinite(np.std(np.array([3e38, -3e38], np.float32)))
    assert stats_bound(np.dtype(np.int64)) is None
