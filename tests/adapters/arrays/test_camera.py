"""Image arrays as cameras: uint8 kept, float scaled from the layout's full scale and rounded, values outside it
refused (not images of this layout); frames read in blocks in any order of indices, from Zarr and HDF5 alike, from
the episode's first row on."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import zarr

from adapters.arrays.camera import BLOCK, ArrayImagesCamera, ImageRangeError, to_uint8
from adapters.storage.location import locate


def test_to_uint8_keeps_uint8_and_scales_floats() -> None:
    u8 = np.arange(24, dtype=np.uint8).reshape(1, 2, 4, 3)
    assert to_uint8(u8, 255) is u8
    assert to_uint8(np.array([0.0, 127.6, 255.0], np.float32), 255).tolist() == [0, 128, 255]
    assert to_uint8(np.array([0.0, 0.5, 1.0]), 1.0).tolist() == [0, 128, 255]


@pytest.mark.parametrize("values", [[-0.5, 3.0], [0.0, 256.0], [np.nan, 1.0]])
def test_to_uint8_refuses_values_outside_the_scale(values: list[float]) -> None:
    with pytest.raises(ImageRangeError, match=r"outside 0\.\.255"):
        to_uint8(np.array(values), 255)


def _images(n: int) -> np.ndarray:
    return (np.arange(n)[:, None, None, None] + np.zeros((n, 4, 5, 3))).astype(np.uint8)  # frame k is all k


@pytest.mark.parametrize("container", ["zarr", "hdf5"])
def test_frames_from_an_offset_across_blocks(tmp_path: Path, container: str) -> None:
    n, start = 2 * BLOCK + 30, 17
    if container == "zarr":
        path = tmp_path / "buffer.zarr"
        zarr.open_group(path, mode="w", zarr_format=2).create_array("data/img", data=_images(n), chunks=(40, 4, 5, 3))
    else:
        path = tmp_path / "episode.hdf5"
        with h5py.File(path, "w") as f:
            f["data/img"] = _images(n)
    times = np.arange(n - start) / 10
    cam = ArrayImagesCamera(locate(path), container, "data/img", start, times, 4, 5, 255)
    assert (cam.name, len(cam), cam.height, cam.width) == ("img", n - start, 4, 5)
    wanted = [0, 1, 5, BLOCK + 3, BLOCK + 4, n - start - 1]  # sorted, as CameraSource.frames takes them
    got = list(cam.frames(wanted))
    assert [i for i, _ in got] == wanted
    for i, rgb in got:
        assert rgb.dtype == np.uint8 and rgb.shape == (4, 5, 3) and (rgb == start + i).all()
    assert len(list(cam.frames())) == n - start


def test_a_frame_out_of_range_names_the_store_and_the_rows(tmp_path: Path) -> None:
    path = tmp_path / "episode.hdf5"
    with h5py.File(path, "w") as f:
        f["img"] = np.full((3, 2, 2, 3), 300.0)
    cam = ArrayImagesCamera(locate(path), "hdf5", "img", 1, np.arange(2) / 10, 2, 2, 255)
    with pytest.raises(ImageRangeError, match=r"episode.hdf5: img\[1:\]: float64 image values in \[300.0, 300.0\]"):
        list(cam.frames([0]))
