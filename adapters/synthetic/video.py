"""Frame and video helpers shared by the synthetic writers: a deterministic moving test frame, JPEG/PNG and mp4
encoders (cv2, PyAV), and a file that only looks like an mp4."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from adapters.encoder_stream import encoder_stream


def synthetic_frame(height: int, width: int, t: int, seed: float = 0) -> np.ndarray:
    """A smooth colour pattern moving 2 px per frame: compressible (PSNR > 30 dB through h264 or JPEG), never
    static, different per seed and with distinct R and B channels (a BGR mix-up shows)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    phase = (x + 2 * t) / 9.0 + seed
    r = 127 + 100 * np.sin(phase)
    g = 127 + 100 * np.sin(y / 7.0 + 0.5 * phase)
    b = 127 + 100 * np.cos((x - y) / 11.0 + 0.1 * t + seed)
    return np.stack([r, g, b], axis=-1).clip(0, 255).astype(np.uint8)


def synthetic_frames(n: int, height: int, width: int, seed: float = 0) -> list[np.ndarray]:
    """Frames 0..n-1 of `synthetic_frame` for one seed."""
    return [synthetic_frame(height, width, t, seed) for t in range(n)]


def write_synthetic_mp4(path: Path, n: int, fps: float, height: int, width: int, seed: float = 0, **options) -> int:
    """`write_mp4` of `synthetic_frames(n, height, width, seed)`; `options` as `write_mp4`'s."""
    return write_mp4(path, (synthetic_frame(height, width, t, seed) for t in range(n)), fps, **options)


def write_not_mp4(path: Path, filler: bytes) -> Path:
    """An mp4 `ftyp` box and then `filler`: a file that looks like an mp4 and that no decoder opens."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00\x00\x00\x20ftypisom" + filler)
    return path


def encode_image(rgb: np.ndarray, fmt: str = "jpeg", *, store_bgr: bool = False) -> bytes:
    """An RGB frame as JPEG (quality 95) or PNG bytes; `store_bgr`: sources that saved BGR pixels as if RGB."""
    pixels = rgb if store_bgr else cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)  # cv2 encoders take BGR
    png = fmt == "png"
    ok, buf = cv2.imencode(".png" if png else ".jpg", pixels, [] if png else [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:
        raise ValueError(f"{fmt} encoding failed for a {rgb.shape} frame")
    return buf.tobytes()


def write_mp4(
    path: Path,
    frames: Iterable[np.ndarray],
    fps: int,
    codec: str = "libx264",
    *,
    crf: int = 18,
    gop: int | None = None,
    bframes: int | None = None,
    preset: str | None = None,
    threads: int | None = None,
    time_base: Fraction | None = None,
    start_pts: int = 0,
) -> int:
    """Encode RGB frames (HxWx3 uint8, size taken from the first) to a yuv420p mp4, pts = frame number; creates the
    parent folder. `gop` / `bframes` / `preset`: encoder defaults when None; `threads=1` for a single encoding thread.
    `time_base` / `start_pts`: frame n at pts `start_pts + n / fps / time_base` (a stream whose first frame is not at
    0). Returns the number of frames written (0: a container without a stream)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"crf": str(crf)}
    options |= {"g": str(gop)} if gop is not None else {}
    options |= {"bf": str(bframes)} if bframes is not None else {}
    options |= {"preset": preset} if preset is not None else {}
    n = 0
    with av.open(str(path), "w") as container:
        stream = None
        for rgb in frames:
            if stream is None:
                stream = encoder_stream(container, codec, fps, options)
                stream.height, stream.width = rgb.shape[:2]
                stream.pix_fmt = "yuv420p"
                if threads is not None:
                    stream.codec_context.thread_count = threads
                if time_base is not None:
                    stream.codec_context.time_base = stream.time_base = time_base
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = start_pts + (n if time_base is None else round(Fraction(n, fps) / time_base))
            if time_base is not None:
                frame.time_base = time_base
            container.mux(stream.encode(frame))
            n += 1
        if stream is not None:
            container.mux(stream.encode(None))
    return n
