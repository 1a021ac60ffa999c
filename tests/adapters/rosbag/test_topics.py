"""What each topic of a bag is collected as (`adapters.rosbag.topics`), by its message type: joint states by joint
name, images with their encoding and first frame, TF edges into the tree, strings as text, anything else as its
flattened numeric fields; and a topic that gives nothing, named with its reason in the episode's findings.

The TF tree (`adapters.rosbag.topics`): the chain between two frames through the tree, walked backwards where it goes
child -> parent, and composed into the pose a hand computes from the transforms (REP 105: translation in metres,
quaternions x, y, z, w), each moving edge held at its last transform (never interpolated, never taken from the
future), a static edge constant; and the synthetic bag's /tf_static, latched once at the bag's start, holding in an
episode cut later.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rosbags.rosbag2 import StoragePlugin, Writer

from adapters.registry import get_adapter
from adapters.rosbag.bags import open_bag
from adapters.rosbag.topics import TfTree, TopicData, joint_arrays, matches, matrices, normalize_type, topic_key
from adapters.storage.location import locate
from tests.adapters.rosbag.conftest import T0, TS, H, W, _header, raw_image, transform
from tests.adapters.rosbag.test_real import INTERBOTIX, WX200
from tests.realdata import realdata

KINDS = {
    "/robot/joint_states": "joints",
    "/tf": "tf",
    "/tf_static": "tf",
    "/camera/color/image_raw": "image",
    "/wrist_camera/image_raw/compressed": "image",
    "/camera/depth/image_raw": "image",
    "/task": "string",
    "/chatter": "string",
    "/gripper/command": "fields",
    "/base_pose": "fields",
}


def test_names_types_and_patterns() -> None:
    assert normalize_type("sensor_msgs/JointState") == "sensor_msgs/msg/JointState"  # a ROS 1 name
    assert normalize_type("sensor_msgs/msg/JointState") == "sensor_msgs/msg/JointState"
    assert topic_key("/wx200/joint_states") == "wx200.joint_states" and topic_key("/") == "root"
    assert matches("/wx200/commands/joint_group", ["*command*"]) and matches("/cmd_vel", ["*cmd*"])
    assert matches("/robot/joint_states", ["robot/*"]) and matches("robot/joint_states", ["/robot/joint_states"])
    assert not matches("/robot/joint_states", ["*command*", "/robot"]) and not matches("/x", [])


@pytest.fixture(scope="module")
def collected(synthetic_bag) -> tuple[dict[str, TopicData], TfTree]:
    """Every message of the synthetic bag through `TopicData.add`, in one pass in bag order."""
    data: dict[str, TopicData] = {}
    tree = TfTree()
    with open_bag(locate(synthetic_bag.path)) as r:
        for c in r.connections:
            data[c.topic] = TopicData(c.topic, normalize_type(c.msgtype))
        for c, log, raw in r.messages():
            data[c.topic].add(log, r.deserialize(raw, c.msgtype), tree, static=c.topic == "/tf_static")
    return data, tree


def test_a_topic_is_collected_by_its_message_type(collected) -> None:
    data, _ = collected
    assert {t: d.kind for t, d in data.items()} == KINDS
    with open_bag(locate(realdata(INTERBOTIX) / WX200[0])) as r:  # ROS 1: the same types, a robot's own as fields
        kinds = {c.topic: TopicData(c.topic, normalize_type(c.msgtype)).kind for c in r.connections}
    assert kinds == {
        "/wx200/joint_states": "joints",
        "/wx200/commands/joint_single": "fields",
        "/wx200/temperatures/joint_group": "fields",
    }


def test_joint_states_cameras_tf_and_text_hold_what_was_written(collected, synthetic_bag) -> None:
    data, tree = collected
    joints = data["/robot/joint_states"]
    assert joints.log_ns == synthetic_bag.joints["log"] and joints.stamps == synthetic_bag.joints["stamp"]
    names, arr = joint_arrays(joints.joints)
    assert names[0] == "panda_joint1" and len(names) == 8
    np.testing.assert_array_equal(arr[:, :, 0], np.stack(synthetic_bag.joints["pos"]))
    assert np.all(arr[:, :, 1] == 0) and np.all(np.isnan(arr[:, :, 2]))  # effort never sent: NaN, not zero
    cameras = {"/camera/color/image_raw": "rgb8", "/wrist_camera/image_raw/compressed": "compressed: png"}
    for topic, encoding in cameras.items():
        d, written = data[topic], synthetic_bag.frames[topic]
        assert d.encoding == encoding and d.log_ns == [w[0] for w in written] and d.stamps == [w[1] for w in written]
        np.testing.assert_array_equal(d.first_frame, written[0][2])
    assert data["/camera/color/image_raw"].sizes == {(H, W)}
    depth = data["/camera/depth/image_raw"]
    assert depth.encoding == "16UC1" and depth.first_frame is None  # not a colour frame: nothing decoded
    times, values = tree.moving[("base_link", "ee_link")]
    assert times == [e[0] for e in synthetic_bag.ee]
    np.testing.assert_array_equal(np.stack(values)[:, :3], np.stack([e[1] for e in synthetic_bag.ee]))
    assert set(tree.static) == {("world", "base_link")} and data["/tf"].rows == []
    assert data["/task"].texts == ["put the cube in the bowl"] and data["/chatter"].texts == ["hello"]
    pose = data["/base_pose"]
    assert [r["pose.position.x"][0] for r in pose.rows] == list(range(15)) and pose.stamps == [0] * 15
    assert pose.frames == {"odom"} and pose.strings == {}
    assert data["/gripper/command"].stamps == []  # no header: no stamps


def test_joint_names_in_another_order_or_missing_are_put_by_name() -> None:
    js = TS.types["sensor_msgs/msg/JointState"]
    d, tree = TopicData("/arm/joint_states", "sensor_msgs/msg/JointState"), TfTree()
    sent = [
        (["a", "b", "c"], [1.0, 2.0, 3.0], [0.1, 0.2, 0.3]),
        (["c", "a", "b"], [30.0, 10.0, 20.0], [0.3, 0.1, 0.2]),
        (["b", "a"], [200.0, 100.0], []),  # c not sent, no velocity
    ]
    for k, (names, pos, vel) in enumerate(sent):
        msg = js(
            header=_header(T0 + k), name=names, position=np.array(pos), velocity=np.array(vel), effort=np.array([])
        )
        d.add(T0 + k, msg, tree, static=False)
    names, arr = joint_arrays(d.joints)
    assert names == ("a", "b", "c")
    np.testing.assert_array_equal(arr[:, :, 0], [[1, 2, 3], [10, 20, 30], [100, 200, np.nan]])
    np.testing.assert_array_equal(arr[:, :, 1], [[0.1, 0.2, 0.3], [0.1, 0.2, 0.3], [np.nan] * 3])


def test_string_fields_keep_a_few_distinct_values() -> None:
    d = TopicData("/markers", "geometry_msgs/msg/TransformStamped")
    for k in range(12):
        tr = transform(T0 + k, "map", f"object_{k}", (float(k), 0.0, 0.0), (0.0, 0.0, 0.0, 1.0))
        d.add(T0 + k, tr, TfTree(), static=False)
    assert d.kind == "fields" and len(d.rows) == 12 and d.rows[11]["transform.translation.x"].tolist() == [11.0]
    assert d.strings["child_frame_id"] == {f"object_{k}" for k in range(8)}  # the first eight seen, not all twelve


def _bag_of_unusable_topics(path: Path) -> None:
    t = TS.types
    msgs = []
    for k in range(10):
        log = T0 + k * 100_000_000
        msgs.append(("/heartbeat", "std_msgs/msg/Float64", log, t["std_msgs/msg/Float64"](data=float(k))))
        msgs.append(("/trigger", "std_msgs/msg/Empty", log + 1, t["std_msgs/msg/Empty"]()))
        grow = t["std_msgs/msg/Float64MultiArray"](
            layout=t["std_msgs/msg/MultiArrayLayout"](dim=[], data_offset=0), data=np.arange(1.0 + k % 3)
        )
        msgs.append(("/detections", "std_msgs/msg/Float64MultiArray", log + 2, grow))
        msgs.append(("/diagnostics", "std_msgs/msg/Float64", log + 3, t["std_msgs/msg/Float64"](data=1.0)))
    depth = raw_image(T0, "cam", "32FC1", np.zeros(16, np.uint8), height=2, width=2)
    msgs.append(("/depth", "sensor_msgs/msg/Image", T0 + 5, depth))
    with Writer(path, version=8, storage_plugin=StoragePlugin.MCAP) as w:
        conns = {}
        for topic, typ, log, msg in sorted(msgs, key=lambda m: m[2]):
            if topic not in conns:
                conns[topic] = w.add_connection(topic, typ, typestore=TS)
            w.write(conns[topic], log, TS.serialize_cdr(msg, typ))


def test_a_topic_that_gives_nothing_is_named_with_its_reason(tmp_path: Path) -> None:
    _bag_of_unusable_topics(tmp_path / "bags" / "run")
    adapter = get_adapter("rosbag", {"exclude_topics": ["/diag*"]})
    (ref,) = adapter.discover(tmp_path / "bags")
    ep = adapter.read(ref)
    unused = {f.message.split()[1]: f.message for f in ep.findings if f.code == "topic_not_used"}
    assert set(unused) == {"/trigger", "/diagnostics", "/depth"}
    # std_msgs/Empty: its only member is the placeholder an IDL struct needs, not a value
    assert unused["/trigger"] == "topic /trigger (std_msgs/msg/Empty, 10 messages): no numeric field"
    assert unused["/diagnostics"].endswith("(std_msgs/msg/Float64, 0 messages): excluded by the exclude_topics option")
    assert "encoding '32FC1' is not a colour image" in unused["/depth"]
    # a detector's array whose length changes: the layout is kept, the data named as left out
    assert ep.metadata["fields_left_out"] == {"/detections": {"data": [1, 2, 3]}}
    assert ep.signals["detections"].names == ("layout.data_offset",)
    role = ep.metadata["topics"]["/detections"]["role"]
    assert role == "signal (1 numeric fields); fields of changing width left out {'data': [1, 2, 3]}"
    assert set(ep.signals) == {"heartbeat", "detections"}
    assert ep.signals["heartbeat"].values[:, 0].tolist() == list(range(10))
    (account,) = [f.message for f in ep.findings if f.code == "bag_topics"]
    assert all(f"{t} (" in account for t in (*unused, "/heartbeat", "/detections")) and role in account


S = np.sqrt(0.5)
RZ90 = np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])  # 90 degrees about z: x -> y
RX180 = np.diag([1.0, -1, -1])


def _tree() -> TfTree:
    """world -> base (static, 1 m along x) -> link (moving, 0.5 m up, turned 90 degrees about z at t=10 and back
    to straight at t=30: sent out of order) -> ee (moving from t=20, 0.2 m along link's x); world -> camera (static,
    2 m up, looking down: 180 degrees about x); map -> odom unconnected."""
    tree = TfTree()
    tree.add("world", "base", 0, np.array([1.0, 0, 0, 0, 0, 0, 1]), static=True)
    tree.add("base", "link", 30, np.array([0, 0, 0.5, 0, 0, 0, 1]), static=False)
    tree.add("base", "link", 10, np.array([0, 0, 0.5, 0, 0, S, S]), static=False)
    tree.add("link", "ee", 20, np.array([0.2, 0, 0, 0, 0, 0, 1]), static=False)
    tree.add("/world", "/camera", 0, np.array([0, 0, 2.0, 1, 0, 0, 0]), static=True)
    tree.add("map", "odom", 5, np.array([0, 0, 0, 0, 0, 0, 1.0]), static=False)
    return tree


def test_matrices_read_quaternions_as_xyzw_and_translations_in_the_parent() -> None:
    (m,) = matrices(np.array([[0.1, 0.2, 0.3, 0, 0, S, S]]))
    np.testing.assert_allclose(m[:3, :3], RZ90, atol=1e-15)
    np.testing.assert_allclose(m @ [1, 0, 0, 1], [0.1, 1.2, 0.3, 1])  # the child's x axis, in the parent


def test_the_chain_follows_the_tree_and_walks_an_edge_backwards_from_child_to_parent() -> None:
    tree = _tree()
    assert ("world", "camera") in tree.static  # a frame's leading slash (ROS 1 tf_prefix) is not its name
    assert tree.chain("world", "ee") == [(("world", "base"), True), (("base", "link"), True), (("link", "ee"), True)]
    assert tree.chain("camera", "link") == [
        (("world", "camera"), False),
        (("world", "base"), True),
        (("base", "link"), True),
    ]
    assert tree.chain("world", "odom") is None and tree.chain("world", "nowhere") is None
    assert tree.chain("ee", "ee") == []


def test_a_composed_chain_gives_the_pose_worked_out_by_hand() -> None:
    tree = _tree()
    times, poses = tree.compose(tree.chain("world", "ee"))
    # the pose exists from t=20, when every edge of the chain has sent one (link -> ee is first sent at 20)
    assert times.tolist() == [20, 30]
    # t=20: link turned 90 degrees (held from t=10, not halfway to t=30's), ee 0.2 m along link's x = world's y
    np.testing.assert_allclose(poses[0][:3, 3], [1.0, 0.2, 0.5], atol=1e-15)
    np.testing.assert_allclose(poses[0][:3, :3], RZ90, atol=1e-15)
    # t=30: link straight again
    np.testing.assert_allclose(poses[1][:3, 3], [1.2, 0.0, 0.5], atol=1e-15)
    np.testing.assert_allclose(poses[1][:3, :3], np.eye(3), atol=1e-15)
    # the same ee seen from the camera 2 m above the world origin, looking down: x stays, y and z flip, z is depth
    times, seen = tree.compose(tree.chain("camera", "ee"))
    assert times.tolist() == [20, 30]
    np.testing.assert_allclose(seen[1][:3, 3], [1.2, 0.0, 1.5], atol=1e-15)
    np.testing.assert_allclose(seen[1][:3, :3], RX180, atol=1e-15)
    back = tree.compose(tree.chain("ee", "camera"))[1]  # the reverse chain is the inverse pose
    np.testing.assert_allclose(back @ seen, np.broadcast_to(np.eye(4), (2, 4, 4)), atol=1e-15)


def test_static_edges_alone_give_one_constant_pose_and_a_static_edge_holds_at_every_time() -> None:
    tree = _tree()
    times, poses = tree.compose(tree.chain("base", "camera"))  # base -> world -> camera: no moving edge
    assert len(times) == len(poses) == 1
    np.testing.assert_allclose(poses[0][:3, 3], [-1.0, 0.0, 2.0])
    times, poses = tree.compose(tree.chain("world", "link"))
    assert times.tolist() == [10, 30] and np.all(poses[:, 0, 3] == 1.0)  # world -> base at t=10 and t=30 alike


def test_a_static_transform_read_once_holds_in_an_episode_cut_after_it(synthetic_bag) -> None:
    # /tf_static is one message at the bag's start; the second 1 s window starts after it and still has the edge
    options = {"embodiment": "franka", "eef": {"frame": "ee_link", "base": "world"}}
    adapter = get_adapter("rosbag", {**options, "episodes": {"by": "window", "window_s": 1.0}})
    ref = list(adapter.discover(synthetic_bag.path))[1]
    assert ref.locator["span"][0] > synthetic_bag.ee[0][0]
    ep = adapter.read(ref)
    assert ep.metadata["tf_static"] == {"world->base_link": [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]}
    assert ep.metadata["topics"]["/tf_static"]["messages"] == 1
    written = {log: xyz for log, xyz, _ in synthetic_bag.ee}
    hand = ep.hands.hands[1]
    logs = np.round(hand.position.timestamps * 1e9).astype(np.int64) + ep.metadata["start_ns"]
    want = np.stack([written[int(t)] for t in logs]) + np.array([1.0, 0.0, 0.0])  # world -> base_link: 1 m along x
    np.testing.assert_allclose(hand.position.values, want, atol=1e-12)
    assert len(logs) == pytest.approx(50, abs=1)  # the window's TF messages, 50 Hz
