"""Streaming video encoding with PyAV: frames go from the caller straight into one encoder per camera."""

from __future__ import annotations

import contextlib
import math
import os
import queue
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.lerobot_features import VideoInfo

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
# SVT-AV1 4.1 was seen to deadlock in its final flush (every encoder thread in a futex wait, the caller in sem_wait in
# libSvtAv1Enc, 0 CPU), at preset 12 under heavy load; nothing ties it to the preset (BENCHMARKS.md "Codec settings"),
# so every wait on an encoder here is bounded instead (`EncoderHungError`) and the ingest job's watchdog retries.
CODEC_DEFAULTS: dict[str, dict[str, Any]] = {
    "libsvtav1": {"crf": 30, "preset": "12"},
    "h264": {"crf": 21, "preset": "veryfast"},
}
ENCODER_NAMES = {"libsvtav1": "SVT-AV1", "h264": "libx264", "hevc": "libx265"}

# How long a caller waits on an encoder (its flush, a frame handed to its thread) before giving it up: a base for
# start-up and teardown plus every frame it may still hold at 0.5 Mpx/s, the ingest deadline's conservative encode
# rate (jobs/runtime/deadline.py, ~25x under one loaded core at preset 12). A 300-frame 224x224 flush gets 91 s.
WAIT_BASE_S = 60.0
WAIT_MPX_PER_S = 0.5
_WAITS_BOUNDED: ContextVar[bool] = ContextVar("encoder_waits_bounded", default=True)


class EncoderHungError(RuntimeError):
    """An encoder did not finish within its bound. It is given up: the thread blocked in it stays blocked (a thread
    stuck in C cannot be interrupted; SVT-AV1's own threads wait at 0 CPU) and its file is incomplete."""


@contextlib.contextmanager
def unbounded_encoder_waits() -> Iterator[None]:
    """Waits on encoders in this context have no bound: for a caller whose own deadline kills the whole process (the
    ingest job's watchdog in a Ray worker), so that a hang is retried there instead of failing the episode here."""
    token = _WAITS_BOUNDED.set(False)
    try:
        yield
    finally:
        _WAITS_BOUNDED.reset(token)


def wait_limit_s(frames: int, width: int, height: int) -> float | None:
    """Seconds to wait on an encoder that may still hold `frames` frames; None inside `unbounded_encoder_waits`."""
    if not _WAITS_BOUNDED.get():
        return None
    return WAIT_BASE_S + frames * width * height / (WAIT_MPX_PER_S * 1e6)


def run_bounded(fn: Callable[[], None], limit_s: float | None, name: str) -> bool:
    """Run `fn` in a thread of its own and wait at most `limit_s` (None: without a bound); its error is re-raised
    here. False when it did not finish in time: the thread is then left running (daemon)."""
    if limit_s is None:
        fn()
        return True
    done = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as e:  # handed to the waiting thread
            errors.append(e)
        finally:
            done.set()

    threading.Thread(target=run, name=name, daemon=True).start()
    if not done.wait(limit_s):
        return False
    if errors:
        raise errors[0]
    return True


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
        opts = {k: str(v) for k in ("g", "crf", "preset") if (v := getattr(self, k)) is not None}
        if self.threads is not None and self.vcodec == "libsvtav1":
            # SVT-AV1 ignores the codec context's thread_count and sizes its pools from the machine's cores unless
            # told `lp`; its output is bit-identical for any lp, so this only trades speed for CPU and memory.
            opts["svtav1-params"] = f"lp={self.threads}"
        return opts

    @classmethod
    def h264(cls, **kw: Any) -> VideoCodec:
        return cls(vcodec="h264", **kw)


