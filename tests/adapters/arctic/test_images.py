"""An ARCTIC view folder as a lazy camera: frame i is `<i + ioi_offset:05d>.jpg`, decoded to RGB when iterated, a
frame of another size or an unreadable file named."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from adapters.arctic.images import FrameError, ImageFilesCamera, view_images
from adapters.synthetic.video import synthetic_frame


def _write(folder: Path, n: int, offset: int) -> list[np.ndarray]:
    folder.mkdir(parents=True)
    frames = [synthetic_frame(48, 64, t) for t in range(n)]
    for i, rgb in enumerate(frames):
        cv2.imwrite(str(folder / f"{i + offset:05d}.jpg"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return frames


def test_frames_are_the_offset_images_in_rgb(tmp_path: Path) -> None:
    frames = _write(tmp_path / "0", 4, offset=2)
    paths = view_images(tmp_path / "0", 2, 4)
    assert paths[0].name == "00002.jpg"
    cam = ImageFilesCamera(paths, "ego", None, np.arange(4) / 30)
    assert (cam.width, cam.height, len(cam)) == (64, 48, 4)
    got = dict(cam.frames([1, 3]))
    assert sorted(got) == [1, 3]
    assert np.abs(got[3].astype(float) - frames[3]).mean() < 4  # JPEG, in RGB order
    assert np.abs(got[3].astype(float) - frames[3][..., ::-1]).mean() > 10  # not BGR


def test_a_frame_of_another_size_is_named(tmp_path: Path) -> None:
    _write(tmp_path / "0", 2, offset=0)
    cv2.imwrite(str(tmp_path / "0" / "00001.jpg"), np.zeros((10, 10, 3), np.uint8))
    cam = ImageFilesCamera(view_images(tmp_path / "0", 0, 2), "ego", None, np.arange(2) / 30)
    with pytest.raises(FrameError, match=r"00001\.jpg: 10x10"):
        list(cam.frames())
