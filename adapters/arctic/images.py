"""An ARCTIC view as a camera: one JPEG per frame, `images/<subject>/<seq>/<view>/<index:05d>.jpg` with index = frame +
the subject's `ioi_offset` (zc-alexfan/arctic@49f3eb4:src/mesh_loaders/arctic.py:104-110; view 0 the egocentric
camera, 1..8 the allocentric ones). Files are read while iterated, one at a time, and decoded with OpenCV to RGB."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from adapters.base import CameraSource
from adapters.cameras import decode_image, fit_rgb
from adapters.storage import bounds
from adapters.storage.location import Location
from schemas.canonical import Camera
from schemas.image_size import FrameFit


class FrameError(ValueError):
    """A frame's image is unreadable or not the first frame's size."""


def view_images(folder: Location, offset: int, n: int) -> list[Location]:
    """The `n` image paths of a view folder from frame 0 (index `offset`)."""
    return [folder / f"{i + offset:05d}.jpg" for i in range(n)]


def read_image(path: Location) -> np.ndarray:
    try:
        return decode_image(bounds.read_bounded(path, bounds.limit("READ_BYTES"), "image"))
    except (OSError, ValueError) as e:
        raise FrameError(f"{path}: {e}") from e


class ImageFilesCamera(CameraSource):
    """Frames `paths[i]` at `timestamps[i]`, decoded lazily; the size is the first image's."""

    def __init__(
        self,
        paths: list[Location],
        name: str,
        canonical: Camera | None,
        timestamps: np.ndarray,
        *,
        intrinsics: np.ndarray | None = None,
    ) -> None:
        self.paths = list(paths)
        first = read_image(self.paths[0])
        super().__init__(name, canonical, timestamps, first.shape[0], first.shape[1], intrinsics)

    def frames(self, indices: list[int] | None = None, fit: FrameFit | None = None) -> Iterator[tuple[int, np.ndarray]]:
        for i in range(len(self.paths)) if indices is None else indices:
            rgb = read_image(self.paths[i])
            if rgb.shape[:2] != (self.height, self.width):
                msg = f"{self.paths[i]}: {rgb.shape[1]}x{rgb.shape[0]}, frame 0 is {self.width}x{self.height}"
                raise FrameError(msg)
            yield i, fit_rgb(rgb, fit)
