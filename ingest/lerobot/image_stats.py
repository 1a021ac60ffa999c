"""LeRobot's camera statistics (v2.1 and v3.0 alike, lerobot 0.3.3's `compute_episode_stats`): cameras sampled
(`estimate_num_samples`), strided to ~150 px when large, reduced per channel and divided by 255, giving (3,1,1), from
exact per-frame channel sums kept as the frames stream past. Numeric features: `adapters/lerobot_format/stats.py`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import cv2
import numpy as np

from schemas.lerobot import FeatureStats


def estimate_num_samples(n: int, min_num_samples: int = 100, max_num_samples: int = 10_000, power: float = 0.75) -> int:
    return max(min(n, min_num_samples), min(int(n**power), max_num_samples))


def sample_indices(n: int) -> list[int]:
    return np.round(np.linspace(0, n - 1, estimate_num_samples(n))).astype(int).tolist()


def downsample_stride(height: int, width: int, target: int = 150, threshold: int = 300) -> int:
    """lerobot's `auto_downsample_height_width` as a stride (1 = untouched)."""
    if max(height, width) < threshold:
        return 1
    return int(width / target) if width > height else int(height / target)


_LEVELS = np.arange(256, dtype=np.int64)


class ImageStats:
    """Exact per-frame channel histograms moments of a streamed camera, reduced over lerobot's sample at the end.

    With `expected_frames`, only the frames lerobot would sample are measured; frames outside that sample that turn
    out to be needed (the episode ended at another length) are measured from `refill` when finishing.
    """

    def __init__(self, height: int, width: int, expected_frames: int | None = None) -> None:
        self.stride = downsample_stride(height, width)
        self._wanted = set(sample_indices(expected_frames)) if expected_frames else None
        # frame index -> (min[3], max[3], sum[3], sumsq[3]) as python ints, and pixels per channel
        self._per_frame: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        self._pixels = 0
        self.frames = 0

    def add(self, rgb: np.ndarray) -> None:
        i = self.frames
        self.frames += 1
        if self._wanted is None or i in self._wanted:
            self._per_frame[i] = self.measure(rgb)

    def measure(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per channel of a uint8 frame: min, max, sum and sum of squares, exact, from its 256-level histogram."""
        x = rgb[:: self.stride, :: self.stride] if self.stride > 1 else rgb
        self._pixels = x.shape[0] * x.shape[1]
        # OpenCV's histogram is ~3x faster than a bincount per channel; its float32 counts are exact below 2**24
        hist = np.stack([cv2.calcHist([x], [c], None, [256], [0, 256]).reshape(256) for c in range(3)])
        hist = hist.astype(np.int64)
        seen = hist > 0
        mins, maxs = seen.argmax(axis=1), 255 - seen[:, ::-1].argmax(axis=1)
        return mins, maxs, hist @ _LEVELS, hist @ (_LEVELS * _LEVELS)

    def missing(self) -> list[int]:
        """Sample indices of the final length that were not measured (to be re-read and passed to `refill`)."""
        return [i for i in sample_indices(self.frames) if i not in self._per_frame] if self.frames else []

    def refill(self, frames: Iterable[tuple[int, np.ndarray]]) -> None:
        for i, rgb in frames:
            self._per_frame[i] = self.measure(rgb)

    def finish(self) -> FeatureStats:
        idx = sample_indices(self.frames)
        rows = [self._per_frame[i] for i in idx]
        mins = np.min([r[0] for r in rows], axis=0)
        maxs = np.max([r[1] for r in rows], axis=0)
        n = len(idx) * self._pixels
        # exact integer moments; lerobot's float64 two-pass result agrees to ~1e-15
        sums = [sum(int(r[2][c]) for r in rows) for c in range(3)]
        sqs = [sum(int(r[3][c]) for r in rows) for c in range(3)]
        mean = [s / n for s in sums]
        std = [math.sqrt(max(q * n - s * s, 0) / (n * n)) for s, q in zip(sums, sqs, strict=True)]

        def chw(v: Iterable[float]) -> list[list[list[float]]]:
            return [[[float(x) / 255.0]] for x in v]

        return FeatureStats(min=chw(mins), max=chw(maxs), mean=chw(mean), std=chw(std), count=[len(idx)])
