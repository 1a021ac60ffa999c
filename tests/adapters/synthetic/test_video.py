"""The test video helpers (`adapters/synthetic/video.py`), checked through FFmpeg's own decoder (PyAV): the mp4 holds
one H.264 yuv420p stream at the given rate with every frame, each frame decodes back to the pattern drawn (PSNR
> 30 dB), pts count frames from `start_pts` in the stream's time base; the pattern moves every frame and its red and
blue channels differ (a BGR swap shows); the kit around them writes those frames, a file that only looks like an mp4,
and JPEG/PNG bytes that decode to the frame drawn (or its channels swapped, with `store_bgr`)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from adapters.synthetic.video import (
    encode_image,
    synthetic_frame,
    synthetic_frames,
    write_mp4,
    write_not_mp4,
    write_synthetic_mp4,
)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


def test_the_mp4_decodes_to_the_frames_drawn(tmp_path: Path) -> None:
    frames = [synthetic_frame(48, 64, t, seed=1.5) for t in range(12)]
    assert write_mp4(tmp_path / "a" / "v.mp4", frames, fps=15) == 12
    with av.open(str(tmp_path / "a" / "v.mp4")) as c:
        s = c.streams.video[0]
        assert (s.codec_context.name, s.codec_context.pix_fmt) == ("h264", "yuv420p")
        assert (s.width, s.height, s.average_rate) == (64, 48, 15)
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(s)]
    assert len(decoded) == 12
    assert min(_psnr(d, f) for d, f in zip(decoded, frames, strict=True)) > 30
    assert _psnr(decoded[0], frames[1]) < _psnr(decoded[0], frames[0])  # frame order kept


def test_pts_start_where_asked(tmp_path: Path) -> None:
    tb = Fraction(1, 90000)
    write_mp4(tmp_path / "v.mp4", [synthetic_frame(32, 32, t) for t in range(4)], fps=10, time_base=tb, start_pts=4500)
    with av.open(str(tmp_path / "v.mp4")) as c:
        s = c.streams.video[0]
        times = [float(f.pts * f.time_base) for f in c.decode(s)]
    np.testing.assert_allclose(times, 0.05 + np.arange(4) / 10, atol=1e-4)
    assert write_mp4(tmp_path / "empty.mp4", [], fps=10) == 0


def test_the_pattern_moves_and_tells_red_from_blue() -> None:
    a, b = synthetic_frame(24, 32, 0), synthetic_frame(24, 32, 1)
    assert a.dtype == np.uint8 and a.shape == (24, 32, 3)
    assert np.abs(a.astype(int) - b).mean() > 5  # never static
    assert np.abs(a[..., 0].astype(int) - a[..., 2]).mean() > 20  # R and B differ
    assert not np.array_equal(synthetic_frame(24, 32, 0, seed=1), a)  # the seed changes it
    np.testing.assert_array_equal(synthetic_frame(24, 32, 3), synthetic_frame(24, 32, 3))  # deterministic


def test_the_kit_writes_the_frames_it_names(tmp_path: Path) -> None:
    frames = synthetic_frames(5, 24, 32, seed=2.5)
    assert len(frames) == 5 and all(np.array_equal(f, synthetic_frame(24, 32, t, 2.5)) for t, f in enumerate(frames))
    assert write_synthetic_mp4(tmp_path / "k" / "v.mp4", 5, 10, 24, 32, seed=2.5, gop=2) == 5
    with av.open(str(tmp_path / "k" / "v.mp4")) as c:
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])]
    assert min(_psnr(d, f) for d, f in zip(decoded, frames, strict=True)) > 30


def test_a_file_that_only_looks_like_an_mp4(tmp_path: Path) -> None:
    path = write_not_mp4(tmp_path / "a" / "v.mp4", bytes(range(256)) * 4)
    assert path.read_bytes()[4:8] == b"ftyp"
    with pytest.raises(av.error.InvalidDataError):
        with av.open(str(path)) as c:
            list(c.decode(c.streams.video[0]))


def test_encoded_images_decode_to_the_rgb_frame_drawn() -> None:
    rgb = synthetic_frame(32, 48, 3)
    for fmt in ("jpeg", "png"):
        bgr = cv2.imdecode(np.frombuffer(encode_image(rgb, fmt), np.uint8), cv2.IMREAD_COLOR)
        back = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        assert _psnr(back, rgb) > (30 if fmt == "jpeg" else 99), fmt
    swapped = cv2.imdecode(np.frombuffer(encode_image(rgb, "png", store_bgr=True), np.uint8), cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(swapped, rgb)  # stored as if RGB: a reader taking the bytes as BGR gets RGB back