class VideoEncoder:
    """Encodes RGB uint8 HxWx3 frames into one mp4 at a constant frame rate (pts = frame number / fps).

    Its flush waits at most `wait_limit_s` (`EncoderHungError` past it); a hung encoder is left to its blocked thread:
    neither `close` nor `abort` touches its codec or container again."""

    def __init__(self, path: Path, width: int, height: int, fps: int, codec: VideoCodec) -> None:
        if codec.vcodec in ("libsvtav1", "hevc") and codec.pix_fmt == "yuv444p":
            codec = codec.model_copy(update={"pix_fmt": "yuv420p"})  # as lerobot: these encoders refuse 4:4:4 here
        import av

        from adapters.encoder_stream import encoder_stream

        self.path, self.width, self.height = Path(path), width, height
        self.name = ENCODER_NAMES[codec.vcodec]
        self._container = av.open(str(self.path), "w")
        try:
            self._stream = encoder_stream(self._container, codec.vcodec, fps, codec.options())
            self._stream.pix_fmt = codec.pix_fmt
            self._stream.width, self._stream.height = width, height
            if codec.threads is not None:
                self._stream.codec_context.thread_count = codec.threads
        except Exception:
            self._container.close()
            raise
        self.frames = 0
        self.hung = False
        self._last_dts: int | None = None

    def encode(self, rgb: np.ndarray) -> None:
        self.encode_frame(to_video_frame(rgb))

    def encode_frame(self, frame: av.VideoFrame) -> None:
        frame.pts = self.frames
        self.frames += 1
        for packet in self._stream.encode(frame):
            self._mux(packet)

    def _drain(self) -> None:
        for packet in self._stream.encode(None):
            self._mux(packet)

    def _mux(self, packet: av.Packet) -> None:
        try:
            self._container.mux(packet)
        except Exception as e:
            import av

            if not isinstance(e, av.error.FFmpegError):
                raise
            # The muxer's EINVAL names no packet (mux.c refuses a dts that does not increase and a pts below its dts):
            # say which packet, so that a rare refusal of the encoder's output tells which check it failed.
            where = f"packet pts {packet.pts} dts {packet.dts} of {packet.size} bytes after dts {self._last_dts}"
            raise type(e)(e.errno or 0, f"{e.strerror} ({where})", e.filename) from e
        self._last_dts = packet.dts

    def _discard(self) -> None:
        for _ in self._stream.encode(None):  # end of stream, else SVT-AV1 complains on teardown
            pass

    def _bounded(self, fn: Callable[[], None]) -> None:
        limit = wait_limit_s(self.frames, self.width, self.height)
        if not run_bounded(fn, limit, f"flush:{self.path.name}"):
            self.hung = True
            raise EncoderHungError(
                f"{self.name} did not finish flushing {self.path.name} in {math.ceil(limit or 0)} s ({self.frames}"
                f" frames of {self.width}x{self.height} sent); the encoder is given up, the file is incomplete"
            )

    def close(self) -> None:
        try:
            self._bounded(self._drain)
        finally:
            if not self.hung:  # a hung flush still uses the codec and container: closing them under it could crash
                self._container.close()
                del self._stream  # frees the codec context now rather than at garbage collection

    def abort(self) -> None:
        if self.hung:
            return
        with contextlib.suppress(Exception):  # the caller deletes the file anyway
            self._bounded(self._discard)
        if not self.hung:
            with contextlib.suppress(Exception):
                self._container.close()


class ThreadedVideoEncoder:
    """A `VideoEncoder` fed through a bounded queue by one thread, so the caller's work overlaps encoding.

    The queue bounds memory to `depth` frames; an encoder error surfaces on the next `encode` or on `close`. Waiting
    for room in the queue or for the thread to finish is bounded like the flush (`EncoderHungError`).
    """

    _STOP = object()

    def __init__(self, encoder: VideoEncoder, depth: int = 8) -> None:
        self._enc = encoder
        self._depth = depth
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

    def _limit(self) -> float | None:
        return wait_limit_s(self._depth + 1, self._enc.width, self._enc.height)  # at most the queue and one frame

    def _hung(self, what: str, limit: float | None) -> EncoderHungError:
        self._enc.hung = True  # its thread is stuck inside the codec: nothing may touch it again
        return EncoderHungError(
            f"{self._enc.name} did not {what} {self.path.name} in {math.ceil(limit or 0)} s ({self._enc.frames} frames"
            f" of {self._enc.width}x{self._enc.height} taken); the encoder is given up, the file is incomplete"
        )

    def _put(self, item: Any, what: str) -> None:
        limit = self._limit()
        try:
            self._q.put(item, timeout=limit)
        except queue.Full:
            raise self._hung(what, limit) from None

    def _join(self) -> None:
        limit = self._limit()
        self._thread.join(limit)
        if self._thread.is_alive():
            raise self._hung("finish the frames queued for", limit)

    def encode(self, rgb: np.ndarray) -> None:
        self._raise()
        self._put(to_video_frame(rgb), "take a frame for")  # a copy: the caller may reuse its buffer at once

    def close(self) -> None:
        self._put(self._STOP, "take a frame for")
        self._join()
        self._raise()
        self._enc.close()

    def abort(self) -> None:
        self._error = self._error or RuntimeError("aborted")
        if not self._enc.hung:
            with contextlib.suppress(EncoderHungError):
                self._put(self._STOP, "take a frame for")
                self._join()
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
        if vs.base_rate is None:
            raise ValueError(f"{path}: its video stream states no frame rate")
        pix_fmt = vs.codec_context.pix_fmt or ""
        channels = 1 if any(s in pix_fmt for s in ("gray", "depth", "monochrome")) else 3
        return VideoInfo(
            height=vs.codec_context.height,
            width=vs.codec_context.width,
            codec=vs.codec.canonical_name,
            pix_fmt=pix_fmt,
            fps=int(vs.base_rate),
            channels=channels,
            has_audio=len(f.streams.audio) > 0,
        )
