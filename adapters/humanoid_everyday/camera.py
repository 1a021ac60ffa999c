"""The egocentric camera of a Humanoid Everyday episode: one encoded image per step (the path in the step's `image`),
read from the task zip or the episode folder while iterated and decoded in memory, never extracted.

The maker's loader opens each image with PIL and converts it to RGB (ausbxuse/Humanoid-Everyday@80e302b:
humanoid_everyday/core.py:121-125); the README gives PNG, 480x640x3 (README.md:28, 245), its recorder wrote the
same `color/frame_%06d` files as JPEG in an earlier version (Ausbxuse/avp_teleop@94cd19e:teleop/worker.py:160,194).
Either decodes here (`adapters.cameras.decode_image`, OpenCV, to RGB). The container is opened once per `frames()`
pass."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from adapters.base import CameraSource
from adapters.cameras import decode_image, fit_rgb
from adapters.humanoid_everyday.task import Episode, MemberError
from schemas.canonical import Camera
from schemas.image_size import FrameFit


class FrameError(ValueError):
    """One step's image is absent, outside its episode, or not a decodable image of the first frame's size."""


class StepImagesCamera(CameraSource):
    """Frames `images[i]` (paths relative to the episode folder) at `timestamps[i]`, decoded lazily."""

    def __init__(
        self,
        episode: Episode,
        images: list[str],
        name: str,
        canonical: Camera | None,
        timestamps: np.ndarray,
        first: np.ndarray,
        *,
        intrinsics: np.ndarray | None = None,
    ) -> None:
        self.episode, self.images = episode, list(images)
        super().__init__(name, canonical, timestamps, first.shape[0], first.shape[1], intrinsics)

    def frames(self, indices: list[int] | None = None, fit: FrameFit | None = None) -> Iterator[tuple[int, np.ndarray]]:
        with self.episode.files() as files:
            for i in range(len(self.images)) if indices is None else indices:
                rgb = read_frame(files, self.images[i], i)
                if rgb.shape[:2] != (self.height, self.width):
                    raise FrameError(
                        f"{self.episode.where}: step {i} image {self.images[i]!r} is {rgb.shape[1]}x{rgb.shape[0]}, "
                        f"frame 0 {self.width}x{self.height}"
                    )
                yield i, fit_rgb(rgb, fit)


def read_frame(files, rel: str, i: int) -> np.ndarray:
    """Step `i`'s image `rel` as HxWx3 uint8 RGB; FrameError naming the episode, step and path."""
    try:
        return decode_image(files.read(rel, None, f"step {i} image"))
    except (MemberError, ValueError) as e:
        raise FrameError(f"{files.episode.where}: step {i} image {rel!r}: {e}") from None
