"""Lazy camera sources shared by adapters: an mp4 file (whole, or a time window of it, on a path or on a binary file
object such as a tar member read in place) decoded by PyAV, or encoded JPEG/PNG images (in memory, or one file per
frame read while iterated), or the left eye of a side-by-side stereo source; and header / packet probes that decode
nothing.

Every `frames(indices, fit)` can store frames at another size (`schemas.image_size.FrameFit`). For video the resize is
part of the colour conversion the frame needs anyway: one libswscale call (PyAV `VideoReformatter`, kept for the whole
iteration so its scaler context is built once: ~3 ms per 1080p frame otherwise) goes from the decoded yuv straight to
RGB at the scaled size, then pad/crop touch only the small result. Frames not in `indices` are decoded (inter-coded
video needs them) but never converted."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import IO

import av
import cv2
import numpy as np
from av.video.reformatter import VideoReformatter

from adapters.base import CameraSource
from adapters.hostile import bounds
from adapters.storage.location import Location
from adapters.video_refusal import refused, resized
from schemas.canonical import Camera
from schemas.image_size import FrameFit

# libswscale's scaler names as PyAV takes them, and OpenCV's nearest equivalents for already-decoded images
_SWS = {"area": "AREA", "bilinear": "BILINEAR", "bicubic": "BICUBIC", "lanczos": "LANCZOS"}
_CV2 = {"area": cv2.INTER_AREA, "bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4}


# Opens a video that has no path of its own (a member of an uncompressed tar shard): a context manager yielding a
# seekable binary file object, entered anew on each read so that no handle outlives an iteration.
Opener = Callable[[], AbstractContextManager[IO[bytes]]]


@contextmanager
def decoding(
    video: Location | str | IO[bytes],
) -> Iterator[tuple[av.container.InputContainer, av.video.stream.VideoStream]]:
    """The container and its first video stream, decoded on this thread only, closed on exit. An ingest task holds one
    core (N tasks on N cores), where decoder threads only add work: at 1080p AV1, libdav1d's automatic threads took
    12 % more CPU and 4x the wall time on a loaded 2-core machine; H.264 and MPEG-4 Part 2 decode the same either way.
    A path goes to FFmpeg's own file protocol; a URL's object is opened as a seekable file object, closed with the
    container; a file object is demuxed in place through PyAV's Python IO. `video`: a Location (opened through its
    door), a path the door already gave (`Corpus.open_file`), or a file object (a shard member)."""
    with video.readable() if isinstance(video, Location) else nullcontext(video) as f, av.open(f) as c:
        name = str(getattr(video, "name", "video")) if hasattr(video, "read") else str(video)
        if not c.streams.video:  # FFmpeg opens an mp4 cut inside its `moov` with no stream at all (was an IndexError)
            kinds = ", ".join(sorted({st.type for st in c.streams})) or "none"
            raise ValueError(
                f"{name}: no video stream in the {c.format.name} container (its streams: {kinds}; cut short?)"
            )
        s = c.streams.video[0]
        w, h = s.codec_context.width, s.codec_context.height
        if w > 0 and h > 0:  # a frame far larger than declared refused before its buffer, named (video_refusal)
            s.codec_context.options = {"max_pixels": str(16 * (w + 64) * (h + 64))}  # room for codecs own buffers
        s.thread_type, s.codec_context.thread_count = "NONE", 1
        yield c, s


@contextmanager
def decoding_frames(
    video: Location | str | IO[bytes],
) -> Iterator[tuple[av.container.InputContainer, av.video.stream.VideoStream]]:
    """`decoding` for a pass that decodes frames: a frame the decoder refuses is an `AdapterError` naming the file,
    the frame and why (`adapters.video_refusal`). Opening and probing keep FFmpeg's own errors, which their callers
    name."""
    with decoding(video) as (c, s):
        declared = (s.codec_context.width, s.codec_context.height)
        try:
            yield c, s
        except av.error.FFmpegError as e:
            raise refused(video, declared, e, decoding) from e


def declared(frame: av.VideoFrame, i: int, camera: VideoFileCamera | VideoClipCamera) -> av.VideoFrame:
    """`frame` when it is the size its stream declares; else an `AdapterError` naming the file and the frame (a
    scaler would resize it silently, an unscaled one would fail where it is written, naming neither)."""
    if (frame.width, frame.height) != (camera.width, camera.height):
        where = camera.path if isinstance(camera, VideoFileCamera) else camera.video
        raise resized(where, i, (camera.width, camera.height), (frame.width, frame.height))
    return frame


def frame_converter(fit: FrameFit | None) -> Callable[[av.VideoFrame], np.ndarray]:
    """Decoded frame -> HxWx3 uint8 RGB at the stored size: `to_ndarray` as before when native, else one scaler call
    to `fit.scaled_hw` RGB and the pad/crop placement."""
    if fit is None:
        return lambda frame: frame.to_ndarray(format="rgb24")
    scaler = VideoReformatter()
    (h, w), how = fit.scaled_hw, _SWS[fit.interpolation]

    def convert(frame: av.VideoFrame) -> np.ndarray:
        return fit.place(scaler.reformat(frame, width=w, height=h, format="rgb24", interpolation=how).to_ndarray())

    return convert


def runs(indices: list[int], span: int) -> Iterator[list[int]]:
    """Sorted `indices` in runs whose first and last lie fewer than `span` rows apart: rows read as one slice each."""
    k = 0
    while k < len(indices):
        end = k
        while end + 1 < len(indices) and indices[end + 1] - indices[k] < span:
            end += 1
        yield indices[k : end + 1]
        k = end + 1


def fit_rgb(rgb: np.ndarray, fit: FrameFit | None) -> np.ndarray:
    """An already-decoded RGB frame at the stored size (encoded images, stereo halves): OpenCV resize, then placed."""
    if fit is None:
        return rgb
    if rgb.shape[:2] != fit.in_hw:
        raise ValueError(f"frame of {rgb.shape[:2]} where the camera declared {fit.in_hw}")
    h, w = fit.scaled_hw
    return fit.place(cv2.resize(rgb, (w, h), interpolation=_CV2[fit.interpolation]))


class VideoFileCamera(CameraSource):
    """Frames of a video file, decoded one at a time while iterated (one decode thread: many small videos).

    Frame i is the i-th in presentation order. When the first wanted frame is not the first of the file (the later
    spans of an episode cut at a gap), `frames()` seeks to the keyframe before it and numbers frames by their pts, as
    `VideoClipCamera` does, instead of decoding everything before it again. `decoded` counts the frames the last
    `frames()` call decoded."""

    def __init__(
        self,
        path: Location,
        name: str,
        canonical: Camera | None,
        *,
        timestamps: np.ndarray | None = None,
        intrinsics: np.ndarray | None = None,
    ) -> None:
        self.path = path
        with decoding(self.path) as (c, s):  # header and packets only: no frame is decoded here
            h, w = s.codec_context.height, s.codec_context.width
            self._pts, times = packet_times(c, s)
            if timestamps is None:
                timestamps = times
        # seeking needs one distinct pts per frame; otherwise frames are counted from the start
        self._seekable = len(self._pts) == len(timestamps) and len(np.unique(self._pts)) == len(self._pts)
        self.decoded = 0
        super().__init__(name, canonical, timestamps, h, w, intrinsics)

    def frames(self, indices: list[int] | None = None, fit: FrameFit | None = None) -> Iterator[tuple[int, np.ndarray]]:
        wanted = None if indices is None else set(indices)
        last = None if indices is None else (max(indices) if indices else -1)
        self.decoded = 0
        if last == -1:
            return
        first = 0 if indices is None else min(indices)
        convert = frame_converter(fit)
        with decoding_frames(self.path) as (c, s):
            if first > 0 and self._seekable:
                yield from self._frames_from(c, s, first, wanted, last, convert)
                return
            for i, frame in enumerate(c.decode(s)):
                self.decoded += 1
                if wanted is None or i in wanted:
                    yield i, convert(declared(frame, i, self))
                if last is not None and i >= last:
                    return

    def _frames_from(
        self,
        c: av.container.InputContainer,
        s: av.video.stream.VideoStream,
        first: int,
        wanted: set[int] | None,
        last: int | None,
        convert: Callable[[av.VideoFrame], np.ndarray],
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Seek to the keyframe at or before frame `first`, decode forward, number frames by pts."""
        index = {int(p): i for i, p in enumerate(self._pts)}
        c.seek(int(self._pts[first]), stream=s, backward=True, any_frame=False)
        for frame in c.decode(s):
            self.decoded += 1
            i = index.get(frame.pts) if frame.pts is not None else None
            if i is None or i < first:
                continue  # pre-roll from the keyframe
            if wanted is None or i in wanted:
                yield i, convert(declared(frame, i, self))
            if last is not None and i >= last:
                return


