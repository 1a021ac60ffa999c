"""Issue 97 item 2, the class across adapters: where two streams carry the same joints, one over the whole recording
and one over its last part only, forward kinematics follows the one covering the most of the episode (the part's
name sorts first, as `/hocook/joint_states` did in the real Franka bag), the episode keeps the whole recording, and a
note names the stream read and the one not read, with their seconds. Each row writes its source's own files and reads
them with the adapter, as a job does.

The adapters whose files can hold such a pair are rows: ROS bags (topics) and LeRobot datasets (columns of one table:
their coverage differs where one is NaN). The `arrays` adapter keeps only arrays of every row of an episode (a shorter
one is named, not read) and names the columns of one array only (its layout's `joints`), and a table log's joints are
the one set its column map declares: neither has two streams of the same joints to choose between."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from adapters.registry import get_adapter
from ingest.canonical.canonicalize import canonicalize_spans
from ingest.lerobot.writer import LeRobotWriter
from schemas.lerobot_features import FeatureSpec

SECONDS, PART_FROM = 6.0, 3.6  # the whole recording; the second stream only from here on
ARM = [f"panda_joint{i}" for i in range(1, 8)]
JOINTS = [*ARM, "panda_finger_joint1"]
HOME = np.array([0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785, 0.03])  # inside the Panda's limits


def _pose(t: np.ndarray) -> np.ndarray:
    """(T, 8) the arm swinging 0.4 rad at 0.4 Hz over the whole recording (never idle), the fingers still."""
    q = np.tile(HOME, (len(t), 1))
    q[:, :7] += 0.4 * np.sin(2 * np.pi * 0.4 * t)[:, None]
    return q


def _bag(root: Path) -> tuple[str, str]:
    """A ROS 2 MCAP: the robot's /joint_states over the whole recording at 50 Hz, a controller's /a/joint_states
    (the arm's seven joints) over its last part at 100 Hz."""
    ts = get_typestore(Stores.ROS2_HUMBLE)
    t0, typ = 1_700_000_000_000_000_000, "sensor_msgs/msg/JointState"
    msgs = []
    for topic, names, hz, start in (("/joint_states", JOINTS, 50, 0.0), ("/a/joint_states", ARM, 100, PART_FROM)):
        for s in np.arange(start, SECONDS, 1 / hz):
            ns = t0 + round(s * 1e9)
            stamp = ts.types["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=ns % 10**9)
            header = ts.types["std_msgs/msg/Header"](stamp=stamp, frame_id="")
            pos = _pose(np.array([s]))[0, : len(names)]
            msg = ts.types[typ](header=header, name=names, position=pos, velocity=np.array([]), effort=np.array([]))
            msgs.append((ns, topic, msg))
    with Writer(root / "bag", version=8, storage_plugin=StoragePlugin.MCAP) as w:
        conns = {t: w.add_connection(t, typ, typestore=ts) for t in ("/joint_states", "/a/joint_states")}
        for ns, topic, msg in sorted(msgs, key=lambda m: (m[0], m[1])):
            w.write(conns[topic], ns, ts.serialize_cdr(msg, typ))
    return "joint_states.position", "a.joint_states.position"


def _lerobot(root: Path) -> tuple[str, str]:
    """A LeRobot v2.1 dataset at 30 fps: `observation.joints` every row, `observation.a_arm` (the same joint names)
    NaN until PART_FROM (a second recorder that joined late; our writer refuses NaN, so the parquet is rewritten)."""
    fps = 30
    vec = FeatureSpec(dtype="float32", shape=(len(JOINTS),), names=JOINTS)
    features = {"observation.joints": vec, "observation.a_arm": vec}
    t = np.arange(round(SECONDS * fps)) / fps
    q = _pose(t).astype(np.float32)
    with LeRobotWriter.create(root / "ds", fps=fps, features=features, robot_type="panda") as w:
        with w.episode(task="swing the arm") as ep:
            for i in range(len(t)):
                ep.add_frame({"observation.joints": q[i], "observation.a_arm": q[i]})
    [data] = (root / "ds").rglob("episode_000000.parquet")
    table = pq.read_table(data)
    late = np.where((t < PART_FROM)[:, None], np.float32(np.nan), q)
    at = table.schema.get_field_index("observation.a_arm")
    pq.write_table(table.set_column(at, table.field(at), pa.array(list(late), table.field(at).type)), data)
    return "observation.joints", "observation.a_arm"


SOURCES: dict[str, Callable[[Path], tuple[str, str]]] = {"rosbag": _bag, "lerobot": _lerobot}


@pytest.mark.parametrize("adapter", sorted(SOURCES))
def test_forward_kinematics_follows_the_stream_covering_the_episode_and_says_it(adapter: str, tmp_path: Path) -> None:
    whole, part = SOURCES[adapter](tmp_path)
    source = get_adapter(adapter, {"embodiment": "franka"})
    [ref] = list(source.discover(tmp_path))
    raw = source.read(ref)
    assert {whole, part} <= set(raw.states) and part < whole  # the part sorts first: name order chose it before
    out = canonicalize_spans(raw)
    assert not out.rejections, out.rejections
    [ep] = out.episodes
    assert ep.span_s[1] - ep.span_s[0] >= SECONDS - 0.3, ep.span_s  # the whole recording (before: its last part)
    assert int(ep.mask.sum()) > 0
    [said] = [n for n in ep.notes if "read from" in n]
    assert said.startswith("joint space: state joints panda_joint1 .. panda_joint7 (7 of them) read from " + whole)
    assert f"not read: {part} ({PART_FROM:.2f}.." in said
    assert not [r for r in ep.verdicts if r.code == "canonical_span"]  # nothing of the recording cut
