"""A message's numeric fields flattened (`adapters.rosbag.fields`): every numeric leaf under a stable path with the
value the message holds, strings apart, the message's own header left to the clock, times as seconds; and a topic's
rows stacked into columns, a field of changing width left out with its widths. Messages go through CDR as a bag
holds them (ROS 2 Humble types), and the real ROS 1 WidowX 200 bag gives a robot's own message type."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from rosbags.highlevel import AnyReader

from adapters.rosbag.fields import by_joint, constant_columns, flatten, header_of, stack, stamp_ns
from tests.adapters.rosbag.conftest import TS, _header, _time, transform
from tests.adapters.rosbag.test_real import INTERBOTIX, WX200
from tests.realdata import realdata

T = TS.types


def _bagged(msg: Any) -> Any:
    """`msg` as rosbags reads it back from a bag."""
    return TS.deserialize_cdr(TS.serialize_cdr(msg, msg.__msgtype__), msg.__msgtype__)


def _at(msg: Any, path: str) -> Any:
    """The value at a flattened path, found by walking the message by its names (`a.b[2].c`)."""
    v = msg
    for name, index in re.findall(r"([^.\[\]]+)(?:\[(\d+)\])?", path):
        v = getattr(v, name)
        if index:
            v = v[int(index)]
    return v


def _each_value_is_the_messages(msg: Any, nums: dict[str, np.ndarray]) -> None:
    for path, got in nums.items():
        v = _at(msg, path)
        want = stamp_ns(v) / 1e9 if hasattr(v, "nanosec") else np.ravel(v)
        np.testing.assert_array_equal(got, np.ravel(want), err_msg=path)
        assert got.ndim == 1, path


def _pose(x: float) -> Any:
    return _bagged(
        T["geometry_msgs/msg/PoseStamped"](
            header=_header(123, "odom"),
            pose=T["geometry_msgs/msg/Pose"](
                position=T["geometry_msgs/msg/Point"](x=x, y=-2.5, z=0.125),
                orientation=T["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.6, w=0.8),
            ),
        )
    )


def _camera_info(d: int) -> Any:
    roi = T["sensor_msgs/msg/RegionOfInterest"](x_offset=1, y_offset=2, height=3, width=4, do_rectify=True)
    return _bagged(
        T["sensor_msgs/msg/CameraInfo"](
            header=_header(5, "cam"),
            height=480,
            width=640,
            distortion_model="plumb_bob",
            d=np.arange(d) / 10,
            k=np.arange(9.0),
            r=np.eye(3).ravel(),
            p=np.arange(12.0) + 0.5,
            binning_x=2,
            binning_y=3,
            roi=roi,
        )
    )


def test_a_pose_flattens_to_its_seven_numbers_and_its_header_stays_out() -> None:
    msg = _pose(1.5)
    nums, strs = flatten(msg)
    assert list(nums) == [
        "pose.position.x",
        "pose.position.y",
        "pose.position.z",
        "pose.orientation.x",
        "pose.orientation.y",
        "pose.orientation.z",
        "pose.orientation.w",
    ]
    assert [float(v[0]) for v in nums.values()] == [1.5, -2.5, 0.125, 0.0, 0.0, 0.6, 0.8]
    assert strs == {}  # header.frame_id is the frame, header.stamp the time: neither is a value
    assert header_of(msg).frame_id == "odom" and stamp_ns(header_of(msg).stamp) == 123
    assert header_of(_bagged(T["std_msgs/msg/Float64"](data=1.0))) is None


def test_fixed_and_variable_arrays_nested_messages_and_booleans_keep_their_paths_and_values() -> None:
    msg = _camera_info(5)
    nums, strs = flatten(msg)
    assert set(nums) == {
        "height",
        "width",
        "d",
        "k",
        "r",
        "p",
        "binning_x",
        "binning_y",
        "roi.x_offset",
        "roi.y_offset",
        "roi.height",
        "roi.width",
        "roi.do_rectify",
    }
    assert strs == {"distortion_model": "plumb_bob"}
    _each_value_is_the_messages(msg, nums)
    assert nums["k"].shape == (9,) and nums["p"][11] == 11.5 and nums["roi.do_rectify"].dtype == bool


def test_lists_of_messages_are_indexed_and_times_outside_the_header_are_seconds() -> None:
    point = T["trajectory_msgs/msg/JointTrajectoryPoint"]
    dur = T["builtin_interfaces/msg/Duration"]
    msg = _bagged(
        T["trajectory_msgs/msg/JointTrajectory"](
            header=_header(1, "base"),
            joint_names=["a", "b"],
            points=[
                point(
                    positions=np.array([0.1, 0.2]),
                    velocities=np.array([]),
                    accelerations=np.array([]),
                    effort=np.array([]),
                    time_from_start=dur(sec=k, nanosec=250_000_000),
                )
                for k in (1, 2)
            ],
        )
    )
    nums, strs = flatten(msg)
    assert strs == {"joint_names[0]": "a", "joint_names[1]": "b"}
    assert nums["points[1].time_from_start"].tolist() == [2.25]
    assert nums["points[0].positions"].tolist() == [0.1, 0.2] and nums["points[0].velocities"].shape == (0,)
    _each_value_is_the_messages(msg, nums)
    pairs = [transform(3_000_000_007, f"p{i}", f"c{i}", (float(i), 0.0, 0.0), (0.0, 0.0, 0.0, 1.0)) for i in range(2)]
    tf = _bagged(T["tf2_msgs/msg/TFMessage"](transforms=pairs))
    nums, strs = flatten(tf)
    # a header inside the message (not its own) is data: its stamp a number, its frame a string
    assert nums["transforms[1].header.stamp"].tolist() == [3.000000007]
    assert strs["transforms[1].header.frame_id"] == "p1" and strs["transforms[0].child_frame_id"] == "c0"
    assert nums["transforms[1].transform.translation.x"].tolist() == [1.0]
    _each_value_is_the_messages(tf, nums)


def test_a_multi_array_keeps_its_layout_and_data() -> None:
    dim = T["std_msgs/msg/MultiArrayDimension"](label="joints", size=3, stride=3)
    msg = _bagged(
        T["std_msgs/msg/Float64MultiArray"](
            layout=T["std_msgs/msg/MultiArrayLayout"](dim=[dim], data_offset=0), data=np.array([1.0, 2.0, 3.0])
        )
    )
    nums, strs = flatten(msg)
    assert strs == {"layout.dim[0].label": "joints"}
    assert set(nums) == {"layout.dim[0].size", "layout.dim[0].stride", "layout.data_offset", "data"}
    _each_value_is_the_messages(msg, nums)


@pytest.fixture(scope="module")
def real_messages() -> dict[str, list[Any]]:
    with AnyReader([realdata(INTERBOTIX) / WX200[0]]) as r:
        out: dict[str, list[Any]] = {}
        for c, _, raw in r.messages():
            out.setdefault(c.topic, []).append(r.deserialize(raw, c.msgtype))
    return out


def test_the_real_robots_own_types_flatten_and_stack_with_their_dtypes(real_messages) -> None:
    temps = real_messages["/wx200/temperatures/joint_group"]  # interbotix_xsarm_diagnostic_tool/JointTemps
    nums, strs = flatten(temps[0])
    assert list(nums) == ["temps"] and strs == {f"names[{i}]": n for i, n in enumerate(temps[0].names)}
    values, names, left_out = stack([flatten(m)[0] for m in temps])
    assert values.dtype == np.int32 and names == tuple(f"temps[{i}]" for i in range(5)) and left_out == {}
    np.testing.assert_array_equal(values, np.stack([m.temps for m in temps]))
    joints = real_messages["/wx200/joint_states"]  # ROS 1: the header's seq is a counter, not a value
    assert set(flatten(joints[0])[0]) == {"position", "velocity", "effort"}
    cmds = real_messages["/wx200/commands/joint_single"]  # JointSingleCommand: name, cmd
    values, names, _ = stack([flatten(m)[0] for m in cmds])
    assert names == ("cmd",) and values[:, 0].tolist() == [m.cmd for m in cmds]


def test_stack_makes_one_named_column_per_number_and_names_what_cannot_be_a_column() -> None:
    values, names, left_out = stack([flatten(_pose(x))[0] for x in (1.0, 2.0, 3.0)])
    assert names[0] == "pose.position.x" and len(names) == 7 and values.dtype == np.float64
    assert values[:, 0].tolist() == [1.0, 2.0, 3.0] and np.all(values[:, 6] == 0.8)
    rows = [flatten(_camera_info(d))[0] for d in (5, 5, 8)]  # a calibration that changes model mid-topic
    values, names, left_out = stack(rows)
    assert left_out == {"d": [5, 8]} and "d" not in names and "d[0]" not in names
    assert names[:3] == ("height", "width", "k[0]") and names.count("k[8]") == 1 and len(names) == 2 + 9 + 9 + 12 + 7
    np.testing.assert_array_equal(values[:, names.index("p[11]")], [11.5] * 3)
    np.testing.assert_array_equal(values[:, names.index("roi.do_rectify")], [1.0] * 3)  # mixed dtypes: float64
    empty = stack([flatten(_camera_info(0))[0]] * 2)[2]
    assert "d" not in empty  # an array empty in every message holds nothing to name
    one, two = ({"a": np.array([1.0])}, {"a": np.array([2.0]), "b": np.array([5.0])})
    values, names, left_out = stack([one, two])  # a field some message lacks
    assert names == ("a",) and left_out == {"b": [-1, 1]}
    assert stack([{"a": np.array([1.0])}, {"a": np.array([1.0, 2.0])}])[:2] == (None, ())
    assert stack([]) == (None, (), {})
    flags, _, _ = stack([flatten(_bagged(T["std_msgs/msg/Bool"](data=b)))[0] for b in (True, False)])
    assert flags.dtype == bool and flags[:, 0].tolist() == [True, False]  # a flag stays a flag


def test_an_empty_message_has_no_value() -> None:
    # rosbags gives std_msgs/Empty the uint8 placeholder an IDL struct needs; it is not a field of the message
    msg = _bagged(T["std_msgs/msg/Empty"]())
    assert "structure_needs_at_least_one_member" in msg.__dataclass_fields__
    assert flatten(msg) == ({}, {}) and stack([flatten(msg)[0]] * 3) == (None, (), {})


def test_stamp_ns_is_exact_at_a_real_epoch() -> None:
    assert stamp_ns(_time(1_700_000_000_123_456_789)) == 1_700_000_000_123_456_789


def test_a_controller_state_names_its_arrays_by_its_joints() -> None:
    """trajectory_msgs/JointTrajectory carries `joint_names` beside its points' arrays (as control_msgs' controller
    states do beside `desired`/`actual`/`error`): each array as wide as the names is named by joint, others keep
    their indices, and no names leaves every name as it was."""
    kinds = (
        "trajectory_msgs/msg/JointTrajectory",
        "trajectory_msgs/msg/JointTrajectoryPoint",
        "builtin_interfaces/msg/Duration",
    )
    Traj, Point, Dur = (T[k] for k in kinds)
    joints = ["shoulder", "elbow"]
    arrays = {"positions": [0.1, 0.2], "velocities": [1.0, 2.0], "accelerations": [], "effort": [5.0]}
    point = Point(**{k: np.array(v) for k, v in arrays.items()}, time_from_start=Dur(sec=1, nanosec=0))
    msg = _bagged(Traj(header=_header(1), joint_names=joints, points=[point]))
    _, names, _ = stack([flatten(msg)[0]] * 2)
    named = by_joint(names, joints)
    assert "points[0].positions.shoulder" in named and "points[0].velocities.elbow" in named
    assert "points[0].effort" in named  # one element: not a joint array
    assert by_joint(names, []) == names


def test_constant_columns_are_those_holding_one_value_in_every_message() -> None:
    v = np.array([[0.0, 1.0, np.nan, 3.0], [0.0, 2.0, np.nan, np.nan], [0.0, 3.0, np.nan, 3.0]])
    assert constant_columns(v, ["zero", "moves", "never", "gaps"]) == ["zero", "gaps"]  # all-NaN is not constant
    assert constant_columns(v[:1], ["zero", "moves", "never", "gaps"]) == []  # one message says nothing
    assert constant_columns(np.array([[1, 2], [1, 3]], np.int32), ["a", "b"]) == ["a"]
