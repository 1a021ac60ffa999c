"""The torch-free part of the Wan2.2 encoders: the frames a segment's latents sample and the latent grid."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.encoders.wan_config import latent_grid, sample_frame_ids
from tests.fixtures.wan import wan22_vae_config


@given(start=st.integers(0, 50), length=st.integers(0, 80), stride=st.integers(1, 6))
def test_frame_ids_are_strided_inside_the_segment_and_1_plus_4k(start: int, length: int, stride: int) -> None:
    end = start + length
    ids = sample_frame_ids(start, end, stride)
    available = len(range(start, end, stride))
    if available < 5:
        assert ids == []
        return
    assert (len(ids) - 1) % 4 == 0 and len(ids) > available - 4  # the largest 1 + 4k that fits
    assert ids[0] == start and all(b - a == stride for a, b in pairwise(ids)) and ids[-1] < end


def test_latent_grid_is_wan22s_compression() -> None:
    cfg = wan22_vae_config()
    assert latent_grid(33, 256, 256, cfg) == (9, 16, 16)
    with pytest.raises(ValueError, match="1 \\+ 4k"):
        latent_grid(32, 256, 256, cfg)
    with pytest.raises(ValueError, match="divisible by 16"):
        latent_grid(33, 250, 256, cfg)
