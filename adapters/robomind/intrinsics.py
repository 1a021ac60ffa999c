"""Pinhole intrinsics per RoboMIND robot and camera (`intrinsics.yaml`), as the maker publishes them
(x-humanoid-robomind.github.io `static/RoboMIND_intrinsics.md` @ eab0480d: fx, fy, cx, cy in pixels; no distortion
given). The table names no image size, and one release (UR, Franka 1RGB) holds both 640x480 and 1280x720 `camera_top`
frames (any4lerobot's "not consistent image shape" retry), so a matrix is used only where its principal point sits
within 6 % of the image centre of the frame actually stored; otherwise the camera gets none."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import RootModel

from schemas.data_file import read_yaml


class _Table(RootModel[dict[str, dict[str, tuple[float, float, float, float]]]]):
    """`intrinsics.yaml` beside this module: robot folder (without h5_) -> camera -> (fx, fy, cx, cy)."""


_TABLE = read_yaml(Path(__file__).with_name("intrinsics.yaml"), _Table).root
CENTRE_TOLERANCE = 0.06


def intrinsics_for(robot: str, camera: str, hw: tuple[int, int]) -> np.ndarray | None:
    """The maker's 3x3 matrix for `camera` of `robot` when it fits an image of `hw` (height, width), else None."""
    entry = _TABLE.get(robot, {}).get(camera)
    if entry is None:
        return None
    fx, fy, cx, cy = entry
    h, w = hw
    if abs(cx - w / 2) > CENTRE_TOLERANCE * w or abs(cy - h / 2) > CENTRE_TOLERANCE * h:
        return None
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
