"""EgoDex after canonicalize, on the fixture written the way Apple's code reads the files (camera poses in OpenCV
axes, `adapters/synthetic/egodex.py`): physical invariants of the canonical egocentric frame (x = the wearer's
heading, y = left, z = up), not a re-run of the formulas. Hands are in front of the wearer, below the eyes, the left
one on the left, of human size."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.registry import get_adapter
from adapters.synthetic.egodex import EgoDexFixture, write_egodex
from ingest.episode import CanonicalEpisode
from ingest.frames import pos_rot6d_to_pose
from schemas.canonical import MANO21_NAMES, WRIST_POS, hand_dims
from schemas.canonicalize import CanonicalizeSpec
from tests.fixtures.offline import prepared

WRIST, MIDDLE_TIP = MANO21_NAMES.index("wrist"), MANO21_NAMES.index("middle_tip")
LEFT, RIGHT = 0, 1


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> EgoDexFixture:
    return write_egodex(tmp_path_factory.mktemp("egodex"), episodes_per_task=2, num_frames=60)


@pytest.fixture(scope="module")
def episodes(fixture: EgoDexFixture) -> list[CanonicalEpisode]:
    adapter = get_adapter("egodex")
    out = [ep for ref in adapter.discover(fixture.root) for ep in prepared(adapter.read(ref), CanonicalizeSpec())]
    assert len(out) == len(fixture.good) == 4
    return out


def _wrist(ep: CanonicalEpisode, hand: int) -> np.ndarray:
    return ep.state[:, hand_dims(hand, WRIST_POS)]


def _camera_height(ep: CanonicalEpisode) -> np.ndarray:
    return ep.natives.state[:, ep.natives.state_names.index("camera.z")]


def test_hands_are_in_front_of_the_wearer_and_below_the_eyes(episodes: list[CanonicalEpisode]) -> None:
    for ep in episodes:
        for hand in (LEFT, RIGHT):
            wrist = _wrist(ep, hand)
            assert np.median(wrist[:, 0]) > 0.1, f"{ep.uid} hand {hand}: wrist behind the wearer"
            assert (wrist[:, 2] < _camera_height(ep)).all(), f"{ep.uid} hand {hand}: wrist above the eyes"


def test_left_hand_is_on_the_left(episodes: list[CanonicalEpisode]) -> None:
    for ep in episodes:
        assert np.median(_wrist(ep, LEFT)[:, 1]) > np.median(_wrist(ep, RIGHT)[:, 1]), ep.uid
        assert np.median(ep.keypoints[:, LEFT, :, 1]) > np.median(ep.keypoints[:, RIGHT, :, 1]), ep.uid


def test_hands_are_of_human_size(episodes: list[CanonicalEpisode]) -> None:
    for ep in episodes:
        span = np.linalg.norm(ep.keypoints[:, :, MIDDLE_TIP] - ep.keypoints[:, :, WRIST], axis=-1)
        assert ((span > 0.12) & (span < 0.22)).all(), f"{ep.uid}: wrist to middle tip {span.min():.3f}.."


def test_the_camera_trajectory_looks_ahead_and_down(episodes: list[CanonicalEpisode]) -> None:
    """The stored camera trajectory is in OpenCV axes: its +z (viewing direction) points along the heading and
    down, its +y (image down) has a downward component, at the first frame and after."""
    for ep in episodes:
        cols = [ep.natives.state_names.index(f"camera.{c}") for c in ("x", "y", "z", *(f"rot6d_{i}" for i in range(6)))]
        cams = pos_rot6d_to_pose(ep.natives.state[:, cols].astype(np.float64))
        np.testing.assert_allclose(cams[0, :3, 3], 0, atol=1e-5)  # the reference frame starts at the eyes
        view, image_down = cams[:, :3, 2], cams[:, :3, 1]
        assert (view[:, 0] > 0.5).all() and (view[:, 2] < 0).all() and (image_down[:, 2] < 0).all()
