"""The posed camera (`ingest/canonical/posed.py`): its lens as stored, whichever model the source gave, and the share
of the hand samples outside its video, measured with one frame period of slack."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.base import CameraSource
from ingest.canonical.posed import hands_past_video, stored_lens
from ingest.episode import ResampledCamera
from schemas.camera_model import Fisheye624Camera, PinholeCamera
from schemas.canonical import Camera
from schemas.image_size import Fit, FrameFit

F624 = Fisheye624Camera.from_params((300.0, 320.0, 240.0, *[0.01] * 12), 640, 480)


class _Still(CameraSource):
    def frames(self, indices=None, fit=None):  # never decoded here
        raise AssertionError


def test_a_hand_track_inside_its_video_has_nothing_past_it() -> None:
    frames = np.arange(30) / 30.0
    assert hands_past_video([frames, frames[::2]], frames) == 0.0
    assert hands_past_video([frames + 0.9 / 30], frames) == 0.0  # rounded times: within one frame period


def test_hand_samples_past_the_video_are_counted_at_either_end() -> None:
    frames = np.arange(30) / 30.0
    hands = (np.arange(-5, 40) + 0.5) / 30.0  # 5 samples before the first frame, 11 after the last
    assert hands_past_video([hands], frames) == pytest.approx(14 / 45)  # 4 before and 10 after, past one period
    assert hands_past_video([], frames) is None and hands_past_video([hands], np.zeros(0)) is None


def test_the_stored_lens_is_the_sources_model_else_its_matrix() -> None:
    fish = _Still("cam", Camera.head, np.arange(3) / 30.0, 480, 640)
    fish.camera_model = F624
    half = FrameFit.make((480, 640), (240, 320), Fit.pad)
    lens = stored_lens(ResampledCamera(fish, np.arange(3), half))
    assert isinstance(lens, Fisheye624Camera) and (lens.width, lens.fx, lens.k0) == (320, 150.0, 0.01)
    K = np.array([[500.0, 0, 2000.0], [0, 500.0, 1500.0], [0, 0, 1]])  # for a 4000x3000 picture: kept as given
    pin = _Still("cam", Camera.head, np.arange(3) / 30.0, 480, 640, intrinsics=K)
    assert stored_lens(ResampledCamera(pin, np.arange(3))) == PinholeCamera.from_matrix(K, (480, 640))
    assert stored_lens(ResampledCamera(_Still("c", Camera.head, np.zeros(1), 4, 4), np.zeros(1, int))) is None
