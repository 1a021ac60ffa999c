"""A lazily decoded video read from a file object (a tar member on its shard), whole or a [start, end) window of it.

The shared file cameras (`adapters/cameras.py`) open a path; a video inside an uncompressed WebDataset shard has none,
so this one opens the member through `opener` (a context manager yielding a seekable binary file object) each time it
is read, and PyAV demuxes it in place. Timestamps come from packet headers at construction (demux only, no decoding),
relative to the window start; `frames()` seeks to the keyframe before the window and decodes forward.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import IO, Any

import av
import numpy as np

from adapters.base import CameraSource
from adapters.cameras import packet_times, stream_fps
from schemas.canonical import Camera

Opener = Callable[[], AbstractContextManager[IO[bytes]]]


class StreamVideoCamera(CameraSource):
    def __init__(
        self, opener: Opener, name: str, canonical: Camera | None, start_s: float = 0.0, end_s: float = np.inf
    ) -> None:
        self._opener, self.start_s, self.end_s = opener, float(start_s), float(end_s)
        with opener() as f, av.open(f) as c:
            s = c.streams.video[0]
            h, w = s.codec_context.height, s.codec_context.width
            self.average_rate = stream_fps(s)
            self._seek(c, s)
            self._pts, times = packet_times(c, s, self.start_s, self.end_s)
        super().__init__(name, canonical, times - self.start_s, h, w)

    def _seek(self, c: av.container.InputContainer, s: av.video.stream.VideoStream) -> None:
        if self.start_s > 0:
            c.seek(int(self.start_s / float(s.time_base)) + (s.start_time or 0), stream=s, backward=True)

    def frames(self, indices: list[int] | None = None, fit: Any = None) -> Iterator[tuple[int, np.ndarray]]:
        wanted = None if indices is None else set(indices)
        last = len(self) - 1 if indices is None else max(indices, default=-1)
        if last < 0:
            return
        convert = _converter(fit)
        index = {int(p): i for i, p in enumerate(self._pts)}
        with self._opener() as f, av.open(f) as c:
            s = c.streams.video[0]
            t0, tb = s.start_time or 0, float(s.time_base)
            self._seek(c, s)
            for frame in c.decode(s):
                i = index.get(frame.pts)
                if i is None:
                    if frame.pts is not None and (frame.pts - t0) * tb >= self.end_s:
                        return
                    continue
                if wanted is None or i in wanted:
                    yield i, convert(frame)
                if i >= last:
                    return


def _converter(fit: Any) -> Callable[[av.VideoFrame], np.ndarray]:
    """Decoded frame -> RGB; at the stored size through the shared cameras' converter when a fit is asked for."""
    if fit is None:
        return lambda frame: frame.to_ndarray(format="rgb24")
    from adapters.cameras import frame_converter  # the resize-on-decode path of the shared cameras

    return frame_converter(fit)
