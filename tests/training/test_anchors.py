"""Where a sample may anchor (training/anchors.py): the chunk and the future latent it needs."""

from __future__ import annotations

import numpy as np

from training.anchors import anchors


def test_anchors_need_a_chunk_and_a_future() -> None:
    frames = np.arange(0, 40, 2)
    anchor, future = anchors(frames, length=40, chunk=16, future_offset=16)
    assert frames[anchor].tolist() == list(range(0, 23, 2))  # t + 16 must still have a latent (<= 38)
    assert (frames[future] >= frames[anchor] + 16).all() and (frames[future] - frames[anchor] < 18).all()
