"""A distorted camera's frames made pinhole while they are decoded: each output pixel of a pinhole `K_new` is a ray,
projected through the source's lens model (`schemas.camera_model`, the models checked against their makers' code)
to where it lies in the distorted frame, and OpenCV's `cv2.remap` samples it there.

This is what the makers' undistortion scripts do once, writing a new video: OpenCV's `omnidir.initUndistortRectifyMap`
(RECTIFY_PERSPECTIVE, identity rotation) then `cv2.remap` for Ego4D, projectaria_tools' `distort_by_calibration`
(bilinear) for Aria (microsoft/VITRA@c68b65e:data/preprocessing/undistort_video.py,
undistort_video_egoexo4d.py). Here it is done per decoded frame, so the original video is read in place: the
episode's labels, made on the undistorted copy, fit the frames as they would have on that copy.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from adapters.base import CameraSource
from adapters.cameras import fit_rgb
from schemas.camera_model import CameraModel
from schemas.image_size import FrameFit


@dataclass(frozen=True)
class Undistortion:
    """From frames of `lens` to a pinhole `K_new` of (height, width) `out_hw`: `interpolation` a cv2.INTER_* flag;
    `fixed_point` the maps stored as OpenCV's CV_16SC2 (1/32 px steps), as the Ego4D script asks for them."""

    lens: CameraModel
    K_new: np.ndarray
    out_hw: tuple[int, int]
    interpolation: int = cv2.INTER_LINEAR
    fixed_point: bool = False

    def maps(self) -> tuple[np.ndarray, np.ndarray]:
        """(map1, map2) for `cv2.remap`: where each output pixel lies in the distorted frame (pixel centres at
        integer coordinates, as both models and OpenCV place them)."""
        h, w = self.out_hw
        u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
        rays = np.stack([u, v, np.ones_like(u)], axis=-1) @ np.linalg.inv(np.asarray(self.K_new, np.float64)).T
        xy = self.lens.project(rays).astype(np.float32)
        mx, my = np.ascontiguousarray(xy[..., 0]), np.ascontiguousarray(xy[..., 1])
        if self.fixed_point:
            return cv2.convertMaps(mx, my, cv2.CV_16SC2)
        return mx, my

    def apply(self, rgb: np.ndarray, maps: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """One frame undistorted; outside the distorted frame black (BORDER_CONSTANT, as both scripts)."""
        if rgb.shape[:2] != (self.lens.height, self.lens.width):
            want = (self.lens.height, self.lens.width)
            raise ValueError(f"frame of {rgb.shape[:2]} where the lens is for {want} (height, width)")
        m1, m2 = self.maps() if maps is None else maps
        return cv2.remap(rgb, m1, m2, interpolation=self.interpolation, borderMode=cv2.BORDER_CONSTANT)


class UndistortedCamera(CameraSource):
    """`source`'s frames undistorted to `undistortion.K_new` as they are decoded; its `intrinsics` that pinhole.
    Its timestamps are the source's; the maps are built once, on the first frame wanted."""

    def __init__(self, source: CameraSource, undistortion: Undistortion) -> None:
        h, w = undistortion.out_hw
        super().__init__(source.name, source.canonical, source.timestamps, h, w, np.asarray(undistortion.K_new))
        self.source, self.undistortion = source, undistortion
        self._maps: tuple[np.ndarray, np.ndarray] | None = None

    def frames(self, indices: list[int] | None = None, fit: FrameFit | None = None) -> Iterator[tuple[int, np.ndarray]]:
        for i, rgb in self.source.frames(indices):
            if self._maps is None:
                self._maps = self.undistortion.maps()
            yield i, fit_rgb(self.undistortion.apply(rgb, self._maps), fit)

    @property
    def decoded(self) -> int:
        return int(getattr(self.source, "decoded", 0))
