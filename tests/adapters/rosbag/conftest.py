"""A small ROS 2 MCAP bag written with rosbags (ROS 2 Humble types), with what the real fixtures lack: cameras (a raw
rgb8 Image and a PNG CompressedImage, stamped at exposure before they were received), a depth Image, a TF tree
(static world -> base, moving base -> ee), a task String, a chatter String, a Float64 gripper command and a
PoseStamped whose publisher never stamps it. Every value is known, so tests compare what the adapter returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from tests.realdata import realdata

TS = get_typestore(Stores.ROS2_HUMBLE)
T0 = 1_700_000_000_000_000_000  # receive time of the first message, ns
JOINTS = [f"panda_joint{i}" for i in range(1, 8)] + ["panda_finger_joint1"]
H, W = 24, 32


@dataclass
class Written:
    path: Path
    joints: dict[str, list] = field(default_factory=dict)  # log_ns, stamp_ns, positions
    frames: dict[str, list] = field(default_factory=dict)  # topic -> [(log_ns, stamp_ns, rgb)]
    ee: list = field(default_factory=list)  # (log_ns, xyz, quat)


def _time(ns: int):
    return TS.types["builtin_interfaces/msg/Time"](sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def _header(ns: int, frame: str = ""):
    return TS.types["std_msgs/msg/Header"](stamp=_time(ns), frame_id=frame)


def transform(ns: int, parent: str, child: str, xyz: tuple[float, ...], xyzw: tuple[float, ...]):
    """A geometry_msgs/TransformStamped: the pose of `child` in `parent` (translation, quaternion x, y, z, w)."""
    t = TS.types
    return t["geometry_msgs/msg/TransformStamped"](
        header=_header(ns, parent),
        child_frame_id=child,
        transform=t["geometry_msgs/msg/Transform"](
            translation=t["geometry_msgs/msg/Vector3"](x=xyz[0], y=xyz[1], z=xyz[2]),
            rotation=t["geometry_msgs/msg/Quaternion"](x=xyzw[0], y=xyzw[1], z=xyzw[2], w=xyzw[3]),
        ),
    )


def raw_image(ns: int, frame: str, encoding: str, data: np.ndarray, height: int = H, width: int = W):
    """A sensor_msgs/Image of `height` rows of `data`'s bytes, no row padding."""
    data = np.asarray(data, np.uint8).ravel()
    return TS.types["sensor_msgs/msg/Image"](
        header=_header(ns, frame),
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=0,
        step=len(data) // height,
        data=data,
    )


