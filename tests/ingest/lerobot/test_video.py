"""The streaming encoder: frame timing as lerobot's files, buffer reuse by the caller, codec options."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from ingest.lerobot.video import ThreadedVideoEncoder, VideoCodec, VideoEncoder, probe_video_info
from ingest.lerobot.video_read import decode_frames
from tests.fixtures.episodes import moving_texture


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def test_timing_matches_lerobot_files(tmp_path: Path) -> None:
    """time_base 1/15360, pts step 15360/fps, keyframe every 2nd frame (LEROBOT_V21.md section 1)."""
    path = tmp_path / "v.mp4"
    enc = VideoEncoder(path, 64, 48, 30, VideoCodec())
    for t in range(10):
        enc.encode(moving_texture(48, 64, t))
    enc.close()
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        assert s.time_base.denominator == 15360
        frames = list(c.decode(s))
    assert [f.pts for f in frames[:4]] == [0, 512, 1024, 1536]
    assert [f.key_frame for f in frames[:6]] == [True, False, True, False, True, False]
    info = probe_video_info(path)
    assert (info.codec, info.pix_fmt, info.fps, info.width, info.height, info.channels) == (
        "av1",
        "yuv420p",
        30,
        64,
        48,
        3,
    )


def test_threaded_encoder_copies_the_callers_buffer(tmp_path: Path) -> None:
    path = tmp_path / "v.mp4"
    enc = ThreadedVideoEncoder(VideoEncoder(path, 64, 48, 10, VideoCodec(crf=10)), depth=32)
    buf = np.empty((48, 64, 3), np.uint8)
    originals = []
    for t in range(12):
        buf[...] = moving_texture(48, 64, t)  # the caller reuses one buffer
        originals.append(buf.copy())
        enc.encode(buf)
    buf[...] = 0  # scribble over it while frames may still be queued
    enc.close()
    decoded = [f for _, f in decode_frames(path)]
    assert len(decoded) == 12
    assert min(_psnr(a, b) for a, b in zip(originals, decoded, strict=True)) > 30


def test_encoder_errors_surface_in_the_callers_thread(tmp_path: Path) -> None:
    class Failing(VideoEncoder):
        def encode_frame(self, frame: av.VideoFrame) -> None:
            if self.frames == 3:
                raise OSError("disk full")
            super().encode_frame(frame)

    enc = ThreadedVideoEncoder(Failing(tmp_path / "v.mp4", 64, 48, 10, VideoCodec()), depth=2)
    with pytest.raises(OSError, match="disk full"):
        for t in range(20):
            enc.encode(moving_texture(48, 64, t))
        enc.close()
    enc.abort()


def test_pyav_rescales_silently_so_the_builder_must_check_sizes(tmp_path: Path) -> None:
    """Why `EpisodeBuilder` checks frame sizes itself: the encoder would quietly rescale a wrong-sized frame."""
    enc = VideoEncoder(tmp_path / "v.mp4", 64, 48, 10, VideoCodec())
    enc.encode(np.zeros((96, 128, 3), np.uint8))
    enc.close()
    assert next(decode_frames(tmp_path / "v.mp4"))[1].shape == (48, 64, 3)


@pytest.mark.parametrize("codec", [VideoCodec(), VideoCodec.h264(), VideoCodec(vcodec="hevc", crf=28)])
def test_codecs_round_trip(tmp_path: Path, codec: VideoCodec) -> None:
    path = tmp_path / "v.mp4"
    enc = VideoEncoder(path, 64, 48, 10, codec)
    frames = [moving_texture(48, 64, t) for t in range(6)]
    for f in frames:
        enc.encode(f)
    enc.close()
    decoded = [f for _, f in decode_frames(path)]
    assert len(decoded) == 6 and min(_psnr(a, b) for a, b in zip(frames, decoded, strict=True)) > 30


def _encode_options(path: Path, codec: VideoCodec) -> tuple[dict[str, str], dict[str, str]]:
    """Encodes a few frames; returns the options the encoder was handed and those it left unconsumed on opening."""
    enc = VideoEncoder(path, 64, 48, 10, codec)
    handed = dict(enc._stream.codec_context.options)
    for t in range(6):
        enc.encode(moving_texture(48, 64, t))
    unconsumed = dict(enc._stream.codec_context.options)  # after avcodec_open2: only what the encoder did not take
    enc.close()
    return handed, unconsumed


def test_svt_threads_limit_its_pools_without_changing_output(tmp_path: Path) -> None:
    """SVT-AV1 ignores thread_count; `threads` reaches it as `lp` and the bitstream stays identical.

    Asserts on what the encoder is handed and takes, not on the process's thread count (other threads come and go)."""
    assert VideoCodec(threads=1).options()["svtav1-params"] == "lp=1"
    assert "svtav1-params" not in VideoCodec.h264(threads=1).options()
    default, default_left = _encode_options(tmp_path / "default.mp4", VideoCodec())
    one, one_left = _encode_options(tmp_path / "lp1.mp4", VideoCodec(threads=1))
    assert "svtav1-params" not in default  # SVT sizes its pools from the machine's cores
    assert one["svtav1-params"] == "lp=1"
    assert default_left == one_left == {}  # libsvtav1 took every option, `svtav1-params` included
    assert (tmp_path / "default.mp4").read_bytes() == (tmp_path / "lp1.mp4").read_bytes()
