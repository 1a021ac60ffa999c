"""Each layout detected from what the file holds (the evidence said) or named by option, and refused with a reason
naming what it lacks (`layouts.choose`); values taken from the file's attributes (`layouts.attr_value`). Files in the
makers' layouts from `adapters/synthetic/arrays.py`: no redistributable real robomimic, LIBERO, ALOHA or UMI sample
was found (test_real.py has the real ones)."""

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
