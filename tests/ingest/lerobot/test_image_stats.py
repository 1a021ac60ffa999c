"""Camera statistics: the per-frame channel moments are exact, at any size and stride."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.lerobot.image_stats import ImageStats


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
