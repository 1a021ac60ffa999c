"""Streaming video encoding with PyAV: frames go from the caller straight into one encoder per camera."""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.lerobot import VideoInfo

if TYPE_CHECKING:
    import av  # imported where it is used: a job spec's codec settings (VideoCodec) must not load PyAV

# SVT-AV1 prints a ~20-line banner per file unless told otherwise; keep the user's choice if they set one.
os.environ.setdefault("SVT_LOG", "1")


# Per-codec defaults for the keys a spec leaves out, chosen by `benchmarks/codec.py` on camera-like footage at 224x224
# with one encoder thread (BENCHMARKS.md, "Codec settings"):
# - libsvtav1: lerobot 0.6.1's own settings (lerobot/configs/video.py: crf 30, LIBSVTAV1_DEFAULT_PRESET = 12). Left
#   unset, SVT-AV1 4.1's default preset costs 2.6x the CPU (106 vs 280 frames/s per core) for -2 % bytes, +0.4 dB;
#   presets 11 and 13 write the same bytes as 12 at this size, and the slower presets at the crf that matches 12's
#   PSNR (30.59 dB) are 0.41x (preset 8) and 0.56x (preset 10) its speed.
# - h264 (libx264): veryfast at crf 21 matches the library default (medium) at crf 23 in PSNR (30.05 vs 29.82 dB) at
#   1.9x its speed for +16 % bytes; superfast would be 2.2x for +21 %, ultrafast 4.7x for +49 %.
# libsvtav1's preset is held at the library default for now: with preset 12, SVT-AV1 4.1 deadlocked in its final
# flush (every encoder thread in futex waits, the caller in sem_wait inside libSvtAv1Enc) three times this session,
# twice in the test suite's in-process writes, which had never hung at the library default. A job spec asks for the
# measured 12 (`codec.preset: "12"`, as jobs/specs/demo.yaml does) until that deadlock is understood.
CODEC_DEFAULTS: dict[str, dict[str, Any]] = {
    "libsvtav1": {"crf": 30},
    "h264": {"crf": 21, "preset": "veryfast"},
}


class VideoCodec(BaseModel):
    """Encoder settings: lerobot's (g=2, yuv420p, libsvtav1 crf 30) with a measured preset (`CODEC_DEFAULTS`)."""

    model_config = ConfigDict(frozen=True)

    vcodec: Literal["libsvtav1", "h264", "hevc"] = "libsvtav1"
    pix_fmt: Literal["yuv420p", "yuv444p"] = "yuv420p"
    g: int | None = Field(2, ge=1, description="GOP size; lerobot uses 2 so that random access is cheap")
    crf: int | None = Field(
        30, ge=0, le=63, description="quality (lower: better, larger); left out: the codec's CODEC_DEFAULTS entry"
    )
    preset: str | None = Field(
        None,
        description="encoder preset (SVT: 0-13, x264: ultrafast..veryslow); left out: the codec's CODEC_DEFAULTS"
        " entry (libsvtav1 12, h264 veryfast); null: the library's own default",
    )
    threads: int | None = Field(
        None, ge=1, description="encoder threads (SVT-AV1: its `lp` level of parallelism); None lets the codec decide"
    )

    @model_validator(mode="before")
    @classmethod
    def _codec_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            defaults = CODEC_DEFAULTS.get(data.get("vcodec", "libsvtav1"), {})
            data = {**defaults, **data}  # only what the caller left out
        return data

    def options(self) -> dict[str, str]:
        opts: dict[str, str] = {}
        if self.g is not None:
            opts["g"] = str(self.g)
        if self.crf is not None:
            opts["crf"] = str(self.crf)
        if self.preset is not None:
            opts["preset"] = str(self.preset)
        if self.threads is not None and self.vcodec == "libsvtav1":
            # SVT-AV1 ignores the codec context's thread_count and sizes its pools from the machine's cores unless
            # told `lp`; its output is bit-identical for any lp, so this only trades speed for CPU and memory.
            opts["svtav1-params"] = f"lp={self.threads}"
        return opts

    @classmethod
    def h264(cls, **kw: Any) -> VideoCodec:
        return cls(vcodec="h264", **kw)


