"""`adapters/undistort.py`: the maps are where the lens puts each output pixel's ray, the camera yields the source's
frames remapped then fitted, and a frame of another size than the lens's is named."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from adapters.base import CameraSource
from adapters.undistort import UndistortedCamera, Undistortion
from schemas.camera_model import KannalaBrandtCamera, PinholeCamera
from schemas.image_size import FrameFit

K = np.array([[80.0, 0.0, 31.5], [0.0, 80.0, 23.5], [0.0, 0.0, 1.0]])


class _Frames(CameraSource):
    def __init__(self, frames: list[np.ndarray]) -> None:
        super().__init__("cam", None, np.arange(len(frames)) / 10.0, *frames[0].shape[:2])
        self._frames = frames

    def frames(self, indices: list[int] | None = None, fit: FrameFit | None = None) -> Iterator[tuple[int, np.ndarray]]:
        assert fit is None  # the source is always read at its own size: undistorted first, fitted after
        for i, f in enumerate(self._frames):
            if indices is None or i in indices:
                yield i, f


def _noise(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (48, 64, 3), dtype=np.uint8)


def test_a_pinhole_to_itself_is_the_identity() -> None:
    how = Undistortion(PinholeCamera.from_matrix(K, (48, 64)), K, (48, 64))
    frame = _noise(0)
    assert np.array_equal(how.apply(frame), frame)


def test_the_maps_are_the_lens_projection_of_each_output_ray() -> None:
    lens = KannalaBrandtCamera(width=64, height=48, fx=70, fy=70, cx=32, cy=24, k1=0.1, k2=-0.02, k3=0.0, k4=0.0)
    mx, my = Undistortion(lens, K, (48, 64)).maps()
    ray = np.linalg.inv(K) @ np.array([50.0, 10.0, 1.0])
    assert (mx[10, 50], my[10, 50]) == pytest.approx(tuple(lens.project(ray)), abs=1e-4)


def test_the_camera_remaps_then_fits_and_keeps_the_source_times() -> None:
    lens = KannalaBrandtCamera(width=64, height=48, fx=70, fy=70, cx=32, cy=24, k1=0.1, k2=-0.02, k3=0.0, k4=0.0)
    how = Undistortion(lens, K, (48, 64), interpolation=cv2.INTER_CUBIC)
    source = _Frames([_noise(1), _noise(2)])
    cam = UndistortedCamera(source, how)
    fit = FrameFit.make((48, 64), (24, 32), "squash", interpolation="area")
    ((i, got),) = cam.frames([1], fit)
    want = cv2.resize(how.apply(_noise(2)), (32, 24), interpolation=cv2.INTER_AREA)
    assert i == 1 and np.array_equal(got, want)
    assert np.array_equal(cam.timestamps, source.timestamps) and np.array_equal(cam.intrinsics, K)


def test_a_frame_of_another_size_is_named() -> None:
    how = Undistortion(PinholeCamera.from_matrix(K, (48, 64)), K, (48, 64))
    with pytest.raises(ValueError, match=r"frame of \(32, 32\) where the lens is for \(48, 64\)"):
        how.apply(np.zeros((32, 32, 3), np.uint8))
