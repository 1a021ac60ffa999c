"""RoboMIND intrinsics (`adapters/robomind/intrinsics.py`): raw buffers decode, the maker's matrix is given only to an
image of the size it was measured at."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adapters.robomind.adapter import RoboMINDAdapter
from adapters.synthetic.robomind import RED, EpisodeSpec, write_robomind
from tests.adapters.robomind.conftest import discover_refs


def test_raw_buffers_and_the_makers_intrinsics(tmp_path: Path) -> None:
    """Raw 480x640 buffers (the maker's fallback when imdecode fails) decode too; a 640x480 UR camera_top gets the
    maker's matrix, a 64x48 one none (its principal point is not near the image centre)."""
    write_robomind(tmp_path / "raw", [EpisodeSpec("ur_1rgb", "t", "e1", 3, raw=True)], size=(480, 640))
    raw = RoboMINDAdapter().read(discover_refs(tmp_path / "raw")[0])
    cam = raw.cameras["camera_top"]
    [(_, img)] = list(cam.frames([2]))
    assert img.shape == (480, 640, 3) and np.abs(img[5:50, 5:50].reshape(-1, 3).mean(0) - RED).max() < 1
    assert cam.intrinsics is not None and cam.intrinsics[0, 2] == pytest.approx(317.789, abs=1e-3)
    write_robomind(tmp_path / "small", [EpisodeSpec("ur_1rgb", "t", "e1", 3)])
    assert RoboMINDAdapter().read(discover_refs(tmp_path / "small")[0]).cameras["camera_top"].intrinsics is None
