"""The rosbag adapter on real ROS 2 recordings of an aerial manipulator (`rosbag_ats`, its README: a PX4
multirotor with a 3-joint servo arm; a Jazzy MCAP with its message definitions, a sqlite3 bag without): every topic
accounted for, natives equal to the messages as rosbags reads them, and what the adapter met on these files: px4_msgs
types no definition decodes, a JointState that names no joint, fields that are NaN or inf in every message, topics
with no message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore

from adapters.base import AdapterError
from adapters.registry import get_adapter
from adapters.rosbag.fields import flatten
from tests.realdata import realdata

ATS = "rosbag_ats"  # the sample folder (tests/REAL_SAMPLES.md)
MCAP, DB3 = "rosbags/ros2bag_ats_2025-12-02_12-44-28", "rosbags/ros2bag_killed_on_contact"
# src/ats_bringup/config/dxl_ros2_ats.yaml @ 8e54c1aa (README.md): the driver's angle limits, rad at the output shaft
DXL_MIN, DXL_MAX = np.array([0.0, -0.52, -1.9]), np.array([3.14, 0.52, 1.9])


def read_bag(bag: Path) -> dict[str, tuple[str, int, list[tuple[int, object]]]]:
    """topic -> (type, messages in the bag, [(receive ns, message)]) as rosbags reads the bag on its own (ROS 2
    Humble's types for a bag without definitions; a topic of a type neither defines: no message read)."""
    out = {}
    with AnyReader([bag], default_typestore=get_typestore(Stores.ROS2_HUMBLE)) as r:
        for c in r.connections:
            known = c.msgtype in r.typestore.fielddefs
            msgs = [(t, r.deserialize(raw, c.msgtype)) for _, t, raw in r.messages([c])] if known else []
            out[c.topic] = (c.msgtype, c.msgcount, msgs)
    return out


def stamp(m: object) -> int:
    return m.header.stamp.sec * 10**9 + m.header.stamp.nanosec


@pytest.fixture(scope="module")
def bags() -> dict[str, tuple[object, dict]]:
    adapter = get_adapter("rosbag")
    return {r.raw_id: (adapter.read(r), read_bag(realdata(ATS) / r.raw_id)) for r in adapter.discover(realdata(ATS))}


def test_every_topic_is_used_or_named_with_its_reason(bags) -> None:
    assert sorted(bags) == sorted([DB3, MCAP])
    for raw_id, (ep, msgs) in bags.items():
        topics = ep.metadata["topics"]
        assert set(topics) == set(msgs), raw_id
        unused = {f.message.split()[1]: f.message for f in ep.findings if f.code == "topic_not_used"}
        (account,) = [f.message for f in ep.findings if f.code == "bag_topics"]
        for topic, (typ, count, read) in msgs.items():
            v = topics[topic]
            assert (v["type"], v["messages_in_bag"]) == (typ, count) and f"{topic} ({typ}, " in account
            if not count:
                assert unused[topic].endswith("0 messages): the bag holds no message of it"), (raw_id, topic)
            elif not read:  # px4_msgs in the bag without definitions: named with the count it could not decode
                assert f"): {count} message(s) that cannot be decoded: no definition of its type" in unused[topic]
            else:
                assert topic not in unused and v["messages"] == count and v["role"] != "not used", (raw_id, topic)
        assert set(unused) == {t for t, (_, n, read) in msgs.items() if not (n and read)}
    # what each file holds of those: 8 empty topics in the MCAP; in the db3 15 empty, 15 px4_msgs with messages
    mcap, db3 = bags[MCAP][1], bags[DB3][1]
    assert sum(not n for _, n, _ in mcap.values()) == 8 and all(read or not n for _, n, read in mcap.values())
    assert sum(not n for _, n, _ in db3.values()) == 15
    undecoded = [t for t, (typ, n, read) in db3.items() if n and not read]
    assert len(undecoded) == 15 and all(db3[t][0].startswith("px4_msgs/") for t in undecoded)


def test_the_joint_states_are_the_messages_on_their_header_stamps(bags) -> None:
    for raw_id, names in ((MCAP, ("q0", "q1", "q2")), (DB3, ("0", "1", "2"))):
        ep, msgs = bags[raw_id]
        joints = [m for _, m in msgs["/servo/out/state"][2]]
        assert [tuple(m.name) for m in joints[:1]] == [names if raw_id == MCAP else ()]  # the Feetech driver names none
        pos = ep.states["servo.out.state.position"]
        assert pos.names == names
        np.testing.assert_array_equal(pos.values, np.stack([m.position for m in joints]))
        np.testing.assert_array_equal(ep.signals["servo.out.state.velocity"].values, [m.velocity for m in joints])
        np.testing.assert_allclose(
            pos.timestamps, (np.array([stamp(m) for m in joints]) - ep.metadata["start_ns"]) / 1e9, atol=1e-12
        )
        clock = ep.metadata["topics"]["/servo/out/state"]
        assert clock["stamps"] == "header" and 0 < clock["latency_median_s"] < 0.002  # stamped at publish
        unnamed = "; no joint names in the messages: by index"
        assert clock["role"].endswith(unnamed) == (raw_id == DB3)
    ep, msgs = bags[MCAP]
    effort = np.stack([m.effort for _, m in msgs["/servo/out/state"][2]])
    np.testing.assert_array_equal(ep.signals["servo.out.state.effort"].values, effort)  # mA, the driver's own
    # the arm moves (q0 0.18..1.57 rad) within the driver's angle limits
    assert np.ptp(ep.states["servo.out.state.position"].values[:, 0]) > 1.0
    p = ep.states["servo.out.state.position"].values
    assert (p >= DXL_MIN - 0.02).all() and (p <= DXL_MAX + 0.02).all()
    # the commands name other joints (q1 q2 q3): each topic keeps its own names
    assert ep.states["servo.in.state.position"].names == ("q1", "q2", "q3")


def test_px4_fields_are_the_messages_less_those_never_finite(bags) -> None:
    """Every PX4 topic of the MCAP (definitions in the bag): each kept column equals the message field; the columns
    left out are exactly those with no number a float32 native can keep in any message, and the role names them."""
    ep, msgs = bags[MCAP]
    checked = 0
    for topic, (typ, _, read) in msgs.items():
        if not typ.startswith("px4_msgs/") or not read:
            continue
        s = ep.signals[topic.strip("/").replace("/", ".")]
        rows = [flatten(m)[0] for _, m in read]
        full = {k: np.stack([r[k] for r in rows]) for k in rows[0]}
        cols = {
            (k if v.shape[1] == 1 else f"{k}[{i}]"): v[:, i].astype(np.float64)
            for k, v in full.items()
            for i in range(v.shape[1])
        }
        never = sorted(n for n, c in cols.items() if not (np.abs(c) <= np.finfo(np.float32).max).any())
        assert sorted(set(cols) - set(s.names)) == never, topic
        for j, name in enumerate(s.names):
            np.testing.assert_array_equal(s.values[:, j].astype(np.float64), cols[name], err_msg=f"{topic} {name}")
        role = ep.metadata["topics"][topic]["role"]
        assert ("no float32 number in any message, left out" in role) == bool(never), topic
        checked += 1
    assert checked == 15
    role = ep.metadata["topics"]["/fmu/out/actuator_motors"]["role"]
    assert "'control[4]': 'nan'" in role and "'control[11]': 'nan'" in role  # a quadrotor: 4 of 12 motor channels
    assert "'vxy_max': 'inf'" in ep.metadata["topics"]["/fmu/out/vehicle_local_position"]["role"]
    # the bag's voltage is a 6S pack's (real hardware)
    volts = ep.signals["fmu.out.battery_status"]
    assert 22.0 < volts.values[:, volts.names.index("voltage_v")].mean() < 25.2


def test_a_robots_own_definitions_decode_the_bag_that_holds_none(tmp_path: Path) -> None:
    """The `message_definitions` option: px4_msgs as a checkout has them (`px4_msgs/msg/<Type>.msg`; here the texts the
    December MCAP embeds, which fit the May messages: the battery reads a 6S pack, the IMU 1 g) decode the db3's PX4
    topics; the two types the MCAP does not define stay named. A folder with no definition fails the source."""
    with AnyReader([realdata(ATS) / MCAP]) as r:
        texts = {c.msgtype.split("/")[-1]: c.msgdef.data for c in r.connections if c.msgtype.startswith("px4_msgs/")}
    (tmp_path / "px4_msgs/msg").mkdir(parents=True)
    for name, text in texts.items():
        (tmp_path / "px4_msgs/msg" / f"{name}.msg").write_text(text)
    adapter = get_adapter("rosbag", {"message_definitions": [str(tmp_path)]})
    ep = adapter.read(next(r for r in adapter.discover(realdata(ATS)) if r.raw_id == DB3))
    unused = {f.message.split()[1]: f.message for f in ep.findings if f.code == "topic_not_used"}
    undecoded = sorted(t for t, m in unused.items() if "cannot be decoded" in m)
    assert undecoded == ["/fmu/out/estimator_status_flags", "/fmu/out/failsafe_flags"]
    battery = ep.signals["fmu.out.battery_status"]
    assert len(battery) == 130 and 24.1 < battery.values[:, battery.names.index("voltage_v")].mean() < 24.3
    imu = ep.signals["fmu.out.sensor_combined"]
    assert len(imu) == 1321
    np.testing.assert_allclose(imu.values[:, imu.names.index("accelerometer_m_s2[2]")].mean(), -9.81, atol=0.02)
    (tmp_path / "empty").mkdir()
    with pytest.raises(AdapterError, match=r"message_definitions.*no <package>/msg/<Type>\.msg under"):
        list(get_adapter("rosbag", {"message_definitions": [str(tmp_path / "empty")]}).discover(realdata(ATS)))
