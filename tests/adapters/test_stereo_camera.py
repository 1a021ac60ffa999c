"""`StereoLeftCamera`: the left half of side-by-side frames, lazily, with Ego4D's resize of frames taller than wide."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from adapters.base import CameraSource
from adapters.cameras import StereoLeftCamera
from schemas.canonical import Camera


class ArrayCamera(CameraSource):
    """Frames from an array; records which indices were asked for."""

    def __init__(self, frames: np.ndarray, intrinsics: np.ndarray | None = None) -> None:
        self.data, self.asked = frames, []
        t = np.arange(len(frames)) / 30.0
        super().__init__("full_scale", Camera.head, t, frames.shape[1], frames.shape[2], intrinsics)

    def frames(self, indices: list[int] | None = None) -> Iterator[tuple[int, np.ndarray]]:
        self.asked.append(indices)
        for i in range(len(self.data)) if indices is None else indices:
            yield i, self.data[i]


def _side_by_side(n: int, h: int, w: int) -> np.ndarray:
    left = np.zeros((n, h, w, 3), np.uint8)
    left[..., 0] = 200  # red left eye, blue right eye
    right = np.zeros_like(left)
    right[..., 2] = 200
    return np.concatenate([left, right], axis=2)


def test_left_half_of_each_frame_lazily() -> None:
    k = np.array([[50.0, 0, 30], [0, 50, 20], [0, 0, 1]])
    inner = ArrayCamera(_side_by_side(4, 40, 60), intrinsics=k)
    cam = StereoLeftCamera(inner)
    assert inner.asked == []  # nothing decoded at construction
    assert (cam.height, cam.width, len(cam), cam.canonical) == (40, 60, 4, Camera.head)
    np.testing.assert_array_equal(cam.timestamps, inner.timestamps)
    np.testing.assert_array_equal(cam.intrinsics, k)  # the left half keeps its principal point
    got = list(cam.frames([1, 3]))
    assert [i for i, _ in got] == [1, 3] and inner.asked == [[1, 3]]
    for _, rgb in got:
        assert rgb.shape == (40, 60, 3) and rgb.flags.c_contiguous
        assert (rgb[..., 0] == 200).all() and (rgb[..., 2] == 0).all()  # left eye only


def test_frames_taller_than_wide_are_resized_as_ego4d_does() -> None:
    """CropIfStereo: the left half of a (H, W) = (48, 32) frame becomes (W // 2, H // 2) = (16, 24)."""
    cam = StereoLeftCamera(ArrayCamera(_side_by_side(2, 48, 16), intrinsics=np.eye(3)))
    assert (cam.height, cam.width, cam.intrinsics) == (16, 24, None)
    (_, rgb), _ = cam.frames()
    assert rgb.shape == (16, 24, 3) and (rgb[..., 0] == 200).all() and (rgb[..., 2] == 0).all()