class VideoEncoder:
    """Encodes RGB uint8 HxWx3 frames into one mp4 at a constant frame rate (pts = frame number / fps)."""

    def __init__(self, path: Path, width: int, height: int, fps: int, codec: VideoCodec) -> None:
        if codec.vcodec in ("libsvtav1", "hevc") and codec.pix_fmt == "yuv444p":
            codec = codec.model_copy(update={"pix_fmt": "yuv420p"})  # as lerobot: these encoders refuse 4:4:4 here
        import av

        self.path, self.width, self.height = Path(path), width, height
        self._container = av.open(str(self.path), "w")
        try:
            self._stream = self._container.add_stream(codec.vcodec, fps, options=codec.options())
            self._stream.pix_fmt = codec.pix_fmt
            self._stream.width, self._stream.height = width, height
            if codec.threads is not None:
                self._stream.codec_context.thread_count = codec.threads
        except Exception:
            self._container.close()
            raise
        self.frames = 0

    def encode(self, rgb: np.ndarray) -> None:
        self.encode_frame(to_video_frame(rgb))

    def encode_frame(self, frame: av.VideoFrame) -> None:
        frame.pts = self.frames
        self.frames += 1
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        finally:
            self._container.close()
            del self._stream  # frees the codec context now rather than at garbage collection

    def abort(self) -> None:
        with contextlib.suppress(Exception):  # the caller deletes the file anyway
            for _ in self._stream.encode(None):  # end of stream, else SVT-AV1 complains on teardown
                pass
        with contextlib.suppress(Exception):
            self._container.close()


class ThreadedVideoEncoder:
    """A `VideoEncoder` fed through a bounded queue by one thread, so the caller's work overlaps encoding.

    The queue bounds memory to `depth` frames; an encoder error surfaces on the next `encode` or on `close`.
    """

    _STOP = object()

    def __init__(self, encoder: VideoEncoder, depth: int = 8) -> None:
        self._enc = encoder
        self._q: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"encode:{encoder.path.name}", daemon=True)
        self._thread.start()

    @property
    def path(self) -> Path:
        return self._enc.path

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is self._STOP:
                return
            if self._error is None:
                try:
                    self._enc.encode_frame(item)
                except BaseException as e:  # handed to the caller's thread
                    self._error = e

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def encode(self, rgb: np.ndarray) -> None:
        self._raise()
        self._q.put(to_video_frame(rgb))  # a copy: the caller may reuse its buffer as soon as we return

    def close(self) -> None:
        self._q.put(self._STOP)
        self._thread.join()
        self._raise()
        self._enc.close()

    def abort(self) -> None:
        self._error = self._error or RuntimeError("aborted")
        self._q.put(self._STOP)
        self._thread.join()
        self._enc.abort()


def to_video_frame(rgb: np.ndarray) -> av.VideoFrame:
    """HxWx3 uint8 RGB -> a frame owning its own copy of the pixels."""
    import av

    return av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")


def probe_video_info(path: Path) -> VideoInfo:
    """The `info` block lerobot's `get_video_info` derives from an mp4."""
    import av

    with av.open(str(path), "r") as f:
        vs = f.streams.video[0]
        pix_fmt = vs.codec_context.pix_fmt or ""
        channels = 1 if any(s in pix_fmt for s in ("gray", "depth", "monochrome")) else 3
        info: dict[str, Any] = {
            "video.height": vs.codec_context.height,
            "video.width": vs.codec_context.width,
            "video.codec": vs.codec.canonical_name,
            "video.pix_fmt": pix_fmt,
            "video.is_depth_map": False,
            "video.fps": int(vs.base_rate),
            "video.channels": channels,
        }
        info["has_audio"] = len(f.streams.audio) > 0
    return VideoInfo.model_validate(info)