class VideoClipCamera(CameraSource):
    """Frames shown in [start_s, end_s) of a video: a window of a long video (Ego4D) or one episode's span of an mp4
    holding several back to back (LeRobot v3), or a clip streamed from a WebDataset shard (`video` an `Opener`).
    Both bounds move `tolerance_s` earlier, for spans whose bounds are frame times written as rounded floats.

    Timestamps are relative to `start_s`. Opening reads packet headers of the window only (seek to the keyframe
    before it, demux until decode times pass its end); `frames()` seeks to the same keyframe and decodes forward,
    dropping frames before the window. `decoded` counts the frames the last `frames()` call decoded, pre-roll from
    the keyframe included. `average_rate` is the stream's declared frame rate (None when it has none).
    """

    def __init__(
        self,
        video: Location | Opener,
        name: str,
        canonical: Camera | None,
        start_s: float,
        end_s: float,
        *,
        tolerance_s: float = 0.0,
        intrinsics: np.ndarray | None = None,
        opened: tuple[av.container.InputContainer, av.video.stream.VideoStream] | None = None,
    ) -> None:
        self.video: Location | Opener = video
        self.start_s, self.end_s = float(start_s), float(end_s)
        self._lo, self._hi = self.start_s - tolerance_s, self.end_s - tolerance_s
        # header and the window's packets only: no frame is decoded here; `opened`, the caller's `decoding(video)`
        # still at its start (its header read for the window's bounds), saves opening the file twice
        with self._opened() if opened is None else nullcontext(opened) as (c, s):
            h, w = s.codec_context.height, s.codec_context.width
            self.average_rate = stream_fps(s)
            self._seek(c, s)
            self._pts, times = packet_times(c, s, self._lo, self._hi)
        self.decoded = 0
        super().__init__(name, canonical, times - self.start_s, h, w, intrinsics)

    @contextmanager
    def _opened(
        self, frames: bool = False
    ) -> Iterator[tuple[av.container.InputContainer, av.video.stream.VideoStream]]:
        opened = decoding_frames if frames else decoding
        with self.video() if callable(self.video) else nullcontext(self.video) as f, opened(f) as (c, s):
            yield c, s

    def _seek(self, c: av.container.InputContainer, s: av.video.stream.VideoStream) -> None:
        if self._lo > 0:
            c.seek(int(self._lo / float(s.time_base)) + (s.start_time or 0), stream=s, backward=True, any_frame=False)

    def frames(self, indices: list[int] | None = None, fit: FrameFit | None = None) -> Iterator[tuple[int, np.ndarray]]:
        wanted = None if indices is None else set(indices)
        last = len(self) - 1 if indices is None else max(indices, default=-1)
        self.decoded = 0
        if last < 0:
            return
        convert = frame_converter(fit)
        index = {int(p): i for i, p in enumerate(self._pts)}
        with self._opened(frames=True) as (c, s):
            t0, tb = s.start_time or 0, float(s.time_base)
            self._seek(c, s)
            for frame in c.decode(s):
                self.decoded += 1
                i = index.get(frame.pts)
                if i is None:
                    if frame.pts is not None and (frame.pts - t0) * tb >= self._hi:
                        return
                    continue
                if wanted is None or i in wanted:
                    yield i, convert(declared(frame, i, self))
                if i >= last:
                    return


