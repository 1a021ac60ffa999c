"""Video helpers shared by the synthetic writers: a deterministic moving test frame and an mp4 encoder (PyAV)."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def synthetic_frame(height: int, width: int, t: int, seed: float = 0) -> np.ndarray:
    """A smooth colour pattern moving 2 px per frame: compressible (PSNR > 30 dB through h264 or JPEG), never
    static, different per seed and with distinct R and B channels (a BGR mix-up shows)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    phase = (x + 2 * t) / 9.0 + seed
    r = 127 + 100 * np.sin(phase)
    g = 127 + 100 * np.sin(y / 7.0 + 0.5 * phase)
    b = 127 + 100 * np.cos((x - y) / 11.0 + 0.1 * t + seed)
    return np.stack([r, g, b], axis=-1).clip(0, 255).astype(np.uint8)


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
                stream = container.add_stream(codec, rate=fps, options=options)
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
