"""The robomimic writer (`adapters/synthetic/arrays.py`) against the maker's layout (the keys, shapes and attributes
adapters/arrays/layouts.yaml cites): robomimic / LIBERO `data/demo_N` groups with `obs` and `next_obs` one row apart;
`truncate` leaves a file h5py cannot open."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from adapters.synthetic.arrays import truncate, write_robomimic
from tests.fixtures.writers.arrays import as_libero, with_control_freq, write_aloha


def test_robomimic_layout(tmp_path: Path) -> None:
    path = with_control_freq(write_robomimic(tmp_path / "sub" / "image.hdf5", [5, 7], image_size=(12, 16)), 15)
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
    path = as_libero(with_control_freq(write_robomimic(tmp_path / "x_demo.hdf5", [3]), None), "open the drawer")
    with h5py.File(path) as f:
        assert json.loads(f["data"].attrs["problem_info"])["language_instruction"] == "open the drawer"
        assert "control_freq" not in json.loads(f["data"].attrs["env_args"])["env_kwargs"]
        assert "agentview_rgb" in f["data/demo_0/obs"]


def test_truncate_leaves_a_file_h5py_cannot_open(tmp_path: Path) -> None:
    path = truncate(write_aloha(tmp_path / "episode_0.hdf5", 5))
    with pytest.raises(OSError):
        h5py.File(path, "r")
