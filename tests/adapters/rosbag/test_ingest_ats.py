"""`eidata ingest` of real ROS 2 bags of a robot with no kinematic description (`rosbag_ats`: a PX4
multirotor with a 3-joint servo arm, a Jazzy MCAP and a sqlite3 bag without definitions), end to end through the Ray
ingest job: both written natives only with the reason first, every topic of each bag a native or a named finding, 10 Hz
on one clock inside the bag's time span, the clock each topic is on recorded, and every native column of the arm's
and the vehicle's topics equal to the messages at k/10 s (held where the lineage says the column is discrete)."""

from __future__ import annotations

import json
import re

import numpy as np
import pyarrow.parquet as pq
import pytest

from adapters.lerobot_format.files import read_jsonl
from adapters.rosbag.fields import flatten
from schemas.lerobot import EPISODES_PATH
from tests.adapters.rosbag.test_real_ats import ATS, DB3, DXL_MAX, DXL_MIN, MCAP, read_bag, stamp
from tests.realdata import realdata

pytestmark = pytest.mark.shared_ray

# the maker's code says which JointStates are commands (README.md: the servo driver takes /servo/in/state as its goal
# positions, the controller's /controller/out/* are forwarded to it): the MCAP's action_topics in conftest.REAL_SOURCES;
# the db3 is ingested with the defaults
DATASETS = {MCAP: "ats/mcap", DB3: "ats_db3/db3"}
JOINT_STATE = "sensor_msgs/msg/JointState"
# the topics whose every native column is compared with the messages: the arm's states and commands, the vehicle's
# odometry and battery (PX4's own types), the controller's error (geometry_msgs/TwistStamped, the db3)
CHECKED = (
    "/servo/out/state",
    "/servo/in/state",
    "/controller/out/servo_positions",
    "/fmu/out/vehicle_odometry",
    "/fmu/out/battery_status",
    "/controller/out/error",
)


@pytest.fixture(scope="module")
def corpus(real_corpus) -> dict[str, tuple[dict, pq.Table, dict, dict]]:
    """raw id -> (lineage, data table, info.json features, the bag as rosbags reads it)."""
    out = {}
    for raw_id, where in DATASETS.items():
        dataset = real_corpus / "datasets" / where
        [(_, line)] = list(read_jsonl(dataset / EPISODES_PATH))
        table = pq.read_table(dataset / "data/chunk-000/episode_000000.parquet")
        features = json.loads((dataset / "meta/info.json").read_text())["features"]
        out[raw_id] = (line["eidata"], table, features, read_bag(realdata(ATS) / raw_id))
    return out


def _col(table: pq.Table, key: str) -> np.ndarray:
    values = np.stack(table.column(key).to_numpy(zero_copy_only=False)).astype(np.float64)
    return values.reshape(len(values), -1)


def _times(msgs: list[tuple[int, object]]) -> np.ndarray:
    """A topic's times as the episode has them: header stamps where the message has a header, else receive times."""
    return np.array([stamp(m) if hasattr(m, "header") else t for t, m in msgs], np.int64)


def _clock(raw_id: str, msgs: dict) -> tuple[int, float]:
    """(the episode's first instant, ns; its span's start, seconds after it): the states' first message (the span
    any of them covers, issue 47), the MCAP's measured joint states (its commands are actions), the db3's three
    JointStates (all states by default). Worked out from the messages: the lineage's span_s is rounded to the
    microsecond."""
    t0 = min(int(_times(read)[0]) for _, _, read in msgs.values() if read)
    states = ["/servo/out/state"] if raw_id == MCAP else [t for t in msgs if msgs[t][0] == JOINT_STATE]
    return t0, min((_times(msgs[t][2])[0] - t0) / 1e9 for t in states)


def test_both_are_written_natives_only_and_every_topic_is_a_native_or_named(corpus) -> None:
    for raw_id, (lineage, _, features, msgs) in corpus.items():
        assert lineage["embodiment"] == "unknown" and lineage["raw_id"] == raw_id.split("/")[1]
        assert "no canonical dims (" in lineage["tier_reasons"][0]  # natives only, said first (in its tier's reason)
        natives = [
            n for side in ("observation.state.native", "action.native") for n in features.get(side, {}).get("names", [])
        ]
        [account] = [f.removeprefix("INFO bag_topics: ") for f in lineage["source_findings"] if "bag_topics: " in f]
        said = {part.split(" (", 1)[0]: part for part in account.split(" | ")}
        unused = {f.split()[3] for f in lineage["source_findings"] if f.startswith("INFO topic_not_used: ")}
        assert set(said) == set(msgs), raw_id
        for topic, (typ, count, read) in msgs.items():
            assert said[topic].startswith(f"{topic} ({typ}, {len(read)} of {count} messages): "), (raw_id, topic)
            key = "tf" if topic == "/tf" else topic.strip("/").replace("/", ".")
            kept = any(n.startswith(key + ".") for n in natives)
            assert kept != (topic in unused), (raw_id, topic)  # a native, or named with its reason
            assert kept == bool(read), (raw_id, topic)  # every topic that has a decodable message is kept
            if read and hasattr(read[0][1], "header"):  # the clock chosen, recorded: stamped on the recorder's clock
                assert "; header stamps (received " in said[topic], (raw_id, topic)
            elif read:
                assert "; receive times (no header)" in said[topic], (raw_id, topic)
    # the MCAP's commands are actions (option), the db3's JointStates all states (defaults)
    assert "servo.in.state.position.q1" in corpus[MCAP][2]["action.native"]["names"]
    assert "action.native" not in corpus[DB3][2] or not corpus[DB3][2]["action.native"]["names"]


