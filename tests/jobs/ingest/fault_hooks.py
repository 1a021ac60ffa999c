"""A worker for `run_ingest(worker=...)` whose encoder or source fails for chosen episodes, in a real job.

Ray workers import it by reference and read its settings from `<output>/../faults.json` (the output folder is in
every task's settings, so the hook runs on whatever Ray the test shares):
`{"mux": {uid: n}, "decode": [uid, ...], "log": FILE}`.
- `mux`: the first `n` flushes of the episode's encoders (one per write attempt and camera) have the mp4 muxer
  refuse their first packet with av's `ArgumentError` errno 22, as the muxer of SVT-AV1's output did under load: the
  container of each `VideoEncoder` is wrapped, so the error rises from the real `_drain` -> `mux` call.
- `decode`: the source video of the episode raises av's `InvalidDataError` (what a decoder raises on a corrupt
  stream) after its first frames, while the writer encodes them: a source decode error, not an encoder fault.
Each fault appends `<kind> <uid> <pid>` to FILE. The patches last for the task only (a Ray worker runs other tasks
after it); other tasks run unchanged.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av.error
import numpy as np

from ingest.episode import ResampledCamera
from ingest.lerobot import video
from jobs.ingest.task import EpisodeResult, EpisodeTask
from jobs.ingest.worker import process_episode

DECODE_AFTER = 5  # source frames decoded before the corrupt one
AVERROR_INVALIDDATA = 0x41444E49  # -AVERROR_INVALIDDATA, FFERRTAG('I','N','D','A') (libavutil/error.h)


class RefusingMuxer:
    """A container whose `mux` refuses the first packet of a flush while faults are left; everything else is the
    real container's."""

    def __init__(self, container: Any, fault: Any) -> None:
        self._container, self._fault, self.flushing = container, fault, False

    def mux(self, packet: Any) -> None:
        if self.flushing and self._fault():
            raise av.error.ArgumentError(errno.EINVAL, os.strerror(errno.EINVAL), self._container.name)
        self._container.mux(packet)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._container, name)


def faulting_process_episode(task: EpisodeTask) -> EpisodeResult:
    cfg = json.loads((task.settings.output.parent / "faults.json").read_text())
    uid, log = task.uid, Path(cfg["log"])

    def note(kind: str) -> None:
        with log.open("a") as f:
            f.write(f"{kind} {uid} {os.getpid()}\n")

    left = [int(cfg.get("mux", {}).get(uid, 0))]
    init, close, frames = video.VideoEncoder.__init__, video.VideoEncoder.close, ResampledCamera.frames

    def fault() -> bool:
        if left[0] <= 0:
            return False
        left[0] -= 1
        note("mux")
        return True

    def init_refusing(self: video.VideoEncoder, *args: Any, **kw: Any) -> None:
        init(self, *args, **kw)
        self._container = RefusingMuxer(self._container, fault)  # type: ignore[assignment]

    def close_flushing(self: video.VideoEncoder) -> None:
        self._container.flushing = True  # type: ignore[union-attr]
        close(self)

    def corrupt_frames(self: ResampledCamera) -> Iterator[np.ndarray]:
        for i, frame in enumerate(frames(self)):
            if i == DECODE_AFTER:
                note("decode")
                raise av.error.InvalidDataError(AVERROR_INVALIDDATA, "Invalid data found when processing input")
            yield frame

    if left[0]:
        video.VideoEncoder.__init__ = init_refusing  # type: ignore[method-assign]
        video.VideoEncoder.close = close_flushing  # type: ignore[method-assign]
    if uid in cfg.get("decode", []):
        ResampledCamera.frames = corrupt_frames  # type: ignore[method-assign]
    try:
        return process_episode(task)
    finally:
        video.VideoEncoder.__init__, video.VideoEncoder.close = init, close  # type: ignore[method-assign]
        ResampledCamera.frames = frames  # type: ignore[method-assign]
