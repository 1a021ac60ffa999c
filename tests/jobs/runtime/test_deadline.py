"""The episode deadline's arithmetic and markers (the kill itself is tested in a real job: tests/jobs/ingest)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from ingest.episode import ResampledCamera
from ingest.lerobot import video
from ingest.lerobot.video import EncoderHungError, VideoCodec, VideoEncoder
from jobs.runtime import deadline
from jobs.runtime.deadline import TaskDeadline, clear_markers, episode_pixels, hung_attempts, timeout_message, watchdog
from tests.fixtures.episodes import moving_texture


class _Source:  # only the source's size is read
    height, width = 480, 640


class _Episode:
    def __init__(self, cameras: dict[str, ResampledCamera]) -> None:
        self.cameras = cameras


def test_pixels_count_stored_frames_and_every_source_frame_decoded() -> None:
    cam = ResampledCamera(source=_Source(), indices=np.arange(0, 300, 3))  # type: ignore[arg-type]  # 10 Hz from 30
    stored, decoded = episode_pixels([_Episode({"a": cam, "b": cam})])
    assert stored == 2 * 100 * 480 * 640 and decoded == 2 * 298 * 480 * 640


def test_deadline_of_a_typical_episode_is_minutes_not_seconds() -> None:
    # 300 frames at 224x224, decoded from 900 frames of 480x640: 60 + 30.1 + 55.3 s
    assert TaskDeadline().seconds(300 * 224 * 224, 900 * 480 * 640) == 146


def test_a_watchdog_past_its_deadline_outside_ray_leaves_a_marker_and_kills_nothing(tmp_path: Path) -> None:
    with watchdog(1, tmp_path, "src/sub/ep:1"):
        time.sleep(1.5)  # this process is no Ray worker: it must survive
    with watchdog(5, tmp_path, "src/sub/ep:1"):
        pass  # finished in time: no marker
    assert hung_attempts(tmp_path, "src/sub/ep:1") == [1] and hung_attempts(tmp_path, "other") == []
    assert timeout_message([1]) == "encoder did not finish in 1 s (1 attempt, each attempt's parse process killed)"
    clear_markers(tmp_path)
    assert hung_attempts(tmp_path, "src/sub/ep:1") == []


def test_where_the_watchdog_kills_it_owns_the_encoders_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a Ray worker an encoder slower than its own bound is left to the watchdog (kill, retry, then quarantine), not
    failed by the encoder; outside Ray, where the watchdog only logs, the encoder's bound stays."""
    monkeypatch.setattr(video, "WAIT_BASE_S", 0.2)
    drain = VideoEncoder._drain

    def slow(self: VideoEncoder) -> None:
        time.sleep(1.0)
        drain(self)

    monkeypatch.setattr(VideoEncoder, "_drain", slow)

    def flush(name: str) -> None:
        enc = VideoEncoder(tmp_path / name, 64, 48, 10, VideoCodec())
        enc.encode(moving_texture(48, 64, 0))
        enc.close()

    with watchdog(600, tmp_path, "ep"), pytest.raises(EncoderHungError):
        flush("outside.mp4")
    monkeypatch.setattr(deadline, "_in_ray_worker", lambda: True)  # its 600 s never pass: nothing is killed
    with watchdog(600, tmp_path, "ep"):
        flush("worker.mp4")
