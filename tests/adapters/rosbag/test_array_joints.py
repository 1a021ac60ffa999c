"""The `joints` option on a written ROS 1 bag of a robot that records its joints as an unnamed array in a message of
its own: a type shaped like Leju KUAVO's `kuavo_msgs/sensorsData` (header, `time sensor_time`, `kuavo_msgs/jointData
joint_data` with `joint_q` float64[] of 28: legs 0..11, arms 12..25, head 26..27), decoded from the definition the
bag's connection header carries (nothing registered on the reading side). The arm elements read as the
`kuavo_4pro_long` joints reach canonical hands by FK; a topic, field or index the bag does not hold is refused
naming the option's field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from rosbags.rosbag1 import Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from adapters.base import AdapterError
from adapters.registry import get_adapter
from ingest.canonical.canonicalize import canonicalize_spans
from ingest.frames import compose, offset_matrix
from ingest.kinematics import load_model
from schemas.actions import ActionKind, action_kind
from schemas.canonical import GRIPPER, WRIST_POS, hand_dims
from schemas.canonicalize import CanonicalizeSpec
from schemas.robots.registry import JOINT_SPACE

# kuavo_msgs/sensorsData and jointData as the maker's message package defines them (the generated definition of
# kuavo_msgs/sensorsData; imu_data and end_effector_data left out here: a shape, not the maker's type)
JOINT_DATA = "float64[] joint_q\nfloat64[] joint_v\nfloat64[] joint_vd\nfloat64[] joint_current\n"
SENSORS = "std_msgs/Header header\ntime sensor_time\nkuavo_msgs/jointData joint_data\n"
ROBOT = "kuavo_4pro_long"
T0 = 1_700_000_000_000_000_000
N, HZ = 150, 50  # 3 s at 50 Hz: every fifth message on the 10 Hz grid
ARMS = [f"zarm_{s}{k}_link" for s in "lr" for k in range(1, 8)]  # kuavo_dataset.py @ fce8528:19-21


def _arms(n: int) -> np.ndarray:
    """(n, 14) arm joints within the description's limits: both arms forward and moving, left then right."""
    model = load_model(JOINT_SPACE[ROBOT].description)
    spec = JOINT_SPACE[ROBOT]
    urdf = [j.urdf for arm in spec.arms for j in arm.joints]
    lo = np.array([model.lower[model.joint_names.index(j)] for j in urdf])
    hi = np.array([model.upper[model.joint_names.index(j)] for j in urdf])
    t = np.arange(n)[:, None] / HZ
    q = 0.2 * np.sin(2 * np.pi * 0.5 * t + np.arange(14)[None, :])
    q[:, [0, 7]] -= 0.4  # shoulder pitch: forward
    q[:, [3, 10]] -= 0.6  # elbow flexed
    return np.clip(q, lo + 1e-3, hi - 1e-3)


