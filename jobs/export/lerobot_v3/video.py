"""Episode videos concatenated into one LeRobot v3.0 video file by stream copy (PyAV remux, no re-encode).

lerobot 0.6.1 joins episode mp4s with ffmpeg's concat demuxer and copies the packets (`concatenate_video_files` in
`src/lerobot/datasets/video_utils.py`), and records each episode's place in the file as
`from_timestamp = sum of the previous episodes' durations`, `to_timestamp = from + duration`, the duration being
`stream.duration * time_base` (`get_video_duration_in_s`; `_save_episode_video` in `dataset_writer.py`,
`convert_videos_of_camera` in `scripts/convert_dataset_v21_to_v30.py`). Its reader then decodes the frame of episode
time t at `from_timestamp + t` (`dataset_reader.py`, `_query_videos`). Here every packet of an episode is shifted by
exactly that offset in the stream's own time base, so frame i of an episode lands at from_timestamp + i / fps with no
rounding, and the file is written beside its final name and renamed into place.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av


@dataclass(frozen=True)
class StreamSignature:
    """What must agree for packets of several files to share one stream."""

    codec: str
    width: int
    height: int
    pix_fmt: str
    time_base: Fraction


def probe_open(container: av.container.InputContainer) -> tuple[StreamSignature, int, float]:
    """(signature, duration in time-base units, duration in seconds as lerobot's `get_video_duration_in_s`) of an
    open file (the export opens each episode's video once for probing and copying)."""
    stream = container.streams.video[0]
    tb = Fraction(stream.time_base)
    if stream.duration is not None:
        ticks = int(stream.duration)
        seconds = float(stream.duration * stream.time_base)
    else:  # lerobot's fallback: the container's duration
        seconds = float(container.duration / av.time_base)
        ticks = round(Fraction(container.duration, av.time_base) / tb)
    ctx = stream.codec_context
    return StreamSignature(stream.codec.name, ctx.width, ctx.height, ctx.pix_fmt or "", tb), ticks, seconds


class VideoFileWriter:
    """One output mp4 fed episode by episode; `close()` renames the finished file into place."""

    def __init__(self, path: Path, signature: StreamSignature) -> None:
        self.path = Path(path)
        self.signature = signature
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.name}.partial")
        self._out = av.open(str(self._tmp), "w", format="mp4", options={"movflags": "faststart"})
        self._stream: av.video.stream.VideoStream | None = None
        self._ticks = 0  # time-base units written so far
        self.seconds = 0.0  # lerobot's running float sum of durations

    def append(
        self, path: Path, src: av.container.InputContainer, probed: tuple[StreamSignature, int, float] | None = None
    ) -> tuple[float, float]:
        """Copy the packets of one episode, `path` open as `src`, after what is written; returns its
        (from_timestamp, to_timestamp). `probed`: what `probe_open(src)` returned, when the caller has it already."""
        sig, ticks, seconds = probed or probe_open(src)
        if sig != self.signature:
            raise ValueError(
                f"{path}: stream {sig} differs from the file's {self.signature}; it cannot be stream-copied"
            )
        in_stream = src.streams.video[0]
        if self._stream is None:
            self._stream = self._out.add_stream_from_template(template=in_stream, opaque=True)
            self._stream.time_base = in_stream.time_base
        out, offset, mux = self._stream, self._ticks, self._out.mux
        for packet in src.demux(in_stream):
            dts = packet.dts
            if dts is None:  # the demuxer's flush packet
                continue
            pts = packet.pts
            packet.pts = None if pts is None else pts + offset
            packet.dts = dts + offset
            packet.stream = out
            mux(packet)
        start = self.seconds
        self._ticks += ticks
        self.seconds += seconds
        return start, start + seconds

    def close(self) -> None:
        self._out.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        with contextlib.suppress(Exception):  # the partial file is deleted anyway
            self._out.close()
        self._tmp.unlink(missing_ok=True)
