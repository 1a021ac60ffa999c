"""RoboMIND cameras (`adapters/robomind/camera.py`): frames decode in true colour whichever channel order the release
stores, and a bad frame later in an episode names its dataset and index.

RoboMIND intrinsics (`adapters/robomind/camera.py`): raw buffers decode, the maker's matrix is given only to an
image of the size it was measured at.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from adapters.robomind.adapter import RoboMINDAdapter
from adapters.robomind.camera import FrameDecodeError
from adapters.synthetic.robomind import RED, EpisodeSpec, WrittenEpisode, write_robomind
from tests.adapters.robomind.conftest import N, discover_refs, robot_ref
from tests.fixtures.writers.robomind import as_raw_buffers


@pytest.mark.parametrize("robot", ["franka_3rgb", "ur_1rgb", "agilex_3rgb", "tienkung_xsens_1rgb"])
def test_frames_decode_in_true_colour(release: tuple[Path, dict[str, WrittenEpisode]], robot: str) -> None:
    """The patch written red comes back red whichever channel order the release stores (a swap makes it blue)."""
    raw = RoboMINDAdapter().read(robot_ref(release[0], robot))
    for cam in raw.cameras.values():
        frames = list(cam.frames([0, N - 1]))
        assert [i for i, _ in frames] == [0, N - 1]
        for _, img in frames:
            assert img.shape == (48, 64, 3) and img.dtype == np.uint8
            patch = img[2:10, 2:14].reshape(-1, 3).mean(axis=0)
            assert np.abs(patch - RED).max() < 12, patch


def test_a_bad_frame_later_in_the_episode_names_its_index(tmp_path: Path) -> None:
    import numpy as np

    [w] = write_robomind(tmp_path, [EpisodeSpec("agilex_3rgb", "t", "e1", 6)]).values()
    with h5py.File(w.path, "a") as f:
        f["observations/rgb_images/camera_front"][4] = np.frombuffer(b"garbage", np.uint8)
    cam = RoboMINDAdapter().read(next(RoboMINDAdapter().discover(tmp_path))).cameras["camera_front"]
    assert len(list(cam.frames([0, 3]))) == 2
    with pytest.raises(FrameDecodeError, match=r"observations/rgb_images/camera_front\[4\]: neither"):
        list(cam.frames())


def test_raw_buffers_and_the_makers_intrinsics(tmp_path: Path) -> None:
    """Raw 480x640 buffers (the maker's fallback when imdecode fails) decode too; a 640x480 UR camera_top gets the
    maker's matrix, a 64x48 one none (its principal point is not near the image centre)."""
    (written,) = write_robomind(tmp_path / "raw", [EpisodeSpec("ur_1rgb", "t", "e1", 3)], size=(480, 640)).values()
    as_raw_buffers(written, (480, 640))
    raw = RoboMINDAdapter().read(discover_refs(tmp_path / "raw")[0])
    cam = raw.cameras["camera_top"]
    [(_, img)] = list(cam.frames([2]))
    assert img.shape == (480, 640, 3) and np.abs(img[5:50, 5:50].reshape(-1, 3).mean(0) - RED).max() < 1
    assert cam.intrinsics is not None and cam.intrinsics[0, 2] == pytest.approx(317.789, abs=1e-3)
    write_robomind(tmp_path / "small", [EpisodeSpec("ur_1rgb", "t", "e1", 3)])
    assert RoboMINDAdapter().read(discover_refs(tmp_path / "small")[0]).cameras["camera_top"].intrinsics is None