def packet_times(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    start_s: float = -np.inf,
    end_s: float = np.inf,
) -> tuple[np.ndarray, np.ndarray]:
    """(pts, seconds from the stream start) of the frames shown in [start_s, end_s), sorted, from the packets alone
    (demux only, no decoding). Demuxes from where the container is (seek first to skip what precedes the window) and
    stops at the first packet decoded at or after `end_s`: pts >= dts, so every later packet shows later."""
    t0, tb = stream.start_time or 0, float(stream.time_base)
    pts = []
    for p in container.demux(stream):
        if p.dts is not None and (p.dts - t0) * tb >= end_s:
            break
        if p.pts is not None and p.size and start_s <= (p.pts - t0) * tb < end_s:
            pts.append(p.pts)
    ordered = np.sort(np.asarray(pts, dtype=np.int64))
    return ordered, (ordered.astype(np.float64) - t0) * tb


def stream_fps(stream: av.video.stream.VideoStream) -> float | None:
    """The stream's declared average frame rate, None when the header has none."""
    return float(stream.average_rate) if stream.average_rate else None


def probe_video(path: Location | str | IO[bytes]) -> tuple[float, float | None]:
    """(duration s, fps) of a video file (or a file object: a shard member) from its container header; no frame is
    decoded."""
    with decoding(path) as (c, s):
        if s.duration is not None:
            duration = float(s.duration * s.time_base)
        elif c.duration is not None:
            duration = c.duration / av.time_base
        else:
            raise ValueError("the container header gives no duration")
        return duration, stream_fps(s)


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

    def frames(self, indices: list[int] | None = None, fit: FrameFit | None = None) -> Iterator[tuple[int, np.ndarray]]:
        for i in range(len(self._images)) if indices is None else indices:
            yield i, fit_rgb(decode_image(self._images[i], bgr=self._bgr), fit)


