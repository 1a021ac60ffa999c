"""The array-recording writers (`adapters/synthetic/arrays.py`) against the makers' layouts (the keys, shapes and
attributes adapters/arrays/layouts.yaml cites): robomimic / LIBERO `data/demo_N` groups with `obs` and `next_obs` one
row apart, an ACT episode file, a UMI buffer zipped with its root at the zip's root; `truncate` leaves a file h5py
cannot open."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import zarr

from adapters.synthetic.arrays import truncate, write_aloha, write_robomimic, write_umi


def test_robomimic_layout(tmp_path: Path) -> None:
    path = write_robomimic(tmp_path / "sub" / "image.hdf5", [5, 7], freq=15, image_size=(12, 16))
    with h5py.File(path) as f:
        data = f["data"]
        assert sorted(data) == ["demo_0", "demo_1"] and data.attrs["total"] == 12
        assert json.loads(data.attrs["env_args"])["env_kwargs"] == {"robots": ["Panda"], "control_freq": 15}
        demo = data["demo_1"]
        assert demo.attrs["num_samples"] == 7 and demo["actions"].shape == (7, 7) and demo["states"].shape[0] == 7
        assert demo["obs/agentview_image"].shape == (7, 12, 16, 3) and demo["obs/agentview_image"].dtype == np.uint8
        assert np.array_equal(demo["obs/robot0_eef_pos"][1:], demo["next_obs/robot0_eef_pos"][:-1])
        assert np.allclose(np.linalg.norm(demo["obs/robot0_eef_quat"][:], axis=1), 1)
        assert demo["dones"][:].tolist() == [False] * 6 + [True] and set(demo["actions"][:, -1]) == {-1.0, 1.0}
        assert "problem_info" not in data.attrs


def test_libero_additions(tmp_path: Path) -> None:
    path = write_robomimic(tmp_path / "x_demo.hdf5", [3], libero_task="open the drawer", freq=None)
    with h5py.File(path) as f:
        assert json.loads(f["data"].attrs["problem_info"])["language_instruction"] == "open the drawer"
        assert "control_freq" not in json.loads(f["data"].attrs["env_args"])["env_kwargs"]
        assert "agentview_rgb" in f["data/demo_0/obs"]


def test_aloha_episode(tmp_path: Path) -> None:
    with h5py.File(write_aloha(tmp_path / "episode_0.hdf5", 9)) as f:
        assert bool(f.attrs["sim"]) and f["observations/qpos"].shape == f["action"].shape == (9, 14)
        assert f["observations/qvel"].shape == (9, 14) and f["observations/images/top"].shape == (9, 6, 8, 3)
        assert np.array_equal(f["action"][:-1], f["observations/qpos"][1:])  # the action is the next position


def test_umi_buffer_zipped_at_the_root(tmp_path: Path) -> None:
    path = write_umi(tmp_path / "dataset.zarr.zip", [4, 10])
    assert ".zgroup" in zipfile.ZipFile(path).namelist() and not (tmp_path / "dataset.zarr.dir").exists()
    g = zarr.open_group(zarr.storage.ZipStore(path, mode="r"), mode="r")
    assert g["meta/episode_ends"][:].tolist() == [4, 10] and g["data/camera0_rgb"].shape == (10, 8, 8, 3)
    assert g["data/robot0_gripper_width"].shape == (10, 1)


def test_truncate_leaves_a_file_h5py_cannot_open(tmp_path: Path) -> None:
    path = truncate(write_aloha(tmp_path / "episode_0.hdf5", 5))
    with pytest.raises(OSError):
        h5py.File(path, "r")
