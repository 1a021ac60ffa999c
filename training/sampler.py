"""A weighted, infinite, resumable sample stream for one rank.

Draw number g (global across ranks) = position * world_size + rank, so ranks read disjoint draws and together see
one stream. Draws come in blocks: block b is `block` samples drawn with replacement by the sample weights from a
generator seeded (seed, b), so every block (and thus every epoch, rank and position) has its own seed, and the sample
at any position is recomputed from (seed, position) alone. Resuming = starting at the number of samples consumed;
nothing else about the sampler needs saving. Items are `(sample index, g)`: the dataset seeds its per-sample task
draw with g.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler

BLOCK = 1 << 16


class StreamSampler(Sampler[tuple[int, int]]):
    def __init__(
        self, weights: np.ndarray, *, seed: int, rank: int = 0, world_size: int = 1, start: int = 0, block: int = BLOCK
    ) -> None:
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 1 or not len(w) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError("sample weights must be a non-empty 1-D array of non-negative numbers with a positive sum")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world size {world_size}")
        self.cdf = np.cumsum(w) / w.sum()
        self.last = int(np.flatnonzero(w)[-1])
        self.seed, self.rank, self.world_size, self.start, self.block = seed, rank, world_size, start, block
        self._cached: tuple[int, np.ndarray] | None = None

    def _block(self, b: int) -> np.ndarray:
        if self._cached is None or self._cached[0] != b:
            u = np.random.default_rng([self.seed, b]).random(self.block)
            self._cached = (b, np.minimum(np.searchsorted(self.cdf, u, side="right"), self.last))
        return self._cached[1]

    def draw(self, position: int) -> tuple[int, int]:
        """(sample index, draw number) at this rank's `position` in the stream."""
        g = position * self.world_size + self.rank
        b, offset = divmod(g, self.block)
        return int(self._block(b)[offset]), g

    def epoch(self, position: int) -> float:
        """Passes over the index (all ranks together) made when this rank reaches `position`."""
        return position * self.world_size / len(self.cdf)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        position = self.start
        while True:
            yield self.draw(position)
            position += 1
