"""The table-log adapter on tables this test writes from FK of known joints (issue 86, item 5): a UR RTDE log in its
recorder's own layout (space-delimited, `actual_q_<i>`, `actual_TCP_pose_<i>` in the controller's Base frame) ingests
with canonical actions and an FK check that agrees; the same log with its pose bent away from the joints gets the
tier reason that says they disagree; an xArm SDK log in millimetres and degrees agrees as well, and an xArm 6 log whose
poses come from UFACTORY's DH table agrees with the xarm6 description."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from adapters.base import AdapterError
from adapters.registry import get_adapter
from ingest.canonical.canonicalize import canonicalize_spans
from ingest.kinematics import load_model
from schemas.canonicalize import CanonicalizeSpec
from tests.ingest.kinematics.dh import xarm6_frames

N, HZ = 250, 125.0  # 2 s at RTDE's default rate


def _joints(lower: np.ndarray, upper: np.ndarray, seed: int = 0) -> np.ndarray:
    """A smooth sweep of every joint inside the middle of its range."""
    lo, hi = np.clip(lower, -2.5, None), np.clip(upper, None, 2.5)
    s = np.linspace(0, 1, N)[:, None]
    phase = np.random.default_rng(seed).uniform(0, np.pi, len(lo))[None, :]
    return lo + (hi - lo) * (0.5 + 0.2 * np.sin(2 * np.pi * s + phase))


def _fk(robot: str, link: str, base: str | None) -> tuple[np.ndarray, np.ndarray]:
    m = load_model(robot)
    q = _joints(np.asarray(m.lower), np.asarray(m.upper))
    return q, m.forward(q, [link], base=base)[:, 0]


def _write(path: Path, header: list[str], rows: np.ndarray, delimiter: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [delimiter.join(header)] + [delimiter.join(f"{v:.17g}" for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_rtde_log(path: Path, bend_m: float = 0.0) -> Path:
    """A UR3e log as UR's RTDE recorder writes it: FK of the joints to tool0 in the controller's Base frame (the
    description's `base` link), rotation vectors; `bend_m` moves the recorded position away from FK over time."""
    q, pose = _fk("ur3e", "tool0", "base")
    pos = pose[:, :3, 3] + bend_m * np.sin(np.linspace(0, 3 * np.pi, N))[:, None] * np.array([1.0, 0.5, 0.0])
    rotvec = Rotation.from_matrix(pose[:, :3, :3]).as_rotvec()
    t = 4156.212 + np.arange(N) / HZ  # the controller's clock, seconds
    header = ["timestamp", *(f"actual_q_{i}" for i in range(6)), *(f"actual_TCP_pose_{i}" for i in range(6))]
    return _write(path, header, np.column_stack([t, q, pos, rotvec]), " ")


def write_xarm_log(path: Path, q: np.ndarray, flange: np.ndarray) -> Path:
    """A six-joint UFACTORY arm's log as the xArm SDK's `get_position` / `get_servo_angle` give it: mm, degrees,
    roll-pitch-yaw about the fixed axes, at 10 Hz."""
    rpy = Rotation.from_matrix(flange[:, :3, :3]).as_euler("xyz", degrees=True)
    t = 1721968624.6143525 + np.arange(N) / 10.0
    header = ["timestamp", "x", "y", "z", "roll", "pitch", "yaw", *(f"joint{i}" for i in range(1, 7)), "gripper"]
    rows = np.column_stack([t, flange[:, :3, 3] * 1000, rpy, np.degrees(q), np.ones(N)])
    return _write(path, header, rows, ",")


def _checked(root: Path, options: dict) -> list[tuple[str, str, str]]:
    adapter = get_adapter("table_log", options)
    (ref,) = adapter.discover(root)
    result = canonicalize_spans(adapter.read(ref), CanonicalizeSpec())
    (ep,) = result.episodes
    assert ep.has_action
    return [(v.tier.value, v.code, v.reason) for v in ep.verdicts if v.code == "canonical_fk_agreement"]


def test_an_rtde_log_from_fk_agrees_with_fk(tmp_path: Path) -> None:
    write_rtde_log(tmp_path / "logs" / "run_0.csv")
    [(tier, _, reason)] = _checked(tmp_path / "logs", {"preset": "ur_rtde", "robot": "ur3e"})
    assert tier == "high" and "recorded EEF vs FK (ur3e: ur3e), right: agree" in reason
    assert "position residual median 0.0 mm" in reason


def test_a_pose_that_leaves_the_joints_gets_the_disagreeing_reason(tmp_path: Path) -> None:
    write_rtde_log(tmp_path / "logs" / "run_0.csv", bend_m=0.05)
    [(_, _, reason)] = _checked(tmp_path / "logs", {"preset": "ur_rtde", "robot": "ur3e"})
    assert "right: disagree" in reason and "check the joint mapping and units, the description" in reason


def test_the_wrong_robot_disagrees(tmp_path: Path) -> None:
    write_rtde_log(tmp_path / "logs" / "run_0.csv")
    [(_, _, reason)] = _checked(tmp_path / "logs", {"preset": "ur_rtde", "robot": "ur5e"})
    assert "(ur5e: ur5e), right: disagree" in reason


def test_an_xarm_sdk_log_in_mm_and_degrees_agrees(tmp_path: Path) -> None:
    write_xarm_log(tmp_path / "logs" / "robot_data_0.csv", *_fk("lite6", "link6", None))
    [(tier, _, reason)] = _checked(tmp_path / "logs", {"preset": "xarm_sdk", "robot": "lite6"})
    assert tier == "high" and "(lite6: lite6), right: agree" in reason


def test_an_xarm6_sdk_log_from_the_makers_dh_table_agrees_with_the_xarm6_description(tmp_path: Path) -> None:
    """The recorded TCP here is not our FK: it is UFACTORY's xArm 6 DH table (`tests/ingest/kinematics/dh.py`) at the
    logged joints, the flange (the SDK's TCP without a tool offset), in mm and degrees as `get_position` gives it."""
    # the xArm 6's joint ranges, xArm-Python-SDK@d911319 xarm/core/config/x_config.py:69-76 (XARM6_X4)
    q = _joints(
        np.array([-6.28, -2.0594, -3.927, -6.28, -1.693, -6.28]), np.array([6.28, 2.0943, 0.192, 6.28, 3.14, 6.28])
    )
    write_xarm_log(tmp_path / "logs" / "robot_data_0.csv", q, xarm6_frames(q)[:, 5])
    [(tier, _, reason)] = _checked(tmp_path / "logs", {"preset": "xarm_sdk", "robot": "xarm6"})
    assert tier == "high" and "(xarm6: xarm6), right: agree" in reason
    assert "position residual median 0.0 mm" in reason
    [(_, _, reason)] = _checked(tmp_path / "logs", {"preset": "xarm_sdk", "robot": "lite6"})
    assert "(lite6: lite6), right: disagree" in reason  # another UFACTORY arm's description does not fit


def test_without_a_robot_the_natives_are_kept_and_said(tmp_path: Path) -> None:
    write_rtde_log(tmp_path / "logs" / "run_0.csv")
    adapter = get_adapter("table_log", {"preset": "ur_rtde"})
    raw = adapter.read(next(adapter.discover(tmp_path / "logs")))
    assert raw.embodiment == "unknown" and raw.hands.empty
    assert raw.states["observation.state"].values.shape == (N, 6) and raw.states["tcp.position"].unit == "m"
    assert [v.code for v in raw.verdicts] == ["source_no_description"]
    assert "option robot names one" in raw.verdicts[0].reason


def test_a_clock_of_whole_seconds_is_the_episodes_error_naming_the_way_out(tmp_path: Path) -> None:
    path = write_rtde_log(tmp_path / "logs" / "run_0.csv")
    lines = path.read_text().splitlines()
    path.write_text(
        "\n".join([lines[0]] + [f"{4156 + i // 125} " + ln.split(" ", 1)[1] for i, ln in enumerate(lines[1:])])
    )
    adapter = get_adapter("table_log", {"preset": "ur_rtde", "robot": "ur3e"})
    with pytest.raises(AdapterError, match=r"timestamps do not increase: 248 of 249 steps") as err:
        adapter.read(next(adapter.discover(tmp_path / "logs")))
    assert err.value.field == "timestamp" and "set the column map's timestamp to null and the option fps" in str(
        err.value
    )


def test_a_log_of_another_recorder_names_its_columns(tmp_path: Path) -> None:
    _write(tmp_path / "logs" / "a.csv", ["pc_ts", "q_0", "actual_q_1"], np.zeros((3, 3)), ",")
    adapter = get_adapter("table_log", {"preset": "ur_rtde", "robot": "ur3e"})
    with pytest.raises(AdapterError, match=r"12 of the column map's 13 columns are not in the table") as err:
        adapter.read(next(adapter.discover(tmp_path / "logs")))
    assert "'actual_q_0' (did you mean 'actual_q_1'?)" in str(err.value) and "declare its `columns`" in str(err.value)


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="give preset or columns"):
        get_adapter("table_log", {})
    with pytest.raises(ValueError, match="unknown robot 'ur3'; did you mean 'ur3e'"):
        get_adapter("table_log", {"preset": "ur_rtde", "robot": "ur3"})
    cols = {"timestamp": None, "joints": ["q"], "joint_unit": "rad"}
    with pytest.raises(ValueError, match="needs fps"):
        get_adapter("table_log", {"columns": cols})
