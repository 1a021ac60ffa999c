"""Two real ROS 1 bags of a PR2 (`rosbag_pr2`, its README): a head camera recording (Bayer Images and
their CameraInfo) and a whole-robot state recording (JointState at ~98 Hz, the robot's own TF from its state
publisher, odometry, gripper pressure). Through `eidata ingest` (conftest.real_corpus): every topic a native or a named
finding, 10 Hz on one clock, each video frame the image the bag holds at that instant, each image's stamp one its
CameraInfo carries, the joints the messages at k/10 s and inside the robot's own URDF limits; and, read by the
adapter, every TF edge of a one-axis joint the joint's state put through that URDF."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import av
import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from rosbags.highlevel import AnyReader
from scipy.spatial.transform import Rotation

from adapters.lerobot_format.files import read_jsonl
from adapters.registry import get_adapter
from adapters.rosbag.camera import IMAGE, decode
from schemas.canonicalize import CanonicalizeSpec
from schemas.lerobot import EPISODES_PATH
from tests.adapters.rosbag.conftest import REAL_SOURCES
from tests.fixtures.offline import prepare
from tests.realdata import realdata

pytestmark = pytest.mark.shared_ray

# the two bags in the sample folder (tests/REAL_SAMPLES.md)
CAMERA, JOINTS = "rosbag_pr2/camera/test-color-point-detector.bag", "rosbag_pr2/joints/pr1012_sensors.bag"
DATASETS = {CAMERA: "pr2_camera/camera", JOINTS: "pr2/joints"}


def read_topics(bag: Path) -> dict[str, tuple[str, int, list[tuple[int, object]]]]:
    """topic -> (type, messages in the bag, [(receive ns, message)] in receive order) as rosbags reads it; a topic
    several nodes publish (the PR2's /tf: 11 connections) is one."""
    out: dict[str, tuple[str, int, list]] = {}
    with AnyReader([bag]) as r:
        for c in r.connections:
            typ, n, msgs = out.get(c.topic, (c.msgtype, 0, []))
            out[c.topic] = (typ, n + c.msgcount, msgs)
        for c, t, raw in r.messages():
            out[c.topic][2].append((t, r.deserialize(raw, c.msgtype)))
    return out


def stamp(m: object) -> int:
    return m.header.stamp.sec * 10**9 + m.header.stamp.nanosec


def urdf_joints() -> dict[str, dict]:
    """The PR2's joints from its own robot_description (pr1012_urdf.yaml, recorded with the joint bag; XML comments
    left out: one holds `--`, which XML forbids there)."""
    xml = yaml.safe_load(realdata("rosbag_pr2/joints/pr1012_urdf.yaml").read_text())
    root = ET.fromstring(re.sub(r"<!--.*?-->", "", xml, flags=re.S))
    out = {}
    for j in root.findall("joint"):
        origin, axis, limit = j.find("origin"), j.find("axis"), j.find("limit")
        vec = lambda e, k, d: np.array(((e.get(k) if e is not None else None) or d).split(), float)  # noqa: E731
        out[j.get("name")] = {
            "type": j.get("type"),
            "edge": (j.find("parent").get("link"), j.find("child").get("link")),
            "xyz": vec(origin, "xyz", "0 0 0"),
            "rpy": vec(origin, "rpy", "0 0 0"),
            "axis": vec(axis, "xyz", "1 0 0"),
            "limits": None
            if limit is None or j.get("type") == "continuous"
            else (float(limit.get("lower")), float(limit.get("upper"))),
        }
    return out


@pytest.fixture(scope="module")
def corpus(real_corpus) -> dict[str, tuple[dict, pq.Table, dict, Path, dict]]:
    """bag -> (lineage, data table, info.json features, dataset folder, the bag as rosbags reads it)."""
    out = {}
    for bag, where in DATASETS.items():
        dataset = real_corpus / "datasets" / where
        [(_, line)] = list(read_jsonl(dataset / EPISODES_PATH))
        table = pq.read_table(dataset / "data/chunk-000/episode_000000.parquet")
        features = json.loads((dataset / "meta/info.json").read_text())["features"]
        out[bag] = (line["eidata"], table, features, dataset, read_topics(realdata(bag)))
    return out


def _col(table: pq.Table, key: str) -> np.ndarray:
    values = np.stack(table.column(key).to_numpy(zero_copy_only=False)).astype(np.float64)
    return values.reshape(len(values), -1)


def test_every_topic_is_a_native_a_camera_or_named(corpus) -> None:
    for bag, (lineage, table, features, _, msgs) in corpus.items():
        assert "no canonical dims (" in lineage["tier_reasons"][0]  # natives only (no robot model), said first
        ts = table.column("timestamp").to_numpy()
        np.testing.assert_allclose(ts, np.arange(len(ts)) / 10, atol=1e-6)  # 10 Hz
        natives = features["observation.state.native"]["names"]
        [account] = [f.removeprefix("INFO bag_topics: ") for f in lineage["source_findings"] if "bag_topics: " in f]
        said = {part.split(" (", 1)[0]: part for part in account.split(" | ")}
        unused = {f.split()[3] for f in lineage["source_findings"] if f.startswith("INFO topic_not_used: ")}
        assert set(said) == set(msgs) and not unused, bag  # every PR2 topic gives something
        for topic, (typ, count, _) in msgs.items():
            assert said[topic].startswith(f"{topic} ({typ}, {count} of {count} messages): "), topic
            if typ == IMAGE[0]:
                assert "observation.images.head" in features and "camera " in said[topic]
            else:
                key = "tf" if topic == "/tf" else topic.strip("/").replace("/", ".")
                assert any(n.startswith(key + ".") for n in natives), topic
    # the PR2 odometry's DBL_MAX variances (z, roll, pitch: unobserved on a planar base) are named, not inf natives
    [account] = [f for f in corpus[JOINTS][0]["source_findings"] if "bag_topics: " in f]
    [odom] = [p for p in account.split(" | ") if "/base_odometry/odom (" in p]
    assert (
        "no float32 number in any message, left out" in odom
        and "'pose.covariance[14]': '1.7976931348623157e+308'" in odom
    )


def test_each_video_frame_is_the_image_the_bag_holds_at_that_instant(corpus) -> None:
    """The frame shown at k/10 s is the last image exposed at or before it, on the Images' header stamps (the clock
    the lineage records for the topic). What the writer encodes is that image, exactly (the canonical episode's frame
    indices). The video shows it: the images are of one still scene, told apart by their sensor noise (mean absolute
    difference 4.2 to 6.5 of 255 between any two), and the last video frame of each image's run is nearest to it of
    all 19 (3.5 to 3.7 away). The first frame of a run is not checked: the encoder carries the frame before it over
    (3.74 from the image before, 3.87 from its own, at k = 21)."""
    lineage, table, _, dataset, msgs = corpus[CAMERA]
    _, _, read = msgs["/wide_stereo/left/image_raw"]
    stamps = np.array([stamp(m) for _, m in read])
    start_ns = min(stamp(m) if stamp(m) else t for _, _, r in msgs.values() for t, m in r[:1])  # /view_target: 0
    assert lineage["span_s"][0] == pytest.approx((stamps[0] - start_ns) / 1e9, abs=1e-6)  # from the first image
    assert len(table) == int((stamps[-1] - stamps[0]) / 1e8 + 1e-6) + 1 == 93  # to the last
    want = np.searchsorted(stamps, stamps[0] + np.arange(len(table)) * 10**8 + 1000, side="right") - 1
    adapter = get_adapter("rosbag", REAL_SOURCES["pr2_camera"][1])
    [ref] = adapter.discover(realdata(CAMERA).parent)
    [ep] = prepare(adapter.read(ref), CanonicalizeSpec(max_gap_s=0.6)).episodes
    np.testing.assert_array_equal(ep.cameras["head"].indices, want)
    video = next(dataset.glob("videos/chunk-000/observation.images.head/episode_000000.mp4"))
    with av.open(str(video)) as f:
        frames = [fr.to_ndarray(format="rgb24").astype(np.float32) for fr in f.decode(video=0)]
    assert len(frames) == len(table)
    images = [decode(m, IMAGE[0]).astype(np.float32) for _, m in read]
    for k in np.flatnonzero(np.diff(want, append=-1)):  # each run's last frame
        errors = [np.abs(frames[k] - img).mean() for img in images]
        assert np.argmin(errors) == want[k], (k, want[k], np.round(errors, 2))


def test_each_image_carries_a_stamp_of_its_camera_info_and_was_received_after_it(corpus) -> None:
    lineage, _, _, _, msgs = corpus[CAMERA]
    images = [(t, stamp(m)) for t, m in msgs["/wide_stereo/left/image_raw"][2]]
    info = {stamp(m) for _, m in msgs["/wide_stereo/left/camera_info"][2]}
    assert all(s in info for _, s in images)  # the driver stamps a frame and its calibration alike
    assert all(0 < t - s < 0.2e9 for t, s in images)  # exposed, then received (56 ms median)
    [account] = [f for f in lineage["source_findings"] if "bag_topics: " in f]
    role = "camera wide_stereo_left_image_raw (head)"
    assert f"/wide_stereo/left/image_raw (sensor_msgs/msg/Image, 19 of 19 messages): {role}" in account
    assert "; header stamps (received " in account.split("/wide_stereo/left/image_raw")[1].split(" | ")[0]


def test_the_joints_are_the_messages_at_k_tenths_and_inside_the_robot_s_urdf_limits(corpus) -> None:
    lineage, table, features, _, msgs = corpus[JOINTS]
    read = [m for _, m in msgs["/joint_states"][2]]
    stamps = np.array([stamp(m) for m in read])
    start_ns = min(stamp(m) if hasattr(m, "header") and stamp(m) else t for _, _, r in msgs.values() for t, m in r[:1])
    grid = lineage["span_s"][0] + np.arange(len(table)) / 10
    assert (stamps[0] - start_ns) / 1e9 == pytest.approx(lineage["span_s"][0], abs=1e-6)  # the states set the span
    names, written = features["observation.state.native"]["names"], _col(table, "observation.state.native")
    joints, limits = list(read[0].name), urdf_joints()
    positions = np.stack([m.position for m in read])
    for j, joint in enumerate(joints):
        got = written[:, names.index(f"joint_states.position.{joint}")]
        want = np.interp(grid, (stamps - start_ns) / 1e9, positions[:, j])
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-5, err_msg=joint)  # float32 of a wheel's 838 rad
        if (lim := limits[joint]["limits"]) is not None:
            assert lim[0] - 1e-3 <= got.min() and got.max() <= lim[1] + 1e-3, (joint, lim, got.min(), got.max())
    tilt = written[:, names.index("joint_states.position.laser_tilt_mount_joint")]
    assert np.ptp(tilt) > 1.5  # the tilting laser sweeps: not a still robot alone


