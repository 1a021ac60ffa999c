"""`eidata ingest` of ROS bags, end to end through the Ray ingest job: the real Interbotix recordings
(`rosbag_interbotix`: a WidowX 200 as ROS 1, ROS 2 MCAP and sqlite3, a WidowX 250's puppet commands)
and the synthetic camera bag of conftest.py, one folder per robot as a team keeps them. What is written is checked
against the bags as rosbags reads them: every topic accounted for, natives equal to the messages at k/10 s on one
clock, the WidowX 200's wrist where Interbotix's own kinematics put it, and each camera frame the one the bag holds
at that instant."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from rosbags.highlevel import AnyReader

from adapters.lerobot_format.files import read_jsonl
from ingest.lerobot.video_read import decode_frames
from jobs.ingest.job import run_ingest
from jobs.spec import load_spec
from schemas.canonical import GRIPPER, WRIST_POS, hand_dims
from schemas.lerobot import EPISODES_PATH
from tests.adapters.rosbag.conftest import T0, Written, write_bag
from tests.adapters.rosbag.test_real import INTERBOTIX, WX200
from tests.ingest.kinematics.test_poe import POE, poe
from tests.realdata import realdata

pytestmark = pytest.mark.shared_ray

TCP_TO_WRIST = 0.043 + 0.023 + 0.027575  # wx200.urdf.xacro: gripper_link -> ee_arm -> ee_bar -> ee_gripper, along x
POE_JOINTS = ("waist", "shoulder", "elbow", "wrist_angle", "wrist_rotate")  # mr_descriptions.py's screw order


def _written(dataset: Path) -> dict[str, tuple[dict, pq.Table]]:
    """raw id -> (lineage, data table) of every episode of a written dataset."""
    out = {}
    for _, line in read_jsonl(dataset / EPISODES_PATH):
        table = pq.read_table(dataset / f"data/chunk-000/episode_{line['episode_index']:06d}.parquet")
        out[line["eidata"]["raw_id"]] = (line["eidata"], table)
    return out


def _col(table: pq.Table, key: str) -> np.ndarray:
    values = np.stack(table.column(key).to_numpy(zero_copy_only=False)).astype(np.float64)
    return values.reshape(len(values), -1)  # a one-wide feature is stored as a scalar column


def _grid(lineage: dict, table: pq.Table) -> np.ndarray:
    """Each frame's time on the episode's clock (seconds from its first message): k/10 s after the span's start,
    computed here in float64 (the stored `timestamp` is float32, 50 ns off at 1.3 s)."""
    return lineage["span_s"][0] + table.column("frame_index").to_numpy() / 10


def _names(dataset: Path, key: str) -> list[str]:
    return json.loads((dataset / "meta/info.json").read_text())["features"][key]["names"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Written, object]:
    tmp = tmp_path_factory.mktemp("rosbag_ingest")
    real = tmp / "robots"
    for name in WX200:
        copy = shutil.copytree if (realdata(INTERBOTIX) / name).is_dir() else shutil.copy
        (real / "wx200").mkdir(parents=True, exist_ok=True)
        copy(realdata(INTERBOTIX) / name, real / "wx200" / name)
    (real / "wx250").mkdir()
    shutil.copy(realdata(INTERBOTIX) / "wx250_duck_dunk.bag", real / "wx250")
    lab = write_bag(tmp / "lab" / "table" / "episode_0")
    spec = {
        "output": str(tmp / "corpus"),
        "sources": [
            {"name": "interbotix", "adapter": "rosbag", "root": str(real)},
            {
                "name": "lab",
                "adapter": "rosbag",
                "root": str(tmp / "lab"),
                "options": {
                    "embodiment": "franka",
                    "task_topic": "/task",
                    "eef": {"frame": "ee_link", "base": "base_link"},
                    "gripper": {
                        "topic": "/robot/joint_states",
                        "component": "panda_finger_joint1",
                        "closed": 0.0,
                        "open": 0.04,
                    },
                },
            },
        ],
        "parallelism": {"num_cpus": 2},
    }
    (tmp / "job.yaml").write_text(yaml.safe_dump(spec))
    report = run_ingest(load_spec(tmp / "job.yaml"), progress=False)
    return tmp / "corpus", real, lab, report


def test_every_bag_is_written_and_every_topic_accounted_for(corpus) -> None:
    out, real, _, report = corpus
    assert report.tallies["interbotix"].written == 4 and report.tallies["lab"].written == 1 and report.quarantined == 0
    for dataset, bags in (("wx200", WX200), ("wx250", ("wx250_duck_dunk.bag",))):
        written = _written(out / "datasets/interbotix" / dataset)
        assert sorted(written) == sorted(f"{dataset}/{b}" for b in bags)
        natives = (
            _names(out / "datasets/interbotix" / dataset, "observation.state.native") if dataset == "wx200" else []
        )
        natives += _names(out / "datasets/interbotix" / dataset, "action.native")
        for raw_id, (lineage, _) in written.items():
            with AnyReader([real / raw_id]) as r:
                topics = {c.topic: c.msgcount for c in r.connections}
            [account] = [f for f in lineage["source_findings"] if f.startswith("INFO bag_topics: ")]
            for topic, n in topics.items():
                assert f"{topic} (" in account and f"{n} of {n} messages" in account, (raw_id, topic)
                key = topic.strip("/").replace("/", ".")  # each topic's fields are natives (none is left unused)
                assert any(name.startswith(key + ".") for name in natives), (raw_id, topic)
            assert lineage["embodiment"] == dataset
    # the WidowX 200's joint states are on their header stamps (the arm's read time), the others on receipt
    lineage, _ = _written(out / "datasets/interbotix/wx200")[f"wx200/{WX200[0]}"]
    [account] = [f.removeprefix("INFO bag_topics: ") for f in lineage["source_findings"] if "bag_topics" in f]
    said = {part.split(" (", 1)[0]: part for part in account.split(" | ")}
    assert "joint states (state: position, velocity, effort); header stamps (received" in said["/wx200/joint_states"]
    assert said["/wx200/commands/joint_single"].endswith("receive times (no header)")
    assert lineage["tier"] == "high" and lineage["mask"][25:35] == [1] * 10  # the right wrist and gripper


def test_natives_are_the_messages_at_k_tenths_on_one_clock(corpus) -> None:
    out, real, _, _ = corpus
    dataset = out / "datasets/interbotix/wx200"
    state_names, action_names = _names(dataset, "observation.state.native"), _names(dataset, "action.native")
    tables = {}
    for raw_id, (lineage, table) in _written(dataset).items():
        ts = table.column("timestamp").to_numpy()
        np.testing.assert_allclose(ts, np.arange(len(ts)) / 10, atol=1e-6)  # 10 Hz
        with AnyReader([real / raw_id]) as r:
            msgs = {
                c.topic: [(t, r.deserialize(raw, c.msgtype)) for _, t, raw in r.messages([c])] for c in r.connections
            }
        joints = msgs["/wx200/joint_states"]
        stamps = np.array([m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for _, m in joints])
        t0 = min(stamps[0], *(m[0][0] for t, m in msgs.items() if t != "/wx200/joint_states"))  # the first instant
        grid = _grid(lineage, table)
        state = _col(table, "observation.state.native")
        for part in ("position", "velocity", "effort"):
            values = np.stack([getattr(m, part) for _, m in joints])
            for j, name in enumerate(joints[0][1].name):
                got = state[:, state_names.index(f"wx200.joint_states.{part}.{name}")]
                np.testing.assert_allclose(got, np.interp(grid, (stamps - t0) / 1e9, values[:, j]), atol=2e-6)
        commands = msgs["/wx200/commands/joint_single"]  # no header: on its receive times
        cmd = np.interp(grid, (np.array([t for t, _ in commands]) - t0) / 1e9, [m.cmd for _, m in commands])
        got = _col(table, "action.native")[:, action_names.index("wx200.commands.joint_single.cmd")]
        np.testing.assert_allclose(got, cmd, atol=2e-6)
        tables[raw_id] = table
    # ROS 1, MCAP and sqlite3 copies of one recording: the same episode, to the bit
    first, *others = tables.values()
    for other in others:
        for key in ("observation.state", "action", "observation.state.native", "action.native"):
            np.testing.assert_array_equal(_col(first, key), _col(other, key))
    # the puppet's commands (no states: natives only, said) as the messages at k/10 s
    lineage, table = _written(out / "datasets/interbotix/wx250")["wx250/wx250_duck_dunk.bag"]
    assert "joint space (wx250)" in lineage["tier_reasons"][0]
    # issue 55: no canonical dim, but the commands move: they are its action, so it is not actionless
    assert lineage["action_kind"] == "native" and lineage["tier"] != "actionless"
    with AnyReader([real / "wx250/wx250_duck_dunk.bag"]) as r:
        conn = [c for c in r.connections if c.topic == "/wx250/commands/joint_group"]
        group = [(t, r.deserialize(raw, c.msgtype).cmd) for c, t, raw in r.messages(conn)]
        t0 = r.start_time
    times = (np.array([t for t, _ in group]) - t0) / 1e9
    grid = _grid(lineage, table)
    action = _col(table, "action.native")
    for i in range(5):
        np.testing.assert_allclose(action[:, i], np.interp(grid, times, [c[i] for _, c in group]), atol=2e-6)


def test_the_widowx_wrist_is_where_the_makers_kinematics_put_it(corpus) -> None:
    """The canonical wrist (gripper_link, on wrist_rotate's axis) against Interbotix's own screws and home pose
    (mr_descriptions.py, not our URDF) of the recorded joints; and, as the diagnostic sweeps the waist alone, the wrist
    keeps its height and distance from the waist axis and turns with the waist."""
    out = corpus[0]
    _, table = _written(out / "datasets/interbotix/wx200")[f"wx200/{WX200[0]}"]
    names = _names(out / "datasets/interbotix/wx200", "observation.state.native")
    native = _col(table, "observation.state.native")
    q = native[:, [names.index(f"wx200.joint_states.position.{j}") for j in POE_JOINTS]]
    screws, home_xyz = np.asarray(POE["wx200"][0], float), POE["wx200"][1]
    home = np.eye(4)
    home[:3, 3] = home_xyz
    makers = np.stack([(poe(screws, home, qk) @ [-TCP_TO_WRIST, 0, 0, 1])[:3] for qk in q])
    wrist = _col(table, "observation.state")[:, hand_dims(1, WRIST_POS)]
    np.testing.assert_allclose(wrist, makers, atol=1e-5)  # float32 storage
    assert np.ptp(q[:, 0]) > 6.0 and np.ptp(q[:, 1:4], axis=0).max() < 0.02  # the waist sweeps, the rest holds
    radius = np.hypot(wrist[:, 0], wrist[:, 1])
    assert np.ptp(radius) < 1e-3 and np.ptp(wrist[:, 2]) < 5e-3
    turn = np.angle(np.exp(1j * (np.arctan2(wrist[:, 1], wrist[:, 0]) - q[:, 0])))
    assert np.abs(turn).max() < 1e-3  # x points where the arm reaches at zero: the wrist's azimuth is the waist's
    shoulder = np.array([0, 0, 0.11065])  # the shoulder axis's height (wx200.urdf.xacro: 0.072 + 0.03865)
    assert np.linalg.norm(wrist - shoulder, axis=1).max() < np.hypot(0.05, 0.2) + 0.2 + 0.065  # within reach
    finger = native[:, names.index("wx200.joint_states.position.left_finger")]
    np.testing.assert_allclose(
        _col(table, "observation.state")[:, hand_dims(1, GRIPPER)].ravel(),
        (finger - 0.015) / (0.037 - 0.015),
        atol=1e-6,
    )


def test_each_camera_frame_is_the_one_the_bag_holds_at_that_instant(corpus) -> None:
    """The synthetic bag's frames differ by colour (red 17 i mod 256, blue 200 - i): each written frame is identified
    among the bag's, and it is the last one exposed at or before k/10 s (header stamps, 30 ms before receipt)."""
    out, _, lab, _ = corpus
    dataset = out / "datasets/lab/table"
    (lineage, table) = _written(dataset)["table/episode_0"]
    assert lineage["tier"] == "high" and lineage["embodiment"] == "franka"
    grid = _grid(lineage, table)
    t0 = T0 - 2_000_000  # the first joint state's stamp: the episode's first instant
    for topic, key in (
        ("/camera/color/image_raw", "camera_color_image_raw"),
        ("/wrist_camera/image_raw/compressed", "wrist_right"),
    ):
        stamps = (np.array([s for _, s, _ in lab.frames[topic]]) - t0) / 1e9
        colours = np.stack([rgb.reshape(-1, 3).mean(0) for _, _, rgb in lab.frames[topic]])
        video = dataset / f"videos/chunk-000/observation.images.{key}/episode_000000.mp4"
        shown = [int(np.argmin(np.abs(colours - f.reshape(-1, 3).mean(0)).sum(1))) for _, f in decode_frames(video)]
        expected = np.searchsorted(stamps, grid + 1e-6, side="right") - 1  # ties (a frame exposed at k/10) included
        assert len(shown) == len(grid) and shown == expected.tolist(), key
