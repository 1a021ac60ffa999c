"""Lazy camera sources shared by adapters: an mp4 file decoded by PyAV, or a list of encoded JPEG/PNG images."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import av
import cv2
import numpy as np

from adapters.base import CameraSource
from schemas.canonical import Camera


class VideoFileCamera(CameraSource):
    """Frames of a video file, decoded one at a time while iterated (one decode thread: many small videos)."""

    def __init__(
        self,
        path: Path,
        name: str,
        canonical: Camera | None,
        *,
        timestamps: np.ndarray | None = None,
        intrinsics: np.ndarray | None = None,
    ) -> None:
        self.path = Path(path)
        with av.open(str(self.path)) as c:  # header only: no frame is decoded here
            s = c.streams.video[0]
            h, w = s.codec_context.height, s.codec_context.width
            if timestamps is None:
                timestamps = _frame_times(c, s)
        super().__init__(name, canonical, timestamps, h, w, intrinsics)

    def frames(self, indices: list[int] | None = None) -> Iterator[tuple[int, np.ndarray]]:
        wanted = None if indices is None else set(indices)
        last = None if indices is None else (max(indices) if indices else -1)
        if last == -1:
            return
        with av.open(str(self.path)) as c:
            s = c.streams.video[0]
            for i, frame in enumerate(c.decode(s)):
                if wanted is None or i in wanted:
                    yield i, frame.to_ndarray(format="rgb24")
                if last is not None and i >= last:
                    return


def _frame_times(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> np.ndarray:
    """Presentation times of every frame from the packets (demux only, no decoding)."""
    pts = sorted(p.pts for p in container.demux(stream) if p.pts is not None and p.size)
    start = stream.start_time or 0
    return (np.asarray(pts, dtype=np.float64) - start) * float(stream.time_base)


class EncodedImagesCamera(CameraSource):
    """Per-step encoded images (RLDS): bytes kept as they are, decoded on iteration. `bgr` flips channel order."""

    def __init__(
        self,
        images: Sequence[bytes],
        name: str,
        canonical: Camera | None,
        timestamps: np.ndarray,
        *,
        bgr: bool = False,
        intrinsics: np.ndarray | None = None,
    ) -> None:
        self._images = list(images)
        self._bgr = bgr
        first = decode_image(self._images[0], bgr=bgr) if self._images else np.zeros((0, 0, 3), np.uint8)
        super().__init__(name, canonical, timestamps, first.shape[0], first.shape[1], intrinsics)

    def frames(self, indices: list[int] | None = None) -> Iterator[tuple[int, np.ndarray]]:
        for i in range(len(self._images)) if indices is None else indices:
            yield i, decode_image(self._images[i], bgr=self._bgr)


def decode_image(data: bytes, *, bgr: bool = False) -> np.ndarray:
    """JPEG/PNG bytes -> HxWx3 uint8 RGB. `bgr=True` for sources that stored BGR pixels as if they were RGB."""
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if arr is None:
        raise ValueError(f"not a decodable image ({len(data)} bytes)")
    return arr if bgr else cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)
