"""Camera statistics: the per-frame channel moments are exact, at any size and stride."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.lerobot.stats import ImageStats, numeric_stats, stats_bound


def _reference(rgb: np.ndarray, stride: int) -> list[np.ndarray]:
    x = rgb[::stride, ::stride].reshape(-1, 3).astype(np.int64)
    return [x.min(axis=0), x.max(axis=0), x.sum(axis=0), (x * x).sum(axis=0)]


@pytest.mark.parametrize(("height", "width"), [(224, 224), (48, 64), (480, 640), (1080, 1920)])
def test_measure_gives_exact_channel_moments(height: int, width: int) -> None:
    stats = ImageStats(height, width)
    rng = np.random.default_rng(height)
    frames = [
        rng.integers(0, 256, (height, width, 3), dtype=np.uint8),
        rng.integers(17, 40, (height, width, 3), dtype=np.uint8),  # a narrow range: min and max inside 0..255
        np.zeros((height, width, 3), np.uint8),
        np.full((height, width, 3), 255, np.uint8),
    ]
    for rgb in frames:
        got = stats.measure(rgb)
        for g, want in zip(got, _reference(rgb, stats.stride), strict=True):
            np.testing.assert_array_equal(g, want)


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