def test_natives_are_the_messages_at_k_tenths_on_one_clock(corpus) -> None:
    checked = 0
    for raw_id, (lineage, table, features, msgs) in corpus.items():
        ts = table.column("timestamp").to_numpy()
        np.testing.assert_allclose(ts, np.arange(len(ts)) / 10, atol=1e-6)  # 10 Hz
        t0, start_s = _clock(raw_id, msgs)
        assert lineage["span_s"][0] == pytest.approx(start_s, abs=1e-6)  # the states set the span
        assert lineage["clock"]["start_ns"] == t0 and lineage["clock"]["name"] in ("header", "receive", "mixed")
        clock = lineage["clock"]  # one clock per recording, named, with the latency its header stamps remove
        assert clock["name"] == "header" and 0 <= clock["offset_s"] < 0.05, clock
        grid = start_s + table.column("frame_index").to_numpy() / 10
        with_stamp = [(_times(read), [m for _, m in read]) for _, _, read in msgs.values() if read]
        start, end = min(t[0] for t, _ in with_stamp), max(t[-1] for t, _ in with_stamp)
        assert start <= t0 + grid[0] * 1e9 and t0 + grid[-1] * 1e9 <= end  # inside the bag's time span
        discrete = lineage["native_discrete"]
        for side in ("observation.state.native", "action.native"):
            if side not in features:
                continue
            names, written = features[side]["names"], _col(table, side)
            for topic in CHECKED:
                if topic not in msgs or not msgs[topic][2]:
                    continue
                key, read = topic.strip("/").replace("/", "."), msgs[topic][2]
                t = (_times(read) - t0) / 1e9
                cols = _columns(key, [m for _, m in read])
                for name, values in cols.items():
                    if name not in names:
                        continue
                    if name in discrete:  # held: the last message at or before k/10 s
                        want = values[np.clip(np.searchsorted(t, grid + 1e-6, side="right") - 1, 0, None)]
                    else:
                        want = np.interp(grid, t, values)
                    got = written[:, names.index(name)]
                    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6, err_msg=f"{raw_id} {name}")
                    checked += 1
    assert checked > 100


def _columns(key: str, msgs: list[object]) -> dict[str, np.ndarray]:
    """Native column name -> its values over the messages, as the lineage names them (JointState: by joint name, or
    by index where the message names none; any other type: by field path, arrays by index)."""
    if hasattr(msgs[0], "position") and hasattr(msgs[0], "effort"):  # sensor_msgs/JointState
        names = list(msgs[0].name) or [str(i) for i in range(len(msgs[0].position))]
        return {
            f"{key}.{part}.{n}": np.array([getattr(m, part)[j] for m in msgs], np.float64)
            for part in ("position", "velocity", "effort")
            if len(getattr(msgs[0], part))
            for j, n in enumerate(names)
        }
    rows = [flatten(m)[0] for m in msgs]
    out = {}
    for field in rows[0]:
        v = np.stack([r[field] for r in rows]).astype(np.float64)
        for i in range(v.shape[1]):
            out[f"{key}.{field}" if v.shape[1] == 1 else f"{key}.{field}[{i}]"] = v[:, i]
    return out


def test_the_span_is_the_states_and_the_arm_stays_in_its_limits(corpus) -> None:
    """The states set a natives-only episode's span: the MCAP's measured joint states from their first to their last
    message (its commands are actions), the time any of the db3's three JointStates covers (commands are states there
    by default; they start 1.8 and 3.3 s after the controller's, issue 47: the span they all covered kept 9.6 of its
    12.4 s), less only the idle end the behaviour QA cuts, said; each state written over its own window, which the
    lineage names; and the arm's written positions within the driver's angle limits."""
    for raw_id, (lineage, table, _, msgs) in corpus.items():
        t0, _ = _clock(raw_id, msgs)
        states = ["/servo/out/state"] if raw_id == MCAP else [t for t in msgs if msgs[t][0] == JOINT_STATE]
        spans = [(_times(msgs[t][2])[[0, -1]] - t0) / 1e9 for t in states]
        first, last = min(a for a, _ in spans), max(b for _, b in spans)
        idle = [re.search(r"frames (\d+)\.\.(\d+) cut", r) for r in lineage["tier_reasons"] if "idle end" in r]
        cut = sum(int(m[2]) - int(m[1]) + 1 for m in idle if m)
        assert len(table) + cut == int((last - first) * 10 + 1e-9) + 1, raw_id
        assert len(table) + cut >= 0.95 * (last - first) * 10, raw_id  # the core's whole span
        windows = lineage.get("native_windows", {})
        for t, (a, _) in zip(states, spans, strict=True):
            key = t.strip("/").replace("/", ".") + ".position"
            if a - first > 0.2:  # a state that starts later: its window said, from its first message
                assert windows[key][0] == pytest.approx(a - first, abs=2e-3), (raw_id, key, windows)
    _, table, features, _ = corpus[MCAP]
    assert len(table) == 79  # 7.9 s of the bag's 8.0
    names = features["observation.state.native"]["names"]
    q = _col(table, "observation.state.native")[:, [names.index(f"servo.out.state.position.q{j}") for j in range(3)]]
    assert (q >= DXL_MIN - 0.02).all() and (q <= DXL_MAX + 0.02).all() and np.ptp(q[:, 0]) > 1.0  # it moves