def _rgb(i: int) -> np.ndarray:
    img = np.zeros((H, W, 3), np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = (17 * i) % 256, np.arange(W)[None, :] * 7 % 256, 200 - i
    return img


def write_bag(path: Path, seconds: float = 3.0, corrupt_joint_message: int | None = None) -> Written:
    t = TS.types
    out = Written(path, joints={"log": [], "stamp": [], "pos": []}, frames={})
    msgs: list[tuple[str, str, int, object | bytes]] = []
    for k in range(int(seconds * 50)):  # joint states, 50 Hz, stamped 2 ms before they are received
        log = T0 + k * 20_000_000
        pos = np.array([0.1 * np.sin(0.5 * k / 50 + j) for j in range(7)] + [0.02 + 0.015 * np.sin(k / 50)])
        msg = t["sensor_msgs/msg/JointState"](
            header=_header(log - 2_000_000), name=JOINTS, position=pos, velocity=np.zeros(8), effort=np.array([])
        )
        msgs.append(("/robot/joint_states", "sensor_msgs/msg/JointState", log, msg))
        out.joints["log"].append(log), out.joints["stamp"].append(log - 2_000_000), out.joints["pos"].append(pos)
        xyz, quat = np.array([0.4 + 0.05 * k / 50, 0.0, 0.3]), np.array([1.0, 0.0, 0.0, 0.0])
        tr = transform(log, "base_link", "ee_link", tuple(xyz), tuple(quat))
        msgs.append(("/tf", "tf2_msgs/msg/TFMessage", log + 1, t["tf2_msgs/msg/TFMessage"](transforms=[tr])))
        out.ee.append((log + 1, xyz, quat))
    cam = {"/camera/color/image_raw": 15.0, "/wrist_camera/image_raw/compressed": 10.0}
    for topic, hz in cam.items():
        out.frames[topic] = []
        for i in range(int(seconds * hz)):
            stamp = T0 + round(i * 1e9 / hz) + 5_000_000
            log = stamp + 30_000_000  # received 30 ms after exposure
            rgb = _rgb(i)
            if topic.endswith("compressed"):
                png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1]
                msg = t["sensor_msgs/msg/CompressedImage"](
                    header=_header(stamp, "wrist"), format="png", data=png.astype(np.uint8)
                )
                typ = "sensor_msgs/msg/CompressedImage"
            else:
                msg = raw_image(stamp, "cam", "rgb8", rgb)
                typ = "sensor_msgs/msg/Image"
            msgs.append((topic, typ, log, msg))
            out.frames[topic].append((log, stamp, rgb))
    depth = raw_image(T0, "cam", "16UC1", np.zeros(H * W * 2, np.uint8))
    msgs.append(("/camera/depth/image_raw", "sensor_msgs/msg/Image", T0 + 3, depth))
    static = transform(T0, "world", "base_link", (1.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0))

    msgs.append(("/tf_static", "tf2_msgs/msg/TFMessage", T0 + 1, t["tf2_msgs/msg/TFMessage"](transforms=[static])))
    msgs.append(("/task", "std_msgs/msg/String", T0 + 2, t["std_msgs/msg/String"](data="put the cube in the bowl")))
    msgs.append(("/chatter", "std_msgs/msg/String", T0 + 4, t["std_msgs/msg/String"](data="hello")))
    for k in range(int(seconds * 5)):
        log = T0 + k * 200_000_000 + 7
        msgs.append(("/gripper/command", "std_msgs/msg/Float64", log, t["std_msgs/msg/Float64"](data=float(k % 2))))
        pose = t["geometry_msgs/msg/PoseStamped"](
            header=_header(0, "odom"),
            pose=t["geometry_msgs/msg/Pose"](
                position=t["geometry_msgs/msg/Point"](x=float(k), y=0.0, z=0.0),
                orientation=t["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0),
            ),
        )
        msgs.append(("/base_pose", "geometry_msgs/msg/PoseStamped", log + 1, pose))
    msgs.sort(key=lambda m: m[2])
    with Writer(path, version=8, storage_plugin=StoragePlugin.MCAP) as w:
        conns = {}
        joint_index = 0
        for topic, typ, log, msg in msgs:
            if topic not in conns:
                conns[topic] = w.add_connection(topic, typ, typestore=TS)
            raw = TS.serialize_cdr(msg, typ)
            if topic == "/robot/joint_states":
                if joint_index == corrupt_joint_message:
                    raw = raw[:12]  # a message cut short: its array lengths point past its end
                joint_index += 1
            w.write(conns[topic], log, raw)
    return out


@pytest.fixture(scope="session")
def synthetic_bag(tmp_path_factory: pytest.TempPathFactory) -> Written:
    return write_bag(tmp_path_factory.mktemp("rosbags") / "lab" / "episode_0")


# The real bags' ingest, one job for every module that checks it (tests/adapters/rosbag/test_ingest_ats.py,
# test_ingest_pr2.py): source name -> (bag folder of a real sample, adapter options). The ATS MCAP's commands are
# actions by the maker's code (test_ingest_ats.COMMANDS); the PR2's wide stereo camera is on its head (pr1012_urdf.yaml:
# wide_stereo_link -> double_stereo_link -> sensor_mount_link -> head_plate_frame -> head_tilt_link).
REAL_SOURCES = {
    # the ATS bags lie side by side in one folder as their owner keeps them: one source per bag, each its own subset
    "ats": (
        "rosbag_ats/rosbags/ros2bag_ats_2025-12-02_12-44-28",
        {"action_topics": ["/servo/in/*", "/controller/out/*"], "subset": "mcap"},
    ),
    "ats_db3": ("rosbag_ats/rosbags/ros2bag_killed_on_contact", {"subset": "db3"}),
    "pr2_camera": ("rosbag_pr2/camera", {"camera_map": {"/wide_stereo/left/image_raw": "head"}}),
    "pr2": ("rosbag_pr2/joints", {}),
}


@pytest.fixture(scope="session")
def real_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`eidata ingest` of every real bag, through the Ray ingest job (users are marked `shared_ray`). The PR2's camera
    was throttled to a frame every 0.51 s (its Image stamps), so a gap is a pause of over 0.6 s here."""
    from jobs.ingest.job import run_ingest
    from jobs.spec import load_spec

    tmp = tmp_path_factory.mktemp("rosbag_real")
    spec = {
        "output": str(tmp / "corpus"),
        "canonicalize": {"max_gap_s": 0.6},
        "sources": [
            {"name": name, "adapter": "rosbag", "root": str(realdata(root)), **({"options": opts} if opts else {})}
            for name, (root, opts) in REAL_SOURCES.items()
        ],
        "parallelism": {"num_cpus": 2},
    }
    (tmp / "job.yaml").write_text(yaml.safe_dump(spec))
    report = run_ingest(load_spec(tmp / "job.yaml"), progress=False)
    assert report.quarantined == 0 and all(report.tallies[n].written == 1 for n in REAL_SOURCES), report.tallies
    return tmp / "corpus"
