"""The rosbag adapter on a synthetic ROS 2 MCAP bag whose every value is known (conftest.py): cameras decoded to the
pixels written and timed by their exposure stamps, the clock chosen per topic by evidence, TF chains, task text,
every topic accounted for, episode cuts, and bad bags failing their episode with file, topic and message index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from scipy.spatial.transform import Rotation

from adapters.base import AdapterError
from adapters.registry import get_adapter
from tests.adapters.rosbag.conftest import T0, write_bag

OPTIONS = {
    "embodiment": "franka",
    "task_topic": "/task",
    "eef": {"frame": "ee_link", "base": "world"},
    "gripper": {"topic": "/robot/joint_states", "component": "panda_finger_joint1", "closed": 0.0, "open": 0.04},
}


def _read(root: Path, **options):
    adapter = get_adapter("rosbag", {**OPTIONS, **options})
    refs = list(adapter.discover(root))
    return adapter, refs, [adapter.read(r) for r in refs]


def test_every_topic_is_accounted_for_and_cameras_hold_the_written_frames(synthetic_bag) -> None:
    root = synthetic_bag.path.parent.parent
    _, refs, (ep,) = _read(root)
    assert refs[0].subset == "lab" and refs[0].raw_id == "lab/episode_0" and refs[0].locator["kind"] == "ros2 folder"
    topics = ep.metadata["topics"]
    assert set(topics) == {
        "/robot/joint_states",
        "/tf",
        "/tf_static",
        "/camera/color/image_raw",
        "/task",
        "/wrist_camera/image_raw/compressed",
        "/camera/depth/image_raw",
        "/chatter",
        "/gripper/command",
        "/base_pose",
    }
    unused = {f.message.split()[1] for f in ep.findings if f.code == "topic_not_used"}
    assert unused == {"/camera/depth/image_raw", "/chatter"}
    assert all(f.episodes == ("lab/episode_0",) for f in ep.findings)
    assert all(v["role"] != "not used" for t, v in topics.items() if t not in unused)
    # the lineage's account of every topic: what it became and which time it is on
    (account,) = [f.message for f in ep.findings if f.code == "bag_topics"]
    assert [line.split(" (", 1)[0] for line in account.split(" | ")] == sorted(topics)
    assert "camera camera_color_image_raw; header stamps (received 30 ms after, median)" in account
    assert "/chatter (std_msgs/msg/String, 1 of 1 messages): not used: a string topic" in account
    assert "/gripper/command (std_msgs/msg/Float64, 15 of 15 messages): action (1 numeric fields); receive" in account
    # natives equal the messages: joint positions by name, the gripper command as an action
    pos = ep.states["robot.joint_states.position"]
    np.testing.assert_array_equal(pos.values, np.stack(synthetic_bag.joints["pos"]))
    assert pos.names[0] == "panda_joint1" and ep.actions["gripper.command"].values[:4, 0].tolist() == [0, 1, 0, 1]
    # cameras: raw rgb8 and PNG decoded to the very pixels written, in order
    for topic, name in (
        ("/camera/color/image_raw", "camera_color_image_raw"),
        ("/wrist_camera/image_raw/compressed", "wrist_camera_image_raw_compressed"),
    ):
        cam, written = ep.cameras[name], synthetic_bag.frames[topic]
        assert len(cam) == len(written) and (cam.height, cam.width) == written[0][2].shape[:2]
        for i, frame in cam.frames([0, len(cam) - 1]):
            np.testing.assert_array_equal(frame, written[i][2])
    assert ep.cameras["wrist_camera_image_raw_compressed"].canonical.value == "wrist_right"
    assert ep.language[0].text == "put the cube in the bowl"


def test_header_stamps_by_evidence_one_clock_and_image_timing(synthetic_bag) -> None:
    _, _, (ep,) = _read(synthetic_bag.path.parent.parent)
    topics = ep.metadata["topics"]
    assert topics["/robot/joint_states"]["stamps"] == "header"
    assert topics["/base_pose"]["stamps"] == "receive" and "zero" in topics["/base_pose"]["stamps_reason"]
    assert (
        topics["/gripper/command"]["stamps"] == "receive" and topics["/gripper/command"]["stamps_reason"] == "no header"
    )
    t0 = ep.metadata["start_ns"]
    assert t0 == T0 - 2_000_000  # the first joint state's stamp: the episode's first instant
    np.testing.assert_allclose(
        ep.states["robot.joint_states.position"].timestamps, (np.array(synthetic_bag.joints["stamp"]) - t0) / 1e9
    )
    cam = ep.cameras["camera_color_image_raw"]
    written = synthetic_bag.frames["/camera/color/image_raw"]
    stamps, received = ((np.array([w[k] for w in written]) - t0) / 1e9 for k in (1, 0))
    np.testing.assert_allclose(cam.timestamps, stamps)  # exposure times, 30 ms before the message reached the bag
    assert np.all(received - cam.timestamps == pytest.approx(0.030))
    assert topics["/camera/color/image_raw"]["latency_median_s"] == pytest.approx(0.030)
    # the frame shown at k/10 s is the last exposed at or before it (what canonicalization's hold picks)
    k = np.arange(0, int(cam.timestamps[-1] * 10))
    idx = np.searchsorted(cam.timestamps, k / 10, side="right") - 1
    assert np.all(cam.timestamps[idx[idx >= 0]] <= k[idx >= 0] / 10)
    forced = get_adapter("rosbag", {"stamps": "receive"}).read(_read(synthetic_bag.path.parent.parent)[1][0])
    assert forced.metadata["topics"]["/robot/joint_states"]["stamps"] == "receive"


def test_eef_from_the_tf_chain_and_gripper_range(synthetic_bag) -> None:
    _, _, (ep,) = _read(synthetic_bag.path.parent.parent)
    assert ep.metadata["tf_chain"] == ["world", "base_link", "ee_link"]
    hand = ep.hands.hands[1]
    xyz = np.stack([e[1] for e in synthetic_bag.ee]) + np.array([1.0, 0.0, 0.0])  # world -> base_link is 1 m along x
    np.testing.assert_allclose(hand.position.values, xyz, atol=1e-12)
    angle = (Rotation.from_quat(hand.rotation.values) * Rotation.from_quat([1, 0, 0, 0]).inv()).magnitude()
    assert np.all(angle < 1e-9)
    finger = np.stack(synthetic_bag.joints["pos"])[:, 7]  # metres of a 0.04 m stroke
    np.testing.assert_allclose(hand.gripper.values, finger / 0.04)
    assert hand.gripper.values.min() >= 0 and hand.gripper.values.max() <= 1


def test_episode_cuts_by_window_gap_and_marker(synthetic_bag, tmp_path: Path) -> None:
    root = synthetic_bag.path.parent.parent
    _, refs, eps = _read(root, episodes={"by": "window", "window_s": 1.0})
    assert [r.raw_id for r in refs] == ["lab/episode_0#0", "lab/episode_0#1", "lab/episode_0#2"]
    total = sum(len(e.states["robot.joint_states.position"]) for e in eps)
    assert total == len(synthetic_bag.joints["pos"])  # no message lost or read twice at the cuts
    assert all(e.states["robot.joint_states.position"].timestamps[0] < 0.05 for e in eps)  # each on its own clock
    _, refs, _ = _read(root, episodes={"by": "topic", "topic": "/gripper/command", "min_s": 0.1})
    assert len(refs) == 7  # the command turns 1 seven times in 3 s and back to 0 after each
    _, refs, _ = _read(root, episodes={"by": "gap", "gap_s": 0.5, "gap_topics": ["/gripper/command"]})
    assert len(refs) == 1
    with pytest.raises(ValidationError, match=r"episodes\.by 'window' needs episodes\.window_s"):
        get_adapter("rosbag", {"episodes": {"by": "window"}})
    with pytest.raises(ValidationError, match=r"stamps"):
        get_adapter("rosbag", {"stamps": "sometimes"})
    with pytest.raises(ValidationError, match=r"eef needs embodiment"):
        get_adapter("rosbag", {"eef": {"frame": "ee_link", "base": "world"}})
    with pytest.raises(ValidationError, match=r"gripper needs eef"):
        get_adapter("rosbag", {"embodiment": "franka", "gripper": OPTIONS["gripper"]})


def test_a_corrupt_message_and_a_truncated_bag_fail_their_episode_naming_file_topic_and_index(tmp_path: Path) -> None:
    bad = write_bag(tmp_path / "raw" / "bad", seconds=0.5, corrupt_joint_message=3)
    adapter = get_adapter("rosbag")
    (ref,) = adapter.discover(tmp_path / "raw")
    with pytest.raises(AdapterError, match=r"message 3 of topic /robot/joint_states") as e:
        adapter.read(ref)
    assert e.value.file == str(bad.path) and e.value.field == "/robot/joint_states"
    mcap = next((tmp_path / "raw" / "bad").glob("*.mcap"))
    mcap.write_bytes(mcap.read_bytes()[: mcap.stat().st_size // 2])
    with pytest.raises(AdapterError, match=r"adapter rosbag, file .*bad.*: ") as e:
        adapter.read(ref)
    assert e.value.field is not None
