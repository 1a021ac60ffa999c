"""A RoboMIND camera: per-step images inside the episode's HDF5 (`observations/rgb_images/<camera>`), read lazily.

Each element of the variable-length uint8 dataset is one frame. The maker decodes it with `cv2.imdecode` and, when
that fails, takes the bytes as a raw HxWx3 buffer of 720x1280 or 480x640 (`static/quick_start.ipynb` @ 2433e72b,
`decoder_image`; any4lerobot `robomind2lerobot/robomind_uitls/robomind_uitls.py` does the same). Which channel order
the decoded array has depends on the release (`layouts.RobotLayout.rgb_in_bgr_jpeg`): Franka and UR arrays come out
of cv2 as BGR (a normal JPEG), AgileX and Tien Kung arrays come out of cv2 already RGB (the recorder encoded RGB
arrays as if they were BGR). Frames are read one at a time from the open file and decoded in memory (no temp files);
the file is opened once per `frames()` pass, never held between passes.

Pinhole intrinsics per RoboMIND robot and camera (`intrinsics.yaml`), as the maker publishes them
(x-humanoid-robomind.github.io `static/RoboMIND_intrinsics.md` @ eab0480d: fx, fy, cx, cy in pixels; no distortion
given). The table names no image size, and one release (UR, Franka 1RGB) holds both 640x480 and 1280x720 `camera_top`
frames (any4lerobot's "not consistent image shape" retry), so a matrix is used only where its principal point sits
within 6 % of the image centre of the frame actually stored; otherwise the camera gets none.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import h5py
import numpy as np
from pydantic import RootModel

from adapters.base import CameraSource
from adapters.cameras import fit_rgb, runs
from adapters.hostile import bounds
from adapters.hostile.h5 import open_h5
from adapters.storage.location import Location
from schemas.canonical import Camera
from schemas.data_file import read_yaml
from schemas.image_size import FrameFit

# Elements are read in slices of up to this many rows: one h5py read of a variable-length element costs about as much
# as a slice of six (1.2-1.4 ms vs 0.2-0.25 ms per element on 240x320 JPEGs, this machine), so a slice pays off even
# when the resampler keeps every third frame.
BLOCK = 32
RAW_SHAPES = {720 * 1280 * 3: (720, 1280, 3), 480 * 640 * 3: (480, 640, 3)}  # the maker's raw-buffer fallback


class FrameDecodeError(ValueError):
    """One stored frame is neither a decodable image nor a raw buffer of a known size."""


def decode_frame(data: np.ndarray, *, rgb_in_bgr_jpeg: bool) -> np.ndarray:
    """One stored element (uint8 bytes) -> HxWx3 uint8 RGB, as the maker's reader decodes it."""
    buf = np.asarray(data, dtype=np.uint8).reshape(-1)
    arr = cv2.imdecode(buf, cv2.IMREAD_COLOR) if buf.size else None
    if arr is None:
        shape = RAW_SHAPES.get(buf.size)
        if shape is None:
            raise FrameDecodeError(f"neither a JPEG/PNG nor a raw 720x1280/480x640 buffer ({buf.size} bytes)")
        arr = buf.reshape(shape)  # raw arrays are in the order cv2 would have decoded them to (the maker's code)
    return arr if rgb_in_bgr_jpeg else cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)


class HDF5ImagesCamera(CameraSource):
    """Frames of `observations/rgb_images/<name>` in `path`, decoded while iterated."""

    def __init__(
        self,
        path: Location,
        dataset: str,
        name: str,
        canonical: Camera | None,
        timestamps: np.ndarray,
        first: np.ndarray,
        *,
        rgb_in_bgr_jpeg: bool,
        intrinsics: np.ndarray | None = None,
    ) -> None:
        self.path, self.dataset, self.rgb_in_bgr_jpeg = path, dataset, rgb_in_bgr_jpeg
        super().__init__(name, canonical, timestamps, first.shape[0], first.shape[1], intrinsics)

    def frames(self, indices: list[int] | None = None, fit: FrameFit | None = None) -> Iterator[tuple[int, np.ndarray]]:
        with open_h5(self.path) as f:
            for i, data in _elements(f[self.dataset], list(range(len(self))) if indices is None else list(indices)):
                try:
                    rgb = decode_frame(data, rgb_in_bgr_jpeg=self.rgb_in_bgr_jpeg)
                except FrameDecodeError as e:
                    raise FrameDecodeError(f"{self.path}: {self.dataset}[{i}]: {e}") from None
                if rgb.shape[:2] != (self.height, self.width):
                    raise FrameDecodeError(
                        f"{self.path}: {self.dataset}[{i}] is {rgb.shape[1]}x{rgb.shape[0]}, frame 0 "
                        f"{self.width}x{self.height}"
                    )
                yield i, fit_rgb(rgb, fit)


def _elements(ds: h5py.Dataset, indices: list[int]) -> Iterator[tuple[int, np.ndarray]]:
    """(index, stored bytes) for sorted `indices`, read in slices spanning at most BLOCK rows."""
    for run in runs(indices, BLOCK):
        block = bounds.read_array(ds, run[0], run[-1] + 1)
        yield from ((i, block[i - run[0]]) for i in run)


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
