"""UmeTrack hand model (`adapters/hot3d/umetrack.py`) on the maker's profile layout: the right hand is the mirror
image of the left, and bent joints curl the fingertips towards the palm (-z)."""

from __future__ import annotations

import numpy as np

from adapters.hot3d.umetrack import UmeTrackProfile, mirror_right
from adapters.synthetic.hot3d import umetrack_profile
from schemas.canonical import MANO21_NAMES

WRIST, INDEX_TIP = MANO21_NAMES.index("wrist"), MANO21_NAMES.index("index_tip")


def test_umetrack_skinning_mirrors_the_right_hand_and_flexes_towards_the_palm() -> None:
    profile = UmeTrackProfile(umetrack_profile()["hand_model"])
    wrist = np.eye(4)[None]
    rest = profile.mano21(np.zeros((1, 20)), wrist)[0]
    right = profile.mano21(np.zeros((1, 20)), mirror_right(wrist))[0]
    np.testing.assert_allclose(right * [-1, 1, 1], rest, atol=1e-12)  # the right hand is the mirror image
    bent = profile.mano21(np.where(np.arange(20) % 4 == 0, 0.0, 0.6)[None], wrist)[0]
    assert bent[INDEX_TIP, 2] < rest[INDEX_TIP, 2] - 0.02  # the palm faces -z: fingertips curl that way
    assert np.linalg.norm(bent[INDEX_TIP] - bent[WRIST]) < np.linalg.norm(rest[INDEX_TIP] - rest[WRIST])
