"""Synthetic AgiBot Genie Sim / A2D exports, written the way the maker's converter writes them.

Source of every key, dtype and formula: AgibotTech/genie_sim `source/data_collection/server/recording/
sim_data_converter.py` (read in fork zmf2022/genie_sim @ dd75b06; `convert_h5`, `process_state_data`,
`process_action_data`, `process_timestamp_data`, `convert_meta_info`, `genrate_data_info`, `convert_parameters`) and
`extract_ros_bag.py` @ 2a1854e (float32 simulation seconds, end poses in the robot base and in the arm base, the arm
joint names of `config/robot_cfg/robot_joint_names.json`). Layout `<job>/<sn>/<episode>/` as a third-party AgiBot ->
GR00T LeRobot converter walks it; `extract_and_convert_data.py` runs the extractor and the converter on one folder,
so the extractor's `observations/videos/*_color.mp4`, `state.json` and its `task_result.json` sit beside the export.

The motion is physical: both grippers approach the table top-down (the gripper z axis, which the G01 URDF runs from
arm_*_link7 to the gripper centre, points down in the robot base) while yawing, dipping and moving sideways; the arm
base is a fixed, rotated frame on the robot base. Quaternions are written as the current extractor does (scipy
`as_quat`, x y z w) or as the earlier one did (w x y z, and no `arm_*` fields): switch `quat_order` / `arm_frames`.
Each `Fault` breaks one thing the reader must name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from scipy.spatial.transform import Rotation

from adapters.synthetic.video import synthetic_frame, write_mp4

FPS = 30
BAG_START_NS = 1_752_130_000_123_456_789  # rosbag2 metadata.yaml starting_time.nanoseconds_since_epoch
SIM_T0_S = 12.5  # the bag's first aligned frame, simulation seconds (stored float32 by the extractor)
CAMERAS = ("head", "hand_left", "hand_right")
TIMESTAMP_CAMERAS = ("hand_left_color", "hand_right_color", "head_color", "head_depth", "head_stereo_left",
                     "head_stereo_right")  # fmt: skip
ARM_JOINTS = tuple(f"idx{20 + 40 * s + j}_arm_{side}_joint{j}" for s, side in enumerate("lr") for j in range(1, 8))
HEAD_JOINTS, WAIST_JOINTS = ("idx11_head_joint1", "idx12_head_joint2"), ("idx02_body_joint2", "idx01_body_joint1")
ROBOT_WORLD_POS, ROBOT_WORLD_YAW = np.array([1.2, -0.4, 0.0]), np.pi / 2
ARM_BASE = (Rotation.from_euler("zy", [0.15, -0.35]), np.array([0.05, 0.0, 0.75]))  # robot base <- arm base
HAND_Y = (0.25, -0.25)  # left, right


class Fault(StrEnum):
    missing_h5 = "missing_h5"  # meta_info.json and data_info.json only
    bad_data_info = "bad_data_info"  # truncated JSON
    frame_shape = "frame_shape"  # one frame's state/joint/position has 13 joints
    missing_frame_field = "missing_frame_field"  # one frame lacks state/end/orientation
    stale_timestamp = "stale_timestamp"  # one frame repeats the previous main_timestamp
    bad_segment = "bad_segment"  # an action_config segment ends before it starts
    g2 = "g2"  # robot_type G2A


@dataclass
class GenieSpec:
    job: str = "3335477"
    sn: str = "A2D0015AB00061"
    episode: str = "12052353"
    num_frames: int = 24
    quat_order: str = "xyzw"  # the current extractor (scipy); "wxyz": the earlier one
    arm_frames: bool = True  # state/end/arm_* (current extractor); False with the earlier one
    waist_moves: bool = False  # the waist pitches over the first third of the rows, turning the arm base with it
    simulation: bool = True  # meta_info sw_version "genie-sim"
    videos: bool = True
    success: bool = True  # task_result.json task_status
    fault: Fault | None = None
    segments: tuple[tuple[int, int, str], ...] = ()  # inclusive (start, end, text); default: three tiling the rows
    error_span: tuple[int, int] | None = None  # key_frame.dual: an injected "Drop" over these frames

    @property
    def raw_id(self) -> str:
        return f"{self.job}/{self.sn}/{self.episode}"


@dataclass
class WrittenGenie:
    """What the writer put down, for tests: the truth in the robot base, xyzw."""

    main_timestamp_ns: np.ndarray
    end_position: np.ndarray  # (T, 2, 3)
    end_quat_xyzw: np.ndarray  # (T, 2, 4)
    gripper_state: np.ndarray  # (T, 2) converter scale
    gripper_action: np.ndarray  # (T, 2) 0..1
    segments: list[dict[str, Any]] = field(default_factory=list)


def write_genie_sim(root: Path, specs: list[GenieSpec], height: int = 32, width: int = 48) -> dict[str, WrittenGenie]:
    out = {}
    for spec in specs:
        folder = Path(root) / spec.job / spec.sn / spec.episode
        folder.mkdir(parents=True, exist_ok=True)
        truth = _motion(spec.num_frames)
        out[spec.raw_id] = truth
        (folder / "meta_info.json").write_text(json.dumps(_meta_info(spec), indent=4))
        info = json.dumps(_data_info(spec, truth), indent=4, ensure_ascii=False)
        (folder / "data_info.json").write_text(info[: len(info) // 2] if spec.fault is Fault.bad_data_info else info)
        for d in ("logs", "record", "post_proc"):  # converter `mkdir`
            (folder / d).mkdir(exist_ok=True)
            (folder / d / ".keep").write_text("")
        if spec.fault is not Fault.missing_h5:
            _write_h5(folder / "aligned_joints.h5", spec, truth)
        _write_parameters(folder, height, width)
        status = "success" if spec.success else "object not on target"
        result = {
            "task_name": "put_the_cup_on_the_tray",
            "fail_stage_step": None,
            "fps": FPS,
            "task_status": spec.success,
            "camera_info": None,
            "return_code": 0 if spec.success else 3,
            "metric_status": status,
            "playback_times": 0,
        }
        (folder / "task_result.json").write_text(json.dumps(result))  # extract_and_convert_data.py
        (folder / "state.json").write_text(json.dumps({"schema": "v6", "fps": FPS, "frames": []}))  # extractor's
        if spec.videos:  # the extractor encodes camera/%d/<cam>_color.jpg to observations/videos/<cam>_color.mp4
            for k, cam in enumerate(CAMERAS):
                frames = (synthetic_frame(height, width, i, seed=k) for i in range(spec.num_frames))
                path = folder / "observations" / "videos" / f"{cam}_color.mp4"
                write_mp4(path, frames, FPS, crf=20, preset="veryfast", threads=1)
    return out


def _motion(n: int) -> WrittenGenie:
    s = np.linspace(0.0, 1.0, n)
    sim_t = (SIM_T0_S + np.arange(n) / FPS).astype(np.float32)  # extractor: np.array(..., dtype="float32")
    us = (sim_t * 1e6).astype(np.uint64)  # convert_h5: dt_us, dt_ns, + start
    stamps = (us * np.uint64(1000) + np.uint64(BAG_START_NS)).astype(np.uint64)
    pos = np.zeros((n, 2, 3))
    quat = np.zeros((n, 2, 4))
    for hand, y in enumerate(HAND_Y):
        pos[:, hand] = np.stack(
            [0.5 + 0.08 * s, y + 0.06 * np.sin(2 * np.pi * s), 0.95 - 0.15 * np.sin(np.pi * s)], axis=1
        )
        yaw = (0.4 if hand == 0 else -0.5) + 1.2 * s
        tilt = 0.15 * np.sin(3 * np.pi * s)
        rot = (
            Rotation.from_euler("z", yaw[:, None])
            * Rotation.from_euler("x", np.pi)
            * Rotation.from_euler("y", tilt[:, None])
        )
        quat[:, hand] = rot.as_quat()  # gripper z axis points down: approach toward the table
    g = 0.78 - 0.78 * np.clip(np.sin(np.pi * s) * 1.6, 0.0, 1.0)  # the simulated gripper joint: open 0.78 .. 0
    state = np.clip(1.28 * 120 * (0.78 - g), 0.0, 120.0)  # omnipicker_reverse_relabel_gripper
    action = np.where(g > 0.75, 0.0, np.where(g < 0.6, 1.0, np.clip((g - 0.6) / 0.15, 0.0, 1.0)))  # sim_to_real
    return WrittenGenie(stamps, pos, quat, np.stack([state, state], 1), np.stack([action, action], 1))


def _write_h5(path: Path, spec: GenieSpec, w: WrittenGenie) -> None:
    n = spec.num_frames
    base_rot, t_ab = ARM_BASE
    pitch = np.zeros(n)
    if spec.waist_moves:
        pitch[: n // 3] = 0.3 * (1 - np.arange(n // 3) / (n // 3))
    t = np.linspace(0.0, 1.0, n)[:, None]
    joints = (0.3 * np.sin(2 * np.pi * t + np.arange(14) * 0.4)).astype(np.float32)

    def q(x: np.ndarray) -> np.ndarray:  # the writer's order, float32 like the extractor's datasets
        return (x if spec.quat_order == "xyzw" else x[..., [3, 0, 1, 2]]).astype(np.float32)

    robot_q = Rotation.from_euler("z", ROBOT_WORLD_YAW).as_quat()
    with h5py.File(path, "w") as f:
        for i in range(n):
            g = f.create_group(str(i))
            stamp = (
                w.main_timestamp_ns[i - 1]
                if spec.fault is Fault.stale_timestamp and i == n // 2
                else w.main_timestamp_ns[i]
            )
            g.create_dataset("main_timestamp", data=np.uint64(stamp))
            for cam in TIMESTAMP_CAMERAS:
                g.create_dataset(f"timestamp/camera/{cam}", data=np.uint64(stamp))
            st, ac = g.create_group("state"), g.create_group("action")
            rot_ab = base_rot * Rotation.from_euler("y", pitch[i])  # the body pitches the arm base
            arm_pos = rot_ab.inv().apply(w.end_position[i] - t_ab)
            arm_rot = (rot_ab.inv() * Rotation.from_quat(w.end_quat_xyzw[i])).as_quat()
            end = st.create_group("end")
            if not (spec.fault is Fault.missing_frame_field and i == n // 2):
                end.create_dataset("orientation", data=q(w.end_quat_xyzw[i]))
            end.create_dataset("position", data=w.end_position[i].astype(np.float32))
            if spec.arm_frames:
                end.create_dataset("arm_orientation", data=q(arm_rot))
                end.create_dataset("arm_position", data=arm_pos.astype(np.float32))
                pose = np.concatenate([arm_pos[0], q(arm_rot)[0], arm_pos[1], q(arm_rot)[1]])
                end.create_dataset("pose", data=pose.astype(np.float32))
            end.create_dataset("errmsg", data=np.empty(0))
            end.create_dataset("errcode", data=np.zeros(1, dtype=np.int32))
            end.create_dataset("mode", data=np.array([5], dtype=np.int32))
            end.create_dataset("velocity", data=np.zeros((12, 1), dtype=np.float32))
            end.create_dataset("wrench", data=np.zeros((12, 1), dtype=np.float32))
            width = 13 if spec.fault is Fault.frame_shape and i == n // 2 else 14
            head, waist = np.array([0.1, 0.35], np.float32), np.array([0.2 + pitch[i], 0.0], np.float32)
            for name, names, values in (
                ("head", HEAD_JOINTS, head),
                ("joint", ARM_JOINTS, joints[i, :width]),
                ("waist", WAIST_JOINTS, waist),
            ):
                grp = st.create_group(name)
                grp.attrs["name"] = list(names)
                grp.create_dataset("effort", data=np.zeros_like(values))
                grp.create_dataset("mode", data=[0.0] * len(values))
                grp.create_dataset("position", data=values)
                grp.create_dataset("velocity", data=np.zeros_like(values))
            for hand, side in enumerate(("left", "right")):
                st.create_dataset(f"{side}_effector/position", data=[float(w.gripper_state[i, hand])])
                ac.create_dataset(f"{side}_effector/position", data=[float(w.gripper_action[i, hand])])
            st.create_dataset("robot/orientation", data=q(robot_q))
            st.create_dataset("robot/position", data=ROBOT_WORLD_POS.astype(np.float32))
            ac.create_dataset("end/orientation", data=q(w.end_quat_xyzw[i]))
            ac.create_dataset("end/position", data=w.end_position[i].astype(np.float32))
            for name, names, values in (
                ("head", HEAD_JOINTS, [0.1, 0.35]),
                ("joint", ARM_JOINTS, joints[min(i + 1, n - 1)]),
                ("waist", WAIST_JOINTS, [0.2, 0.0]),
            ):
                grp = ac.create_group(name)
                grp.attrs["name"] = list(names)
                grp.create_dataset("position", data=np.asarray(values, dtype=np.float32))
            ac.create_dataset("robot/velocity", data=[0.0, 0.0])


def _meta_info(spec: GenieSpec) -> dict[str, Any]:
    start = BAG_START_NS / 1e9
    return {
        "AID": "",
        "author": "agibot",
        "clip_start_time": start,
        "clip_end_time": start + spec.num_frames / FPS,
        "create_time": "2025-07-10 15:46:40",
        "duration": (spec.num_frames - 1) / FPS,
        "ee_list": [
            {"name": "left_hand", "type": "zhiyuan_gripper_omnipicker"},
            {"name": "right_hand", "type": "zhiyuan_gripper_omnipicker"},
        ],
        "episode_id": spec.episode,
        "episode_token": "",
        "file_size": 1234.5,
        "fps_validate": True,
        "integrity": {"integrity": True, "reason": 0},
        "job_id": int(spec.job),
        "mocap_mapping_status": [],
        "robot_type": "G2A" if spec.fault is Fault.g2 else "A2D",
        "sw_version": "genie-sim" if spec.simulation else "a2d-3.2.1",
        "task_id": 1001,
        "task_mode": "TDC",
        "text": '{"description":"SIM"]}' if spec.simulation else "",
        "version": "v0.0.2",
    }


def _data_info(spec: GenieSpec, w: WrittenGenie) -> dict[str, Any]:
    n = spec.num_frames
    cuts = np.linspace(0, n, 4).astype(int)
    texts = ("Pick up the cup", "Move the cup over the tray", "Place the cup on the tray")
    segs = spec.segments or tuple(
        (int(a), int(b) - 1, txt) for a, b, txt in zip(cuts[:-1], cuts[1:], texts, strict=True)
    )
    actions = [
        {"start_frame": a, "end_frame": b, "action_text": txt, "english_action_text": txt, "skill": txt.split()[0]}
        for a, b, txt in segs
    ]
    if spec.fault is Fault.bad_segment:
        actions[1]["end_frame"] = actions[1]["start_frame"] - 2
    w.segments = actions
    dual = []
    if spec.error_span:
        detail = {"error_cause": "Drop", "error_cause_english": "Drop", "restorable": True, "comment": ""}
        dual.append(
            {
                "frame_type_name": "Error Frame",
                "frame_type_name_english": "Error Frame",
                "start": spec.error_span[0],
                "end": spec.error_span[1],
                "frame_detail": detail,
            }
        )
    return {
        "episode_id": spec.episode,
        "task_id": 1001,
        "task_name": "把杯子放到托盘上",
        "english_task_name": "Put the cup on the tray",
        "data_type": "Regular",
        "job_id": spec.job,
        "init_scene_text": "A cup and a tray on the table",
        "raw_data_path": "",
        "aligned_data_path": "",
        "visualizing_data_path": "",
        "sn_code": spec.sn,
        "label_info": {
            "error_label": "",
            "action_config": actions,
            "key_frame": {"single": [], "dual": dual},
            "cloud_post_processing_result": {"data_valid": True, "drop_frame_rate": 0.0, "filter_frame_rate": 0.0},
        },
    }


def _write_parameters(folder: Path, height: int, width: int) -> None:
    sensor = folder / "parameters" / "sensor"
    sensor.mkdir(parents=True, exist_ok=True)
    for name in ("head_front", "hand_left", "hand_right"):
        k = {
            "Fx": 0.8 * width,
            "Fy": 0.8 * width,
            "Cx": width / 2,
            "Cy": height / 2,
            "k1": 0.0,
            "k2": 0.0,
            "p1": 0.0,
            "p2": 0.0,
            "k3": 0.0,
            "SN": "CPBC853000CC",
        }
        for kind in ("rgb", "depth"):
            (sensor / f"intrinsic_{name}_{kind}.json").write_text(json.dumps(k, indent=4))
