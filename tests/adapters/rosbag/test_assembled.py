"""An episode as the bag adapter assembles it (`adapters/rosbag/assembled.py`): constant columns are said once per
topic, a long list cut with a count.

The hand a bag episode declares (`adapters/rosbag/assembled.py`): the end effector from a PoseStamped topic or a TF
chain, the gripper opening mapped linearly from closed to open and clipped, moving TF edges kept as signals, and an
option the episode cannot satisfy failing with its field named.
"""

from __future__ import annotations

import numpy as np
import pytest

from adapters.base import AdapterError, Stream
from adapters.rosbag.assembled import Assembled, hand_signals
from adapters.rosbag.options import EefPose, Gripper


def test_constant_columns_are_said_with_the_topic_and_a_long_list_is_cut() -> None:
    ep = Assembled()
    ep.constant("/joint_states", [])
    assert ep.said == []
    ep.constant("/joint_states", [f"position.j{i}" for i in range(15)])
    [(code, message)] = ep.said
    assert code == "constant_channel" and message.startswith("topic /joint_states: 15 column(s) hold one value")
    assert "position.j11, ... (3 more)" in message and "j12" not in message


T = np.arange(4) / 10.0
POSE = (*(f"pose.position.{c}" for c in "xyz"), *(f"pose.orientation.{c}" for c in "xyzw"))


def _fail(message: str, *, field: str | None = None) -> AdapterError:
    return AdapterError(message, adapter="rosbag", field=field)


def _with_pose_topic() -> Assembled:
    ep = Assembled()
    values = np.tile([0.1, 0.2, 0.3, 0.0, 0.0, 0.0, 1.0], (4, 1))
    values[:, 0] += T
    ep.states["ee_pose"] = Stream(T, values, POSE, frame="base_link")
    ep.states["joint_states.position"] = Stream(T, np.stack([T * 0.8, T], axis=1), ("finger", "wrist"))
    return ep


def test_a_pose_topic_is_the_right_hand_with_its_gripper_opening() -> None:
    ep = _with_pose_topic()
    grip = Gripper(topic="/joint_states", component="finger", closed=0.0, open=0.16)
    out = hand_signals(ep, EefPose(topic="/ee_pose"), grip, 0, _fail)
    track = out.hands[1]
    assert np.allclose(track.position.values[:, 0], 0.1 + T) and track.position.frame == "base_link"
    assert np.allclose(track.rotation.values, [0, 0, 0, 1]) and track.rotation.unit == "quat_xyzw"
    assert np.allclose(track.gripper.values, np.clip(T * 0.8 / 0.16, 0, 1))  # clipped at fully open
    assert ep.chain == ["base_link", "/ee_pose"]


def test_a_tf_chain_is_composed_and_moving_edges_are_signals() -> None:
    ep = Assembled()
    for k, t in enumerate(T):
        ep.tree.add("base_link", "ee_link", int(k * 1e8), np.asarray([t, 0, 0, 0, 0, 0, 1.0]), static=False)
    out = hand_signals(ep, EefPose(frame="ee_link", base="base_link", side="left"), None, 0, _fail)
    assert np.allclose(out.hands[0].position.values[:, 0], T) and out.hands[0].position.frame == "base_link"
    assert "tf.base_link.ee_link" in ep.signals and ep.roles["eef"] == "eef pose: base_link -> ee_link"


def test_options_the_episode_cannot_satisfy_name_their_field() -> None:
    grip = Gripper(topic="/joint_states", component="thumb", closed=0.0, open=1.0)
    cases = [
        (Assembled(), EefPose(topic="/nowhere"), None, "eef.topic"),
        (Assembled(), EefPose(frame="tool0", base="base"), None, "eef"),
        (_with_pose_topic(), EefPose(topic="/ee_pose"), grip, "gripper.component"),
    ]
    for ep, eef, gripper, field in cases:
        with pytest.raises(AdapterError) as err:
            hand_signals(ep, eef, gripper, 0, _fail)
        assert err.value.field == field


def test_without_an_eef_no_hand_is_declared() -> None:
    assert hand_signals(Assembled(), None, None, 0, _fail).hands == {}
