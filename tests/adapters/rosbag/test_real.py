"""The rosbag adapter on real recordings (`rosbag_interbotix`, its README: a WidowX 200 and a WidowX 250,
ROS 1, and the WidowX 200 excerpt as ROS 2 MCAP and sqlite3): every topic accounted for, natives equal to the
messages as rosbags reads them, the three containers alike, and the joints where the arm can put them."""

from __future__ import annotations

import numpy as np
import pytest
from rosbags.highlevel import AnyReader

from adapters.registry import get_adapter
from tests.realdata import realdata

INTERBOTIX = "rosbag_interbotix"  # the sample folder (tests/REAL_SAMPLES.md)
WX200 = ("wx200_waist_diagnostics_12s.bag", "wx200_waist_diagnostics_12s_mcap", "wx200_waist_diagnostics_12s_db3")
# mobile_wx200.urdf.xacro @ 0bb2b0e6 (README.md): joint -> (lower, upper), radians / metres
LIMITS = {
    "waist": (-np.pi, np.pi),
    "shoulder": np.radians((-108, 113)),
    "elbow": np.radians((-108, 93)),
    "wrist_angle": np.radians((-100, 123)),
    "wrist_rotate": (-np.pi, np.pi),
    "left_finger": (0.015, 0.037),
    "right_finger": (-0.037, -0.015),
}


@pytest.fixture(scope="module")
def episodes():
    adapter = get_adapter("rosbag")
    return {r.raw_id: adapter.read(r) for r in adapter.discover(realdata(INTERBOTIX))}


def test_every_topic_of_every_bag_is_accounted_for(episodes) -> None:
    assert sorted(episodes) == sorted([*WX200, "wx250_duck_dunk.bag"])
    for raw_id, ep in episodes.items():
        with AnyReader([realdata(INTERBOTIX) / raw_id]) as r:
            topics = {c.topic: c.msgcount for c in r.connections}
        assert set(ep.metadata["topics"]) == set(topics), raw_id
        for t, v in ep.metadata["topics"].items():
            assert v["messages"] == topics[t] and v["role"] != "not used", (raw_id, t)
        # nothing left unused (each topic has a numeric field): the lineage's account of the topics, and the channels
        # that never change (issue 47: said, kept)
        (account,) = [f for f in ep.findings if f.code != "constant_channel"]
        assert account.code == "bag_topics" and all(f"{t} (" in account.message for t in topics), raw_id
        constant = {f.message.split()[1]: f.message for f in ep.findings if f.code == "constant_channel"}
        if raw_id in WX200:  # a waist diagnostic: the gripper and fingers never move, four joints' temperatures stay
            assert constant["/wx200/joint_states:"].endswith(
                ": position.gripper, position.left_finger, position.right_finger"
            )
            assert "4 column(s)" in constant["/wx200/temperatures/joint_group:"]
        else:
            assert not constant, raw_id
    dunk = episodes["wx250_duck_dunk.bag"]
    assert set(dunk.actions) == {"wx250.commands.joint_group", "wx250.commands.joint_single"} and not dunk.states


def test_natives_equal_the_messages_and_the_containers_agree(episodes) -> None:
    ros1 = episodes[WX200[0]]
    with AnyReader([realdata(INTERBOTIX) / WX200[0]]) as r:
        conn = [c for c in r.connections if c.topic == "/wx200/joint_states"]
        msgs = [r.deserialize(raw, c.msgtype) for c, _, raw in r.messages(conn)]
    pos = ros1.states["wx200.joint_states.position"]
    assert pos.names == tuple(msgs[0].name)
    np.testing.assert_array_equal(pos.values, np.stack([m.position for m in msgs]))
    np.testing.assert_array_equal(ros1.signals["wx200.joint_states.effort"].values, np.stack([m.effort for m in msgs]))
    stamps = np.array([m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for m in msgs])
    np.testing.assert_allclose(pos.timestamps, (stamps - ros1.metadata["start_ns"]) / 1e9, atol=1e-12)
    for other in WX200[1:]:
        ep = episodes[other]
        for group in ("states", "actions", "signals"):
            a, b = getattr(ros1, group), getattr(ep, group)
            assert a.keys() == b.keys()
            for k in a:
                np.testing.assert_array_equal(a[k].values, b[k].values)
                np.testing.assert_array_equal(a[k].timestamps, b[k].timestamps)


def test_the_real_arm_stays_in_its_joint_limits_and_its_clock_is_the_recorders(episodes) -> None:
    ep = episodes[WX200[0]]
    pos = ep.states["wx200.joint_states.position"]
    assert set(pos.names) == {*LIMITS, "gripper"}  # gripper: the servo's own angle, no URDF limit
    for j, name in enumerate(pos.names):
        if name == "gripper":
            continue
        lo, hi = LIMITS[name]
        assert lo - 1e-3 <= pos.values[:, j].min() and pos.values[:, j].max() <= hi + 1e-3, name
    clock = ep.metadata["topics"]["/wx200/joint_states"]
    assert clock["stamps"] == "header" and 0 <= clock["latency_median_s"] < 0.01  # stamped < 10 ms before logged
    assert ep.native_fps == pytest.approx(100, rel=0.01)
    # the namespace is Interbotix's model name, a registered robot (schemas/robots/descriptions/wx200.urdf)
    assert ep.robot_type == "wx200" and ep.embodiment == "wx200"
    assert ep.metadata["embodiment_from"] == "topic namespace 'wx200' (a registered joint-space robot)"


def test_windows_cut_the_real_bag_without_losing_a_message() -> None:
    adapter = get_adapter("rosbag", {"episodes": {"by": "window", "window_s": 4.0}})
    refs = [r for r in adapter.discover(realdata(INTERBOTIX) / WX200[1])]
    eps = [adapter.read(r) for r in refs]
    assert len(eps) == 3
    assert sum(len(e.states["wx200.joint_states.position"]) for e in eps) == 1201
