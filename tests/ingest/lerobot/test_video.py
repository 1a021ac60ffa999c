"""The streaming encoder: frame timing as lerobot's files, buffer reuse by the caller, codec options, and a hung
encoder given up in bounded time."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from ingest.lerobot import video
from ingest.lerobot.errors import EpisodeError
from ingest.lerobot.video import (
    EncoderHungError,
    ThreadedVideoEncoder,
    VideoCodec,
    VideoEncoder,
    probe_video_info,
    unbounded_encoder_waits,
)
from ingest.lerobot.video_read import decode_frames
from ingest.lerobot.writer import LeRobotWriter, stage_episode
from tests.fixtures.episodes import canonical_frames, moving_texture, write_canonical_dataset


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def test_timing_matches_lerobot_files(tmp_path: Path) -> None:
    """time_base 1/15360, pts step 15360/fps, keyframe every 2nd frame (what lerobot 0.3.3 writes)."""
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


def test_svt_default_is_the_measured_preset_12_and_null_the_librarys(tmp_path: Path) -> None:
    """BENCHMARKS.md "Codec settings": preset 12 (lerobot 0.6.1's) unless a spec says otherwise; `preset: null` leaves
    it to SVT-AV1, whose own default encodes differently (slower, other bytes)."""
    assert VideoCodec().options() == {"g": "2", "crf": "30", "preset": "12"}
    assert VideoCodec.model_validate({"preset": None}).options() == {"g": "2", "crf": "30"}
    handed, left = _encode_options(tmp_path / "p12.mp4", VideoCodec())
    library, _ = _encode_options(tmp_path / "lib.mp4", VideoCodec(preset=None))
    assert handed["preset"] == "12" and left == {} and "preset" not in library
    assert (tmp_path / "p12.mp4").read_bytes() != (tmp_path / "lib.mp4").read_bytes()


# A hang as SVT-AV1 4.1's in its final flush: the call blocks in a wait that releases the GIL and does not return.
HANG_S = 60.0  # far past the bounds below; released at the end of each test


@pytest.fixture
def stuck(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Bounds of about a second (`WAIT_BASE_S` 0.5 s); the event ends every forced hang when the test is over."""
    monkeypatch.setattr(video, "WAIT_BASE_S", 0.5)
    release = threading.Event()
    yield release
    release.set()


def test_a_hung_flush_fails_in_bounded_time_naming_the_file(tmp_path: Path, stuck: threading.Event) -> None:
    class Stuck(VideoEncoder):
        def _drain(self) -> None:
            stuck.wait(HANG_S)

    enc = Stuck(tmp_path / "cam.mp4", 64, 48, 10, VideoCodec())
    for t in range(5):
        enc.encode(moving_texture(48, 64, t))
    t0 = time.monotonic()
    with pytest.raises(EncoderHungError, match=r"^SVT-AV1 did not finish flushing cam\.mp4 in 1 s \(5 frames of 64x48"):
        enc.close()
    enc.abort()  # the hung codec is not touched again: returns at once
    assert enc.hung and time.monotonic() - t0 < 5


def test_a_hung_threaded_encoder_fails_the_next_frame_in_bounded_time(tmp_path: Path, stuck: threading.Event) -> None:
    class Stuck(VideoEncoder):
        def encode_frame(self, frame: av.VideoFrame) -> None:
            stuck.wait(HANG_S)

    enc = ThreadedVideoEncoder(Stuck(tmp_path / "cam.mp4", 64, 48, 10, VideoCodec()), depth=2)
    t0 = time.monotonic()
    with pytest.raises(EncoderHungError, match=r"^SVT-AV1 did not take a frame for cam\.mp4 in 1 s"):
        for t in range(10):  # one frame stuck in the encoder, two queued, the fourth waits for room
            enc.encode(moving_texture(48, 64, t))
    enc.abort()
    assert time.monotonic() - t0 < 5


def test_a_hung_flush_in_the_writer_fails_its_episode_and_abort_cleans_up(
    tmp_path: Path, stuck: threading.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The suite's and the library's in-process writes: an EpisodeError naming the camera instead of a hung process."""
    root = tmp_path / "ds"
    write_canonical_dataset(root, [2])
    with LeRobotWriter.open(root) as w:
        info = w.info
    monkeypatch.setattr(VideoEncoder, "_drain", lambda self: stuck.wait(HANG_S))
    builder = stage_episode(root, info, VideoCodec(), task="t", label="w/1")
    for f in canonical_frames(3):
        builder.add_frame(f)
    t0 = time.monotonic()
    with pytest.raises(EpisodeError, match=r"SVT-AV1 did not finish flushing observation\.images\.\w+\.mp4 in 1 s"):
        builder.finish()
    builder.abort()
    assert not builder.stage_dir.exists() and time.monotonic() - t0 < 10


def test_waits_are_unbounded_where_the_caller_owns_the_deadline(tmp_path: Path, stuck: threading.Event) -> None:
    """Inside `unbounded_encoder_waits` (the ingest job's watchdog in a Ray worker) a flush slower than the bound
    finishes, and the file is whole; outside it the same flush is given up."""

    class Slow(VideoEncoder):
        def _drain(self) -> None:
            time.sleep(1.5)
            super()._drain()

    def write(name: str) -> Slow:
        enc = Slow(tmp_path / name, 64, 48, 10, VideoCodec())
        for t in range(4):
            enc.encode(moving_texture(48, 64, t))
        return enc

    with unbounded_encoder_waits():
        write("whole.mp4").close()
    assert len(list(decode_frames(tmp_path / "whole.mp4"))) == 4
    with pytest.raises(EncoderHungError):
        write("cut.mp4").close()


def test_a_codec_stuck_on_a_frame_in_an_in_process_write_fails_in_bounded_time(
    tmp_path: Path, stuck: threading.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SVT-AV1 once hung inside `svt_av1_enc_send_picture` in a test's in-process write (the caller blocked for good,
    the suite with it): where no watchdog owns the deadline the writer feeds the codec from its own thread, so the
    hang is an EpisodeError naming the camera, and the builder aborts."""
    root = tmp_path / "ds"
    write_canonical_dataset(root, [2])
    with LeRobotWriter.open(root) as w:
        info = w.info
    monkeypatch.setattr(VideoEncoder, "encode_frame", lambda self, frame: stuck.wait(HANG_S))
    builder = stage_episode(root, info, VideoCodec(), task="t", label="w/1")
    t0 = time.monotonic()
    with pytest.raises(EpisodeError, match=r"SVT-AV1 did not take a frame for observation\.images\.\w+\.mp4 in 1 s"):
        for f in canonical_frames(40):
            builder.add_frame(f)
    builder.abort()
    assert not builder.stage_dir.exists() and time.monotonic() - t0 < 10
