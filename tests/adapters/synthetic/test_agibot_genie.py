"""The AgiBot Genie Sim / A2D export writer (`adapters/synthetic/agibot_genie.py`) against the maker's converter,
AgibotTech/genie_sim `source/data_collection/server/recording/sim_data_converter.py` (read in fork zmf2022/genie_sim @
dd75b06): `convert_h5` and `process_{state,action,timestamp}_data` give each frame group exactly these datasets, the
fixed ones with the converter's dtypes and shapes, `end/pose` the left then right arm-base pose, `name` attributes on
the joint groups; `convert_meta_info` and `genrate_data_info` give the JSON keys; `convert_parameters` names the
intrinsics files per `process_camera_parameter_file_name` (rgbd cameras twice: rgb and depth) with its keys. (The
converter also writes `extrinsic_end_T_<camera>_aligned.json` per camera; the writer leaves those out.)"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from adapters.synthetic.agibot_genie import GenieSpec, write_genie_sim

FRAME_DATASETS = {
    "main_timestamp",
    *(f"action/end/{k}" for k in ("orientation", "position")),
    *(f"action/{g}/position" for g in ("head", "joint", "left_effector", "right_effector", "waist")),
    "action/robot/velocity",
    *(f"state/end/{k}" for k in ("orientation", "position", "arm_orientation", "arm_position", "pose")),
    *(f"state/end/{k}" for k in ("errmsg", "errcode", "mode", "velocity", "wrench")),
    *(f"state/{g}/{k}" for g in ("head", "joint", "waist") for k in ("effort", "mode", "position", "velocity")),
    "state/left_effector/position",
    "state/right_effector/position",
    "state/robot/orientation",
    "state/robot/position",
    *(
        f"timestamp/camera/{c}"
        for c in (
            "hand_left_color",
            "hand_right_color",
            "head_color",
            "head_depth",
            "head_stereo_left",
            "head_stereo_right",
        )
    ),
}
META_INFO = {"AID", "author", "clip_end_time", "clip_start_time", "create_time", "duration", "ee_list", "episode_id",
             "episode_token", "file_size", "fps_validate", "integrity", "job_id", "mocap_mapping_status", "robot_type",
             "sw_version", "task_id", "task_mode", "text", "version"}  # fmt: skip
DATA_INFO = {"episode_id", "task_id", "task_name", "english_task_name", "data_type", "job_id", "init_scene_text",
             "raw_data_path", "aligned_data_path", "visualizing_data_path", "sn_code", "label_info"}  # fmt: skip


def _datasets(group: h5py.Group) -> list[str]:
    found: list[str] = []
    group.visititems(lambda n, o: found.append(n) if isinstance(o, h5py.Dataset) else None)
    return found


@pytest.fixture(scope="module")
def episode(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("genie")
    write_genie_sim(root, [GenieSpec(videos=False)])
    return next(root.rglob("aligned_joints.h5")).parent


def test_each_frame_group_holds_the_converters_datasets(episode: Path) -> None:
    with h5py.File(episode / "aligned_joints.h5") as f:
        frames = sorted((k for k in f if k.isdigit()), key=int)
        assert frames == [str(i) for i in range(len(frames))]
        for key in (frames[0], frames[-1]):
            assert set(_datasets(f[key])) == FRAME_DATASETS, key
        g = f[frames[0]]
        assert (
            g["main_timestamp"].dtype == np.uint64 and g["timestamp/camera/head_color"][()] == g["main_timestamp"][()]
        )
        assert g["state/end/errcode"].dtype == np.int32 and g["state/end/mode"][()].tolist() == [5]
        assert (
            g["state/end/velocity"].shape == g["state/end/wrench"].shape == (12, 1) and g["state/end/errmsg"].size == 0
        )
        assert g["state/end/velocity"].dtype == np.float32 and g["action/robot/velocity"][()].tolist() == [0.0, 0.0]
        arm_p, arm_q = g["state/end/arm_position"][()], g["state/end/arm_orientation"][()]
        np.testing.assert_array_equal(g["state/end/pose"][()], np.concatenate([arm_p[0], arm_q[0], arm_p[1], arm_q[1]]))
        for group in ("state/joint", "state/head", "state/waist", "action/joint", "action/head", "action/waist"):
            assert len(g[group].attrs["name"]) == g[f"{group}/position"].shape[0], group
        assert g["state/left_effector/position"].shape == (1,)


def test_meta_and_data_info_hold_the_converters_keys(episode: Path) -> None:
    meta = json.loads((episode / "meta_info.json").read_text())
    info = json.loads((episode / "data_info.json").read_text())
    assert set(meta) == META_INFO and meta["sw_version"] == "genie-sim" and meta["robot_type"] in ("A2D", "G2A")
    assert set(info) == DATA_INFO
    label = info["label_info"]
    assert set(label) == {"error_label", "action_config", "key_frame", "cloud_post_processing_result"}
    assert set(label["key_frame"]) == {"single", "dual"}
    keys = {"start_frame", "end_frame", "action_text", "english_action_text", "skill"}
    assert all(set(a) == keys for a in label["action_config"])
    ends = [(a["start_frame"], a["end_frame"]) for a in label["action_config"]]
    assert all(s <= e for s, e in ends) and all(e < s2 for (_, e), (s2, _) in itertools.pairwise(ends))


def test_intrinsics_named_and_keyed_as_the_converter_writes_them(episode: Path) -> None:
    sensor = episode / "parameters" / "sensor"
    names = {p.name for p in sensor.glob("intrinsic_*.json")}
    for cam in ("head_front", "hand_left", "hand_right"):  # rgbd cameras: one file for rgb and one for depth
        assert {f"intrinsic_{cam}_rgb.json", f"intrinsic_{cam}_depth.json"} <= names
    params = json.loads((sensor / "intrinsic_head_front_rgb.json").read_text())
    assert set(params) == {"Fx", "Fy", "Cx", "Cy", "k1", "k2", "p1", "p2", "k3", "SN"}
    assert all(isinstance(params[k], float) for k in ("Fx", "Fy", "Cx", "Cy"))
    assert {"logs", "record", "post_proc"} <= {p.name for p in episode.iterdir() if p.is_dir()}  # `mkdir`
