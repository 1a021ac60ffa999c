"""Each layout detected from what the file holds (the evidence said) or named by option, and refused with a reason
naming what it lacks (`layouts.choose`); values taken from the file's attributes (`layouts.attr_value`). Files in the
makers' layouts from `adapters/synthetic/arrays.py`: no redistributable real robomimic, LIBERO, ALOHA or UMI sample
was found (test_real.py has the real ones).

Issue 86 item 7: robosuite 0.1's demos (Sawyer, Baxter) were refused as "no hdf5 layout fits", without the version
they hold. They are now refused naming it, the robot (from the environment's name) and what the file lacks
(`adapters/arrays/layouts.py`, robosuite 0.1's own code cited there). The logic on a file built here in 0.1's layout;
the real Sawyer and Baxter demos robosuite 0.1 shipped (`robosuite_v01_demos`) alike: its
BaxterPegInHole holds `states` only, and is named by its version all the same (issue 97 item 4).
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from pydantic import ValidationError

from adapters.arrays.adapter import ArraysAdapter
from adapters.arrays.layouts import LAYOUTS, attr_value, choose, matches
from tests.fixtures.writers.arrays import write_aloha
from tests.realdata import realdata


def test_every_layout_is_detected_by_its_own_evidence_and_said() -> None:
    keys = {
        "libero": {"data", "data/demo_0", "data/demo_0/actions", "data/demo_0/obs", "data/demo_0/obs/agentview_rgb"},
        "robomimic": {"data", "data/demo_0", "data/demo_0/actions", "data/demo_0/obs", "data/demo_0/obs/x"},
        "robosuite_raw": {"data", "data/demo_1", "data/demo_1/states", "data/demo_1/actions"},
        "aloha": {"observations", "observations/qpos", "action"},
        "umi": {"meta/episode_ends", "data/robot0_eef_pos", "data/camera0_rgb"},
        "diffusion_policy": {"meta/episode_ends", "data/action", "data/img"},
    }
    attrs = {"libero": {"data": {"problem_info": "{}"}}}
    for name, held in keys.items():
        got, layout, why = choose(LAYOUTS[name].container, frozenset(held), attrs.get(name, {}))
        assert (got, layout) == (name, LAYOUTS[name]) and why.startswith("detected: the file holds "), name


def test_matches_does_not_cross_folders() -> None:
    keys = frozenset({"data/demo_0/actions", "data/demo_0/obs/actions", "data/x"})
    assert matches(keys, "data/demo_*/actions") == ["data/demo_0/actions"]
    assert matches(keys, "data/*") == ["data/x"]


def test_attr_value_reads_json_attributes_and_says_where() -> None:
    spec = LAYOUTS["robomimic"].rate
    attrs = {"data": {"env_args": json.dumps({"env_kwargs": {"control_freq": 15}})}}
    assert attr_value(spec, attrs) == (15, "attribute data@env_args['env_kwargs']['control_freq']")
    assert attr_value(spec, {"data": {"env_args": "not json"}}) is None
    assert attr_value(spec, {"data": {"env_args": json.dumps({"env_kwargs": {}})}}) is None
    assert attr_value(LAYOUTS["aloha"].robot_type, {}) == ("aloha", "the layout")


def test_unfit_file_refused_naming_what_each_layout_lacks(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "x.hdf5", "w") as f:
        f["demo_0/action"] = np.zeros((3, 1))  # a real-world shape (DI-X/BC_cart_and_pendulum): no data/ group
    adapter = ArraysAdapter()
    (ref,) = list(adapter.discover(tmp_path))
    assert ref.error and "no hdf5 layout fits this file" in ref.error
    for said in ("robomimic lacks data/demo_*/actions", "aloha lacks observations/qpos", "libero lacks"):
        assert said in ref.error
    with pytest.raises(Exception, match="no hdf5 layout fits"):
        adapter.read(ref)


def test_named_layout_is_checked_and_unknown_names_refused(tmp_path: Path) -> None:
    write_aloha(tmp_path / "episode_0.hdf5", 3)
    (ref,) = list(ArraysAdapter({"layout": "robomimic"}).discover(tmp_path))
    assert ref.error and "robomimic lacks data/demo_*/actions" in ref.error
    (ref,) = list(ArraysAdapter({"layout": "umi"}).discover(tmp_path))
    assert ref.error and "layout 'umi' is a zarr layout, and this is a hdf5 store" in ref.error
    with pytest.raises(ValidationError, match="unknown layout 'nope'"):
        ArraysAdapter({"layout": "nope"})


def test_cameras_take_the_slot_their_makers_name_gives_them() -> None:
    roles = {
        ("robomimic", "agentview_image"): "third_person",
        ("robomimic", "robot0_eye_in_hand_image"): "wrist_right",
        ("libero", "agentview_rgb"): "third_person",
        ("libero", "eye_in_hand_rgb"): "wrist_right",
        ("aloha", "cam_high"): "head",
        ("aloha", "cam_low"): "third_person",
        ("aloha", "cam_left_wrist"): "wrist_left",
        ("aloha", "cam_right_wrist"): "wrist_right",
        ("umi", "camera0_rgb"): "wrist_right",
        ("diffusion_policy", "img"): "third_person",
    }
    assert {k: LAYOUTS[k[0]].camera_roles([k[1]])[k[1]] for k in roles} == roles
    assert LAYOUTS["robomimic"].camera_roles(["robot0_robotview_image"]) == {"robot0_robotview_image": None}  # own name


def test_a_camera_takes_its_slot_once() -> None:
    """robosuite's two-arm tasks name robot0_ and robot1_eye_in_hand: one right wrist, the other under its own name."""
    names = ["agentview_image", "robot0_eye_in_hand_image", "robot1_eye_in_hand_image"]
    assert LAYOUTS["robomimic"].camera_roles(names) == {
        "agentview_image": "third_person",
        "robot0_eye_in_hand_image": "wrist_right",
        "robot1_eye_in_hand_image": None,
    }


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