def write_kuavo_bag(path: Path, width: int = 28) -> np.ndarray:
    """A ROS 1 bag of /sensors_data_raw at 50 Hz; returns the (N, width) joint_q written."""
    store = get_typestore(Stores.ROS1_NOETIC)
    types = get_types_from_msg(JOINT_DATA, "kuavo_msgs/msg/jointData")
    types.update(get_types_from_msg(SENSORS, "kuavo_msgs/msg/sensorsData"))
    store.register(types)
    t = store.types
    q = np.zeros((N, width))
    q[:, :12] = 3.0  # legs: out of every arm limit, would show if read as an arm
    q[:, 12:26] = _arms(N)
    q[:, 26:] = -3.0  # head
    with Writer(path) as w:
        conn = w.add_connection("/sensors_data_raw", "kuavo_msgs/msg/sensorsData", typestore=store)
        for k in range(N):
            ns = T0 + k * (1_000_000_000 // HZ)
            stamp = t["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=ns % 10**9)
            joints = t["kuavo_msgs/msg/jointData"](
                joint_q=q[k], joint_v=np.zeros(width), joint_vd=np.zeros(width), joint_current=np.zeros(width)
            )
            header = t["std_msgs/msg/Header"](seq=k, stamp=stamp, frame_id="world")
            msg = t["kuavo_msgs/msg/sensorsData"](header=header, sensor_time=stamp, joint_data=joints)
            w.write(conn, ns, store.serialize_ros1(msg, "kuavo_msgs/msg/sensorsData"))
    return q


def write_unnamed_joint_states(path: Path, q: np.ndarray) -> None:
    """A ROS 1 bag of sensor_msgs/JointState at 50 Hz whose messages name no joint (positions only)."""
    store = get_typestore(Stores.ROS1_NOETIC)
    t = store.types
    with Writer(path) as w:
        conn = w.add_connection("/joint_states", "sensor_msgs/msg/JointState", typestore=store)
        for k, row in enumerate(q):
            ns = T0 + k * (1_000_000_000 // HZ)
            header = t["std_msgs/msg/Header"](
                seq=k, stamp=t["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=ns % 10**9), frame_id=""
            )
            msg = t["sensor_msgs/msg/JointState"](
                header=header, name=[], position=row, velocity=np.zeros(0), effort=np.zeros(0)
            )
            w.write(conn, ns, store.serialize_ros1(msg, "sensor_msgs/msg/JointState"))


def _read(root: Path, **options):
    adapter = get_adapter("rosbag", {"embodiment": ROBOT, **options})
    (ref,) = adapter.discover(root)
    return adapter.read(ref)


def _fk(q: np.ndarray) -> np.ndarray:
    """(n, 2, 4, 4) canonical wrists (left, right) by FK of (n, 14) arm values, left then right."""
    spec = JOINT_SPACE[ROBOT]
    model = load_model(spec.description)
    joints = [j.urdf for arm in spec.arms for j in arm.joints]
    links = model.forward(model.assemble(dict(zip(joints, q.T, strict=True)), len(q)), [a.link for a in spec.arms])
    return np.stack([compose(links[:, k], offset_matrix(a.link_from_wrist)) for k, a in enumerate(spec.arms)], axis=1)


@pytest.fixture(scope="module")
def kuavo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    root = tmp_path_factory.mktemp("let")
    return root, write_kuavo_bag(root / "episode.bag")


def test_the_array_read_as_the_robots_joints_makes_the_episode_canonical(kuavo) -> None:
    root, q = kuavo
    raw = _read(root, joints="kuavo")
    # decoded from the definition the ROS 1 connection header carries: no type registered for it here
    topic = raw.metadata["topics"]["/sensors_data_raw"]
    assert topic["type"] == "kuavo_msgs/msg/sensorsData" and topic["messages"] == N
    assert "named as joints (joints[0]" in topic["role"]
    named = raw.states["sensors_data_raw.joint_data.joint_q"]
    assert named.names == tuple(ARMS)
    np.testing.assert_array_equal(named.values, q[:, 12:26])
    rest = raw.signals["sensors_data_raw"]  # legs, head and the other fields stay natives
    assert "joint_data.joint_q[0]" in rest.names and "joint_data.joint_q[27]" in rest.names
    assert "joint_data.joint_q[12]" not in rest.names and "joint_data.joint_v[12]" in rest.names

    (ep,) = canonicalize_spans(raw, CanonicalizeSpec()).episodes
    left, right = hand_dims(0, WRIST_POS), hand_dims(1, WRIST_POS)
    assert ep.mask[left].all() and ep.mask[right].all()
    assert action_kind(ep.mask[: ep.action.shape[1]], ep.natives.action) is ActionKind.canonical
    assert ep.num_frames >= 29
    wl, wr = ep.state[:, left].astype(np.float64), ep.state[:, right].astype(np.float64)
    assert (wl[:, 1] > wr[:, 1] + 0.2).all()  # the left hand on the left (base_link: y left)

    # within reach: no farther from its shoulder joint than the straight arm's length
    spec = JOINT_SPACE[ROBOT]
    model = load_model(spec.description)
    zero = np.zeros((1, model.dof))
    for k, (arm, wrist) in enumerate(zip(spec.arms, (wl, wr), strict=True)):
        shoulder = model.forward(zero, [arm.link.replace("7", "1")])[0, 0, :3, 3]  # zarm_<s>1_link: its own joint's
        reach = np.linalg.norm(_fk(np.zeros((1, 14)))[0, k, :3, 3] - shoulder)
        assert 0.3 < reach < 0.8
        assert (np.linalg.norm(wrist - shoulder, axis=1) <= reach + 1e-4).all()

    # the canonical wrist is FK of the named columns: frame k is message 5k (the 10 Hz grid on the 50 Hz stamps)
    want = _fk(q[:: HZ // 10, 12:26][: ep.num_frames])
    np.testing.assert_allclose(wl, want[:, 0, :3, 3], atol=1e-5)
    np.testing.assert_allclose(wr, want[:, 1, :3, 3], atol=1e-5)


def test_a_joint_state_that_names_no_joint_is_named_in_place(kuavo, tmp_path: Path) -> None:
    """The same positions as a JointState with an empty name list (joints by index): `field: position` names them."""
    q = kuavo[1]
    write_unnamed_joint_states(tmp_path / "states.bag", q)
    raw = _read(tmp_path, joints=[{"topic": "/joint_states", "field": "position", "start": 12, "names": ARMS}])
    s = raw.states["joint_states.position"]
    assert s.names[:12] == tuple(str(i) for i in range(12)) and s.names[12:26] == tuple(ARMS)
    (ep,) = canonicalize_spans(raw, CanonicalizeSpec()).episodes
    want = _fk(q[:: HZ // 10, 12:26][: ep.num_frames])
    np.testing.assert_allclose(ep.state[:, hand_dims(1, WRIST_POS)], want[:, 1, :3, 3], atol=1e-5)
    with pytest.raises(AdapterError, match=r"index 28 \(zarm_r3_link\), .* past the 28 values of position") as e:
        _read(tmp_path, joints=[{"topic": "/joint_states", "field": "position", "start": 19, "names": ARMS}])
    assert e.value.field == "joints[0].names"


def test_the_same_bag_without_the_option_is_read_by_its_type(kuavo) -> None:
    """The maker's type on /sensors_data_raw names the robot's joints without the option (`signatures.yaml`): the
    same joint states as `joints: kuavo` gives (a bag of another type stays native: test_signatures.py)."""
    by_type, by_option = _read(kuavo[0]), _read(kuavo[0], joints="kuavo")
    (key,) = by_option.states
    assert list(by_type.states) == [key] and by_type.states[key].names == by_option.states[key].names
    np.testing.assert_array_equal(by_type.states[key].values, by_option.states[key].values)
    assert by_type.metadata["embodiment_from"] == "option embodiment"  # the option still names the arm length


@pytest.mark.parametrize(
    ("joints", "field", "says"),
    [
        ({"start": 20}, "joints[0].names", r"index 28 \(zarm_r2_link\), .* past the 28 values of joint_data.joint_q"),
        ({"names": {12: "zarm_l1_link", 40: "zarm_l2_link"}, "start": 0}, "joints[0].names", r"index 40"),
        ({"field": "joint_data.joint_p"}, "joints[0].field", r"arrays: .*joint_data.joint_q"),
        ({"topic": "/sensor_data_raw"}, "joints[0].topic", r"'/sensor_data_raw' is not in the bag"),
        ({"width": 29}, "joints[0].width", r"holds 28 values, not 29"),
    ],
)
def test_what_the_bag_does_not_hold_is_refused_naming_the_option_field(kuavo, joints, field, says) -> None:
    root, _ = kuavo
    spec = {
        "topic": "/sensors_data_raw",
        "field": "joint_data.joint_q",
        "start": 12,
        "names": ARMS,
        **joints,
    }
    with pytest.raises(AdapterError, match=says) as e:
        _read(root, joints=[spec])
    assert e.value.field == field and "episode.bag" in str(e.value.file)


def test_the_preset_refuses_an_array_of_another_width(tmp_path: Path) -> None:
    write_kuavo_bag(tmp_path / "waist.bag", width=29)  # a robot with one more joint: the arms may sit elsewhere
    with pytest.raises(AdapterError, match=r"holds 29 values, not 28") as e:
        _read(tmp_path, joints="kuavo")
    assert e.value.field == "joints[0].width"


def test_options_are_checked_before_any_bag_is_read() -> None:
    with pytest.raises(ValidationError, match="no preset 'kuavo5'"):
        get_adapter("rosbag", {"joints": "kuavo5"})
    with pytest.raises(ValidationError, match="named twice"):
        get_adapter("rosbag", {"joints": [{"topic": "/a", "field": "q", "names": ["j1", "j1"]}]})
    with pytest.raises(ValidationError, match="start goes with a names list"):
        get_adapter("rosbag", {"joints": [{"topic": "/a", "field": "q", "names": {3: "j1"}, "start": 2}]})


def test_a_joint_state_that_names_its_joints_is_not_renamed(synthetic_bag) -> None:
    joints = [{"topic": "/robot/joint_states", "field": "position", "names": ["panda_joint1"]}]
    with pytest.raises(AdapterError, match="a JointState that names its joints") as e:
        _read(synthetic_bag.path.parent.parent, joints=joints)
    assert e.value.field == "joints[0].topic"


# kuavo_msgs/lejuClawState and endEffectorData as the maker defines them (kuavo-ros-opensource @ 23cdfde
# src/kuavo_msgs/msg/lejuClawState.msg: header, int8[] state, endEffectorData data, bool is_high_freq)
EEF_DATA = "string[] name\nfloat64[] position\nfloat64[] velocity\nfloat64[] effort\n"
CLAW_STATE = "std_msgs/Header header\nint8[] state\nkuavo_msgs/endEffectorData data\nbool is_high_freq\n"


def write_claw(path: Path, closing: np.ndarray, t0: int = T0) -> None:
    """A ROS 1 bag of /leju_claw_state at 50 Hz from `t0` (ns): the left claw's `closing` (0 open .. 100 closed), the
    right at 20."""
    store = get_typestore(Stores.ROS1_NOETIC)
    types = get_types_from_msg(EEF_DATA, "kuavo_msgs/msg/endEffectorData")
    types.update(get_types_from_msg(CLAW_STATE, "kuavo_msgs/msg/lejuClawState"))
    store.register(types)
    t = store.types
    with Writer(path) as w:
        conn = w.add_connection("/leju_claw_state", "kuavo_msgs/msg/lejuClawState", typestore=store)
        for k, c in enumerate(closing):
            ns = t0 + k * (1_000_000_000 // HZ)
            stamp = t["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=ns % 10**9)
            data = t["kuavo_msgs/msg/endEffectorData"](
                name=["left_claw", "right_claw"],
                position=np.array([c, 20.0]),
                velocity=np.zeros(2),
                effort=np.zeros(2),
            )
            msg = t["kuavo_msgs/msg/lejuClawState"](
                header=t["std_msgs/msg/Header"](seq=k, stamp=stamp, frame_id=""),
                state=np.array([2, 2], dtype=np.int8),
                data=data,
                is_high_freq=False,
            )
            w.write(conn, ns, store.serialize_ros1(msg, "kuavo_msgs/msg/lejuClawState"))


def test_the_leju_claw_is_the_canonical_gripper_open_at_0_closed_at_100(tmp_path: Path) -> None:
    """A LET bag of a claw-carrying KUAVO: `joints: [kuavo, kuavo_claw]` names the claw's positions; the left claw
    closing over the episode is an opening falling from 1 to 0, the right one held at 20 stays 0.8 open."""
    q = write_kuavo_bag(tmp_path / "arms.bag")
    closing = np.linspace(0.0, 100.0, N)
    write_claw(tmp_path / "claw.bag", closing)
    merged = tmp_path / "let"
    merged.mkdir()
    _merge([tmp_path / "arms.bag", tmp_path / "claw.bag"], merged / "episode.bag")
    raw = _read(merged, joints=["kuavo", "kuavo_claw"])
    assert raw.states["leju_claw_state.data.position"].names == ("left_claw", "right_claw")
    (ep,) = canonicalize_spans(raw, CanonicalizeSpec()).episodes
    left, right = hand_dims(0, GRIPPER), hand_dims(1, GRIPPER)
    assert ep.mask[left].all() and ep.mask[right].all()
    t = ep.timestamps.astype(np.float64)
    np.testing.assert_allclose(ep.state[:, left][:, 0], 1.0 - np.interp(t, np.arange(N) / HZ, closing) / 100, atol=0.02)
    np.testing.assert_allclose(ep.state[:, right][:, 0], 0.8, atol=1e-4)
    assert q.shape == (N, 28)


def _merge(bags: list[Path], out: Path) -> None:
    """One ROS 1 bag holding every connection and message of `bags` (as one recording session writes them)."""
    from rosbags.rosbag1 import Reader

    with Writer(out) as w:
        for bag in bags:
            with Reader(bag) as r:
                conns = {
                    c.id: w.add_connection(c.topic, c.msgtype, msgdef=c.msgdef.data, md5sum=c.digest)
                    for c in r.connections
                }
                for c, ts, data in r.messages():
                    w.write(conns[c.id], ts, data)
