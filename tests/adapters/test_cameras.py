"""Shared video cameras: a whole file, a window of it (seek + pre-roll), packet probes without decoding."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from adapters.cameras import VideoClipCamera, VideoFileCamera, packet_times, probe_video
from adapters.synthetic.video import synthetic_frame, write_mp4

FPS, N, H, W = 30, 90, 32, 48


@pytest.fixture(scope="module")
def mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cameras") / "sub" / "video.mp4"
    assert write_mp4(path, (synthetic_frame(H, W, t, 3) for t in range(N)), FPS, gop=15, bframes=2) == N
    return path


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


def test_whole_file_and_probes(mp4: Path) -> None:
    cam = VideoFileCamera(mp4, "cam", None)
    assert (len(cam), cam.height, cam.width) == (N, H, W)
    np.testing.assert_allclose(cam.timestamps, np.arange(N) / FPS, atol=1e-9)
    with av.open(str(mp4)) as c:
        pts, seconds = packet_times(c, c.streams.video[0])
    assert np.all(np.diff(pts) > 0) and np.array_equal(seconds, cam.timestamps)
    duration, fps = probe_video(mp4)
    assert duration == pytest.approx(N / FPS) and fps == FPS


@pytest.mark.parametrize("tolerance_s", [0.0, 0.25 / FPS])
def test_window_frames_times_and_seek(mp4: Path, tolerance_s: float) -> None:
    cam = VideoClipCamera(mp4, "cam", None, 2.0, 2.5, tolerance_s=tolerance_s)  # frames 60..74, bounds on frames
    assert (len(cam), cam.height, cam.width, cam.average_rate) == (15, H, W, FPS)
    np.testing.assert_allclose(cam.timestamps, np.arange(15) / FPS, atol=1e-9)
    frames = dict(cam.frames())
    assert sorted(frames) == list(range(15))
    assert min(psnr(frames[i], synthetic_frame(H, W, 60 + i, 3)) for i in range(15)) > 30
    assert cam.decoded <= 15 + 15  # pre-roll from the keyframe before 2 s at most, nothing before
    assert [i for i, _ in cam.frames([3, 9])] == [3, 9] and cam.decoded <= 10 + 15
    assert dict(cam.frames([])) == {} and cam.decoded == 0