def test_every_tf_edge_of_a_one_axis_joint_is_its_state_through_the_urdf() -> None:
    """The PR2's state publisher sends, with each JointState's stamp, the pose of every link in its parent: the
    URDF's fixed origin, then the joint's motion about (revolute, continuous) or along (prismatic) its axis. The TF
    natives the adapter keeps are the messages, and each equals the joint natives' position at that stamp put through
    the robot's own URDF: TF and joints read as the robot published them, in one another's frames and units."""
    adapter = get_adapter("rosbag")
    [ref] = adapter.discover(realdata(JOINTS).parent)
    ep = adapter.read(ref)
    msgs = read_topics(realdata(JOINTS))
    pos = ep.states["joint_states.position"]
    at_stamp = {
        round(t * 1e9) + ep.metadata["start_ns"]: row for t, row in zip(pos.timestamps, pos.values, strict=True)
    }
    sent: dict[tuple[str, str], list] = {}
    for _, m in msgs["/tf"][2]:
        for tr in m.transforms:
            sent.setdefault((tr.header.frame_id.lstrip("/"), tr.child_frame_id.lstrip("/")), []).append(tr)
    checked = moving = 0
    for joint, u in urdf_joints().items():
        if u["type"] not in ("revolute", "continuous", "prismatic") or u["edge"] not in sent:
            continue
        native = ep.signals["tf." + ".".join(u["edge"])]
        trs = sent[u["edge"]]
        xyzq = [
            [*(getattr(t.transform.translation, a) for a in "xyz"), *(getattr(t.transform.rotation, a) for a in "xyzw")]
            for t in trs
        ]
        np.testing.assert_array_equal(native.values, np.array(xyzq))  # the natives are the messages
        j = pos.names.index(joint)
        found = [i for i, tr in enumerate(trs) if stamp(tr) in at_stamp]  # 2 of 348 carry a stamp no JointState has
        q = np.array([at_stamp[stamp(trs[i])][j] for i in found], np.float64)[:, None]
        rows = native.values[found]
        fixed = Rotation.from_euler("xyz", u["rpy"])  # URDF rpy: about the fixed x, y, z axes in turn
        if u["type"] == "prismatic":
            want_t, want_r = u["xyz"] + fixed.apply(u["axis"] * q), fixed
        else:
            want_t, want_r = np.broadcast_to(u["xyz"], (len(q), 3)), fixed * Rotation.from_rotvec(u["axis"] * q)
        np.testing.assert_allclose(rows[:, :3], want_t, atol=1e-4, err_msg=joint)
        assert ((Rotation.from_quat(rows[:, 3:]) * want_r.inv()).magnitude() < 1e-4).all(), joint
        checked += len(found)
        moving += np.ptp(pos.values[:, j]) > 1.0
    assert checked > 10_000 and moving >= 1  # 36 joints' edges; the laser tilt sweeps 1.7 rad
