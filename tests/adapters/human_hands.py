"""The physical invariants a human source's canonical hands must meet (`ingest.qa.geometry` measures them): both
wrists ahead of the wearer, below the eyes, the left hand on the left, a human-sized hand whose bones keep their
length. Shared by the tests of the keypoint-hand sources (HoloAssist, Aria MPS, Ego-Exo4D ego-pose)."""

from __future__ import annotations

import numpy as np

from ingest.episode import CanonicalEpisode
from schemas.canonical import WRIST_POS, hand_dims


def assert_human_hands(episodes: list[CanonicalEpisode], below_eyes_m: float = 0.15) -> None:
    assert episodes
    for ep in episodes:
        eyes = ep.natives.state[:, ep.natives.state_names.index("camera.z")]
        wrists = {h: ep.state[:, hand_dims(h, WRIST_POS)] for h in (0, 1)}
        for w in wrists.values():
            assert np.median(w[:, 0]) > 0.15, ep.uid  # ahead of the wearer
            assert (w[:, 2] < eyes - below_eyes_m).all(), ep.uid  # below the eyes
        assert np.median(wrists[0][:, 1]) > np.median(wrists[1][:, 1]) and ep.qa.left_of_right == 1.0, ep.uid
        assert 0.15 < ep.qa.hand_length < 0.22 and ep.qa.bone_length_cv < 0.05, (ep.uid, ep.qa.hand_length)
