"""The egocentric camera (`adapters/humanoid_everyday/camera.py`): frames decoded lazily from the zip or the folder,
the same pixels either way, in the order asked; a broken or resized image raises a FrameError naming the episode,
the step and the path."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from adapters.humanoid_everyday.camera import FrameError, StepImagesCamera, read_frame
from adapters.humanoid_everyday.task import Episode
from adapters.storage.location import locate
from schemas.canonical import Camera
from tests.fixtures.writers.humanoid_everyday import EpisodeSpec, write_task


def _camera(episode: Episode, n: int) -> StepImagesCamera:
    images = [f"color/frame_{i:06d}.png" for i in range(n)]
    with episode.files() as f:
        first = read_frame(f, images[0], 0)
    return StepImagesCamera(episode, images, "egocentric", Camera.head, np.arange(n) / 30.0, first)


def test_zip_and_folder_give_the_same_frames(tmp_path: Path) -> None:
    z = write_task(tmp_path / "z", "t", [EpisodeSpec(steps=6)])
    folder = write_task(tmp_path / "f", "t", [EpisodeSpec(steps=6)], zipped=False)
    a = dict(_camera(Episode(zip_path=locate(z), folder="t/episode_0"), 6).frames([1, 4]))
    b = dict(_camera(Episode(zip_path=None, folder=locate(folder / "episode_0")), 6).frames([1, 4]))
    assert list(a) == [1, 4] and all(np.array_equal(a[i], b[i]) for i in a)
    assert a[4][0, 40, 2] == 4 and a[1].shape == (480, 640, 3)


def test_a_broken_or_resized_frame_is_named(tmp_path: Path) -> None:
    folder = write_task(tmp_path, "t", [EpisodeSpec(steps=4)], zipped=False) / "episode_0"
    (folder / "color" / "frame_000002.png").write_bytes(b"not an image")
    _, small = cv2.imencode(".png", np.zeros((48, 64, 3), np.uint8))
    (folder / "color" / "frame_000003.png").write_bytes(small.tobytes())
    cam = _camera(Episode(zip_path=None, folder=locate(folder)), 4)
    with pytest.raises(FrameError, match=r"episode_0: step 2 image 'color/frame_000002\.png': not a decodable image"):
        list(cam.frames([2]))
    with pytest.raises(FrameError, match=r"step 3 image .* is 64x48, frame 0 640x480"):
        list(cam.frames([3]))
