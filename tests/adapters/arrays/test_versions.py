"""Issue 86 item 7: robosuite 0.1's demos (Sawyer, Baxter) were refused as "no hdf5 layout fits", without the version
they hold. They are now refused naming it, the robot (from the environment's name) and what the file lacks
(`adapters/arrays/versions.py`, robosuite 0.1's own code cited there). The logic on a file built here in 0.1's layout;
the real Sawyer and Baxter demos robosuite 0.1 shipped (`robosuite_v01_demos`) alike: its
BaxterPegInHole holds `states` only, and is named by its version all the same (issue 97 item 4)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from adapters.arrays.adapter import ArraysAdapter
from tests.realdata import realdata


def write_v01(path: Path, env: str = "SawyerLift", arms: int = 1, commands: bool = True) -> None:
    """A demo.hdf5 as robosuite 0.1's `gather_demonstrations_as_hdf5` writes it (two demos of 5 steps); without
    `commands`, `states` alone, as the real BaxterPegInHole demo robosuite 0.1.0 shipped."""
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        data.attrs.update({"date": "2-1-2019", "time": "12:0:0", "repository_version": "0.1.0", "env": env})
        for n in (1, 2):
            demo = data.create_group(f"demo_{n}")
            demo.attrs["model_file"] = f"model_{n}.xml"
            demo["states"] = np.zeros((5, 1 + 2 * 9))  # time, qpos, qvel
            if not commands:
                continue
            demo["joint_velocities"] = np.zeros((5, 7 * arms))
            demo["gripper_actuations"] = np.zeros((5, arms))
            for side, width in (("right", 1), ("left", arms - 1)):
                demo[f"{side}_dpos"] = np.zeros((5, 3 * width))
                demo[f"{side}_dquat"] = np.zeros((5, 4 * width))


def _refusal(folder: Path) -> str:
    (ref,) = list(ArraysAdapter().discover(folder))
    assert ref.error is not None
    return ref.error


@pytest.mark.parametrize(("env", "arms", "robot"), [("SawyerLift", 1, "Sawyer"), ("BaxterPegInHole", 2, "Baxter")])
def test_a_robosuite_01_demo_is_refused_naming_its_version_robot_and_what_it_lacks(
    tmp_path: Path, env: str, arms: int, robot: str
) -> None:
    write_v01(tmp_path / "demo.hdf5", env, arms)
    error = _refusal(tmp_path)
    assert "no hdf5 layout fits" not in error
    said = f"a robosuite 0.1.0 demonstration file (data@repository_version '0.1.0', env '{env}': robot {robot})"
    assert said in error and "no observation, no rate and no `actions`" in error
    assert "gripper_actuations, joint_velocities, left_dpos, left_dquat, right_dpos, right_dquat, states" in error
    assert "robosuite >= 1.4" in error


def test_a_robosuite_01_demo_of_states_only_is_named_by_its_version_too(tmp_path: Path) -> None:
    write_v01(tmp_path / "demo.hdf5", "BaxterPegInHole", 2, commands=False)
    error = _refusal(tmp_path)
    assert "no hdf5 layout fits" not in error and "found data/demo_1" not in error
    assert "env 'BaxterPegInHole': robot Baxter)" in error and "states: states only, no command at all" in error


def test_a_file_of_another_version_is_still_refused_by_what_each_layout_lacks(tmp_path: Path) -> None:
    write_v01(tmp_path / "demo.hdf5")
    with h5py.File(tmp_path / "demo.hdf5", "a") as f:
        f["data"].attrs["repository_version"] = "1.4.1"  # not 0.x: its columns say nothing of the version
    assert "no hdf5 layout fits this file" in _refusal(tmp_path)


@pytest.mark.parametrize(("name", "robot"), [("SawyerLift", "Sawyer"), ("BaxterPegInHole", "Baxter")])
def test_the_real_robosuite_01_demos_are_refused_naming_the_version(name: str, robot: str) -> None:
    path = realdata(f"robosuite_v01_demos/{name}/demo.hdf5")
    error = _refusal(path.parent)
    assert "a robosuite 0.1" in error and f"env '{name}': robot {robot})" in error
