"""A camera whose frames are rows of an image array (T, H, W, 3) in a Zarr or HDF5 store, read in blocks while
iterated and turned into uint8 RGB: uint8 as stored, float by the layout's full scale (Diffusion Policy's released
PushT buffer holds float32 0..255, its dataset divides by 255: `layouts.yaml`)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from adapters.arrays.layouts import Container
from adapters.arrays.stores import open_store
from adapters.base import CameraSource
from adapters.cameras import fit_rgb, runs
from adapters.storage.location import Location
from schemas.canonical import Camera
from schemas.image_size import FrameFit

BLOCK = 64  # rows read at once


class ImageRangeError(ValueError):
    """Image values outside the layout's full scale: not images of this layout."""


def to_uint8(block: np.ndarray, scale: float) -> np.ndarray:
    """Image rows -> uint8: uint8 as is; a float or wider integer array within [0, scale] mapped to 0..255, rounded."""
    if block.dtype == np.uint8:
        return block
    values = block.astype(np.float64)
    lo, hi = (float(np.min(values)), float(np.max(values))) if values.size else (0.0, 0.0)
    if not (lo >= 0 and hi <= scale):  # a NaN anywhere makes min and max NaN, which fails too
        raise ImageRangeError(f"{block.dtype} image values in [{lo}, {hi}], outside 0..{scale:g}")
    return np.rint(values * (255.0 / scale)).astype(np.uint8)


class ArrayImagesCamera(CameraSource):
    """Rows `start`..`start + len(timestamps)` of image array `key` in the store at `path`."""

    def __init__(
        self,
        path: Location,
        container: Container,
        key: str,
        start: int,
        timestamps: np.ndarray,
        height: int,
        width: int,
        scale: float,
        canonical: Camera | None = None,
    ) -> None:
        self.path, self.container, self.key, self.start, self.scale = path, container, key, start, scale
        super().__init__(key.rsplit("/", 1)[-1], canonical, timestamps, height, width)

    def frames(self, indices: list[int] | None = None, fit: FrameFit | None = None) -> Iterator[tuple[int, np.ndarray]]:
        wanted = list(range(len(self))) if indices is None else list(indices)
        with open_store(self.path, self.container) as store:
            for run in runs(wanted, BLOCK):
                first = run[0]
                block = store.read(self.key, self.start + first, self.start + run[-1] + 1)
                try:
                    block = to_uint8(block, self.scale)
                except ImageRangeError as e:
                    raise ImageRangeError(f"{self.path}: {self.key}[{self.start + first}:]: {e}") from None
                for i in run:
                    yield i, fit_rgb(np.ascontiguousarray(block[i - first]), fit)