class ImageFilesCamera(CameraSource):
    """One encoded JPEG/PNG file per frame (a folder of frames), each read and decoded while iterated, never held;
    height and width from the first file. A file that is unreadable or of another size is a ValueError naming it."""

    def __init__(
        self,
        files: Sequence[Location],
        name: str,
        canonical: Camera | None,
        timestamps: np.ndarray,
        *,
        intrinsics: np.ndarray | None = None,
    ) -> None:
        self.files = list(files)
        h, w = _image_file(self.files[0]).shape[:2] if self.files else (0, 0)
        super().__init__(name, canonical, timestamps, h, w, intrinsics)

    def frames(self, indices: list[int] | None = None, fit: FrameFit | None = None) -> Iterator[tuple[int, np.ndarray]]:
        for i in range(len(self.files)) if indices is None else indices:
            rgb = _image_file(self.files[i])
            if rgb.shape[:2] != (self.height, self.width):
                raise ValueError(f"{self.files[i]}: {rgb.shape[1]}x{rgb.shape[0]}, frame 0 {self.width}x{self.height}")
            yield i, fit_rgb(rgb, fit)


def _image_file(path: Location) -> np.ndarray:
    try:
        return decode_image(bounds.read_bounded(path, None, "image"))
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: {e}") from None


def decode_image(data: bytes, *, bgr: bool = False) -> np.ndarray:
    """JPEG/PNG bytes -> HxWx3 uint8 RGB. `bgr=True` for sources that stored BGR pixels as if they were RGB."""
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if arr is None:
        raise ValueError(f"not a decodable image ({len(data)} bytes)")
    return arr if bgr else cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)


class StereoLeftCamera(CameraSource):
    """The left eye of a side-by-side stereo source: the left half of each frame of `inner`, decoded lazily with it.

    Ego4D's own feature pipeline keeps `v[..., 0 : W // 2]` of `is_stereo` videos, and resizes that half to
    (H, W) = (W // 2, H // 2) when the source frame is narrower than tall ("incorrectly encoded from source"); this
    camera does both (facebookresearch/Ego4d, ego4d/features/dataset.py `CropIfStereo`). Intrinsics stay those of
    `inner` for the plain crop (the left half keeps its principal point) and are dropped for the resized case."""

    def __init__(self, inner: CameraSource) -> None:
        self.inner = inner
        h, w = inner.height, inner.width
        self.resized = w < h
        out_h, out_w = (w // 2, h // 2) if self.resized else (h, w // 2)
        intrinsics = None if self.resized else inner.intrinsics
        super().__init__(inner.name, inner.canonical, inner.timestamps, out_h, out_w, intrinsics)

    def frames(self, indices: list[int] | None = None, fit: FrameFit | None = None) -> Iterator[tuple[int, np.ndarray]]:
        for i, rgb in self.inner.frames(indices):
            half = rgb[:, : rgb.shape[1] // 2]
            if self.resized:
                half = cv2.resize(half, (self.width, self.height), interpolation=cv2.INTER_LINEAR)
            yield i, fit_rgb(half, fit) if fit is not None else np.ascontiguousarray(half)
