"""HOT3D sequence files parsed as the maker's loaders read them (`adapters/hot3d/files.py`; facebookresearch/hot3d
`hot3d/data_loaders/`): poses w-first (`loader_device_poses.py`: `SE3.from_quat_and_translation(w, xyz, t)`) on the
values of the maker's Aria sample (`tests/data_sample/Aria/P0003_c701bd11`), pose CSVs under the maker's header
(`constants.POSE_DATA_CSV_COLUMNS`) sorted with repeated timestamps dropped, hand-pose jsonl per hand, the MPS RGB
calibration, and every bad line named by its number and field."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from adapters.aria import read_aria_calibration, se3_from_wxyz
from adapters.hot3d.files import POSE_COLUMNS, read_hand_jsonl, read_pose_csv

# P0003_c701bd11 at 56752108188860 ns: headset_trajectory.csv q_wo (w, x, y, z), t_wo; online_calibration.jsonl
# camera-rgb T_Device_Camera UnitQuaternion [w, [x, y, z]] and Translation
DEVICE_Q = (0.411852458099982, 0.7525190601826829, 0.0297778170072289, -0.5130359621245455)
DEVICE_T = (0.0648581547977763, 0.0183710906074943, 0.0060656618334766)
RGB_Q = (0.9431785122262992, 0.3286754082265991, 0.03767550810144332, 0.031101867965789714)
RGB_T = (-0.0038260073816772273, -0.01272303558927869, -0.0031469770875251555)


def test_poses_are_read_w_first() -> None:
    [pose] = se3_from_wxyz(np.array([DEVICE_Q]), np.array(DEVICE_T))
    w, x, y, z = DEVICE_Q
    np.testing.assert_allclose(pose[:3, :3], Rotation.from_quat([x, y, z, w]).as_matrix(), atol=1e-12)
    np.testing.assert_allclose(pose[:3, 3], DEVICE_T)
    np.testing.assert_allclose(pose[3], [0, 0, 0, 1])
    quarter = se3_from_wxyz(np.array([[np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)]]), np.zeros(3))[0]
    np.testing.assert_allclose(quarter[:3, :3] @ [1, 0, 0], [0, 1, 0], atol=1e-12)  # +90 deg about z: x -> y
    with pytest.raises(ValueError, match=r"quaternion norm 2\.0000, expected 1"):
        se3_from_wxyz(np.array([[2.0, 0, 0, 0]]), np.zeros(3))


def _csv(path: Path, rows: list[list[object]], header: tuple[str, ...] = POSE_COLUMNS) -> Path:
    path.write_text("\n".join(",".join(map(str, r)) for r in [header, *rows]) + "\n")
    return path


def test_pose_csv_sorted_per_object_with_repeats_dropped(tmp_path: Path) -> None:
    row = [*DEVICE_T, *DEVICE_Q]
    path = _csv(tmp_path / "headset_trajectory.csv", [["dev", 30, *row], ["dev", 10, *row], ["dev", 30, *row]])
    ts, poses = read_pose_csv(path)["dev"]
    assert ts.tolist() == [10, 30] and poses.shape == (2, 4, 4)
    with pytest.raises(ValueError, match=r"header has no q_wo_w column"):
        read_pose_csv(_csv(tmp_path / "b.csv", [], header=tuple(c for c in POSE_COLUMNS if c != "q_wo_w")))
    with pytest.raises(ValueError, match="line 3: a pose value is not finite"):
        read_pose_csv(_csv(tmp_path / "c.csv", [["dev", 1, *row], ["dev", 2, "nan", *row[1:]]]))


def _hand(q: tuple, t: tuple, n: int = 22) -> dict:
    return {"wrist_xform": {"q_wxyz": list(q), "t_xyz": list(t)}, "joint_angles": [0.1] * n, "hand_confidence": 0.9}


def test_umetrack_jsonl_per_hand_a_missing_hand_unannotated(tmp_path: Path) -> None:
    lines = [
        {"timestamp_ns": 20, "hand_poses": {"0": _hand(DEVICE_Q, DEVICE_T), "1": _hand(RGB_Q, RGB_T)}},
        {"timestamp_ns": 10, "hand_poses": {"0": _hand(DEVICE_Q, DEVICE_T)}},  # the right hand not annotated here
    ]
    path = tmp_path / "umetrack_hand_pose_trajectory.jsonl"
    path.write_text("".join(json.dumps(doc) + "\n" for doc in lines))
    hands = read_hand_jsonl(path, "umetrack")
    assert hands[0]["timestamps"].tolist() == [10, 20] and hands[1]["timestamps"].tolist() == [20]
    assert hands[0]["params"].shape == (2, 22) and hands[1]["confidence"].tolist() == [0.9]
    lines[1]["hand_poses"]["0"] = _hand(DEVICE_Q, DEVICE_T, n=5)
    path.write_text("".join(json.dumps(doc) + "\n" for doc in lines))
    with pytest.raises(ValueError, match="line 2: hand 0: q_wxyz 4, t_xyz 3, joint_angles 5 values"):
        read_hand_jsonl(path, "umetrack")
    with pytest.raises(ValueError, match="line 2: hand 0: no betas"):  # MANO lines carry betas
        read_hand_jsonl(_mano(tmp_path), "mano")


def _mano(tmp_path: Path) -> Path:
    entry = {"wrist_xform": {"q_wxyz": list(DEVICE_Q), "t_xyz": list(DEVICE_T)}, "pose": [0.0] * 15, "betas": [0.0]}
    path = tmp_path / "mano_hand_pose_trajectory.jsonl"
    bad = {k: v for k, v in entry.items() if k != "betas"}
    lines = [{"timestamp_ns": 1, "hand_poses": {"0": entry}}, {"timestamp_ns": 2, "hand_poses": {"0": bad}}]
    path.write_text("".join(json.dumps(doc) + "\n" for doc in lines))
    return path


def test_aria_rgb_calibration_from_the_first_line(tmp_path: Path) -> None:
    cam = {
        "Label": "camera-rgb",
        "T_Device_Camera": {"Translation": list(RGB_T), "UnitQuaternion": [RGB_Q[0], list(RGB_Q[1:])]},
        "Projection": {"Name": "FisheyeRadTanThinPrism", "Params": [610.0, 715.0, 715.0] + [0.0] * 12},
    }
    path = tmp_path / "online_calibration.jsonl"
    path.write_text(json.dumps({"CameraCalibrations": [{"Label": "camera-slam-left"}, cam]}) + "\n")
    calib = read_aria_calibration(path)
    assert calib.model == "FisheyeRadTanThinPrism" and len(calib.params) == 15
    np.testing.assert_allclose(calib.device_from_camera, se3_from_wxyz(np.array([RGB_Q]), np.array(RGB_T))[0])
    with pytest.raises(ValueError, match="line 1: no camera labelled 'camera-et'"):
        read_aria_calibration(path, "camera-et")
    lens = calib.lens(1408, 1408)  # FISHEYE624 with its one focal length, in the stream's pixels
    assert (lens.model, lens.fx, lens.fy, lens.cx, lens.width) == ("fisheye624", 610.0, 610.0, 715.0, 1408)
    with pytest.raises(ValueError, match="principal point"):  # for a 704 px stream it is the 1408 px sensor's
        calib.lens(704, 704)
    with pytest.raises(ValueError, match="'KannalaBrandtK3' is not FISHEYE624"):
        dataclasses.replace(calib, model="KannalaBrandtK3").lens(1408, 1408)
