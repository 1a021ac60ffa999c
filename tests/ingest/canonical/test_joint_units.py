"""`ingest.canonical.joint_units`: the unit of joint values settled by the values against the joint limits.

The values are made as the makers' code makes them: lerobot's `MotorsBus._normalize` (src/lerobot/motors/
motors_bus.py @ 049856c7) from integer STS3215 steps and a real calibration file, raw steps as a recorder reading
`Present_Position` stores them, and the real value ranges of a published PiPER dataset (its stats.json, cited in
tests/fixtures/lerobot_layouts/piper_joint_pos_v30/layout.json)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ingest.canonical.joint_units import FIT_MIN, infer_units, to_radians
from ingest.kinematics import load_model
from schemas.robots.joint_space import JointSpaceOptions

SO101_JOINTS = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll")
# tjadams/Learning-DeepLearning Robotics/SO-ARM-101/scripts/calibration/so-101-follower-calibration-backup.json
# @ b6a5df67: a calibration file as lerobot-calibrate saved it for an so101_follower
FOLLOWER = {
    "shoulder_pan": {"id": 1, "drive_mode": 0, "homing_offset": 330, "range_min": 1041, "range_max": 3271},
    "shoulder_lift": {"id": 2, "drive_mode": 0, "homing_offset": 874, "range_min": 773, "range_max": 3101},
    "elbow_flex": {"id": 3, "drive_mode": 0, "homing_offset": -495, "range_min": 923, "range_max": 3128},
    "wrist_flex": {"id": 4, "drive_mode": 0, "homing_offset": -238, "range_min": 970, "range_max": 3262},
    "wrist_roll": {"id": 5, "drive_mode": 0, "homing_offset": -1642, "range_min": 899, "range_max": 3221},
    "gripper": {"id": 6, "drive_mode": 0, "homing_offset": -1382, "range_min": 2047, "range_max": 3052},
}
LAYOUTS = Path(__file__).resolve().parents[2] / "fixtures" / "lerobot_layouts"


def _limits(description: str, joints: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    m = load_model(description)
    idx = [m.joint_names.index(j) for j in joints]
    return m.lower[idx], m.upper[idx]


def _reach(n: int = 200, roll: float = 80.0) -> np.ndarray:
    """A reach-and-place of an SO-101, radians about each joint's mid-range (what the arm really does)."""
    t = np.linspace(0, 1, n)[:, None]
    return np.radians([30.0, -40.0, 50.0, 35.0, roll]) * np.sin(np.pi * t + np.array([0, 0.3, 0.6, 0.9, 1.2]))


def _steps(q: np.ndarray) -> np.ndarray:
    """Radians -> the integer steps the servo reports (DEGREES inverted about each calibrated range's middle)."""
    mids = np.array([(FOLLOWER[j]["range_min"] + FOLLOWER[j]["range_max"]) / 2 for j in SO101_JOINTS])
    return np.round(mids + q * 4095 / (2 * np.pi))


def _m100(steps: np.ndarray) -> np.ndarray:
    """MotorsBus._normalize, RANGE_M100_100 (steps clamped to the calibrated range first)."""
    lo = np.array([FOLLOWER[j]["range_min"] for j in SO101_JOINTS])
    hi = np.array([FOLLOWER[j]["range_max"] for j in SO101_JOINTS])
    return (np.clip(steps, lo, hi) - lo) / (hi - lo) * 200 - 100


NAMES = [f"{j}.pos" for j in SO101_JOINTS]
LOWER, UPPER = _limits("so101", SO101_JOINTS)
CALIBRATED = JointSpaceOptions(calibration=FOLLOWER)


def test_lerobot_range_m100_100_is_read_as_such_and_gives_back_the_angles() -> None:
    q = _reach()
    values = _m100(_steps(q))
    d = infer_units(values, NAMES, LOWER, UPPER, CALIBRATED, "range_m100_100")
    assert d.unit == "range_m100_100" and d.fk, d.summary()
    assert d.readings["rad"].fit < 0.5  # tens read as radians leave the limits
    back = to_radians(values, NAMES, "range_m100_100", CALIBRATED)
    assert np.abs(back - q).max() < 2 * 2 * np.pi / 4095  # one step each way: lerobot's rounding


def test_degrees_beyond_100_rule_out_range_m100_100_whatever_the_recorder_default() -> None:
    """lerobot's DEGREES is not clamped: a wrist roll turned to 150 degrees (within the SO-101's +-160) cannot be a
    -100..100 value, which lerobot clamps."""
    values = np.degrees(_reach(roll=150.0))
    d = infer_units(values, NAMES, LOWER, UPPER, JointSpaceOptions(recorder_units="range_m100_100"), None)
    assert d.unit == "deg" and d.basis == "evidence", d.summary()
    assert d.readings["range_m100_100"].fit < FIT_MIN


def test_radians_under_a_follower_name_are_radians() -> None:
    values = _reach()
    d = infer_units(values, NAMES, LOWER, UPPER, JointSpaceOptions(recorder_units="range_m100_100"), None)
    assert d.unit == "rad" and d.basis == "evidence" and d.fk, d.summary()


def test_raw_ticks_need_the_calibration_and_read_back_the_angles() -> None:
    q = _reach()
    steps = _steps(q)
    d = infer_units(steps, NAMES, LOWER, UPPER, JointSpaceOptions(), "range_m100_100")
    assert d.unit == "ticks" and not d.fk and "calibration" in d.reason(), d.summary()
    d = infer_units(steps, NAMES, LOWER, UPPER, CALIBRATED, "range_m100_100")
    assert d.unit == "ticks" and d.fk and d.readings["ticks"].fit == 1.0
    assert np.abs(to_radians(steps, NAMES, "ticks", CALIBRATED) - q).max() < 2 * np.pi / 4095


def test_the_real_piper_dataset_is_range_m100_100_not_radians() -> None:
    """chenfei-source/ACT-robot-manipulation (robot_type piper, `joint_1.pos`..): its stats' per-joint min/max, walked
    through, read against PiPER's limits. As radians almost nothing fits; as -100..100 everything; lerobot's tie-break
    is not needed, and without a calibration FK does not run."""
    layout = json.loads((LAYOUTS / "piper_joint_pos_v30" / "layout.json").read_text())
    lo, hi = (np.array(layout["value_ranges"]["observation.state"][k][:6]) for k in ("min", "max"))
    t = (0.5 - 0.5 * np.cos(np.linspace(0, 2 * np.pi, 300)))[:, None]
    values = lo + (hi - lo) * t
    lower, upper = _limits("piper", tuple(f"joint{i}" for i in range(1, 7)))
    names = [f"joint_{i}.pos" for i in range(1, 7)]
    d = infer_units(values, names, lower, upper, JointSpaceOptions(), "rad")
    assert d.unit == "range_m100_100" and d.basis == "evidence", d.summary()
    assert d.readings["rad"].fit < 0.5 and d.readings["deg"].fit < FIT_MIN
    rows_in_rad = ((values >= lower) & (values <= upper)).all(axis=1).mean()
    assert rows_in_rad == 0.0  # the figure: 0% of rows fit as radians
    assert not d.fk and "joint_1.pos" in d.reason() and "calibration" in d.reason()
    assert d.record().fit["range_m100_100"] == 1.0 and d.record().unit == "range_m100_100"


def test_values_of_no_known_unit_settle_nothing_and_say_the_fits() -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(0.0, 400.0, size=(200, 5))
    d = infer_units(values, NAMES, LOWER, UPPER, JointSpaceOptions(), "range_m100_100")
    assert d.unit is None and not d.fk
    reason = d.reason()
    assert "not settled" in reason and all(f"{u} " in reason for u in ("rad", "deg", "range_m100_100", "ticks"))


@pytest.mark.parametrize("unit", ["deg", "rad"])
def test_an_explicit_unit_is_taken_and_its_poor_fit_said(unit: str) -> None:
    values = _m100(_steps(_reach()))
    d = infer_units(values, NAMES, LOWER, UPPER, JointSpaceOptions(units=unit), "range_m100_100")
    assert d.unit == unit and d.basis == "option"
    assert (unit == "rad") == bool(d.notes)  # tens as radians fit badly: said; as degrees they fit


ARM_FILES = {  # WangzyNicole/Bimanual-Cloth-Manipulation arm1.json / arm2.json @ 97fde6ec (range_min, range_max)
    "right": dict(zip(SO101_JOINTS, ((737, 3483), (875, 3185), (871, 3145), (876, 3148), (0, 4095)), strict=True)),
    "left": dict(zip(SO101_JOINTS, ((687, 3324), (907, 3220), (912, 3133), (801, 3205), (0, 4095)), strict=True)),
}


INT_STEPS = {"so101_bimanual_chunk_index_v21"}  # layouts whose state columns are integers as recorded


@pytest.mark.parametrize(
    ("layout", "embodiment", "options", "expected"),
    [
        ("piper_joint_pos_v30", "piper", {}, ("range_m100_100", "evidence")),
        ("so100_front_1080p_v30", "so100", {"recorder_units": "range_m100_100"}, ("range_m100_100", "evidence")),
        ("so101_front_top_v30", "so101", {"recorder_units": "range_m100_100"}, ("range_m100_100", "recorder")),
        ("g1_inspire_v21", "unitree_g1_inspire", {}, ("rad", "evidence")),
        (
            "so101_bimanual_chunk_index_v21",
            "so101_bimanual",
            {
                "sides": {"arm1": "right", "arm2": "left"},
                "joint_map": {f"j{i}": j for i, j in enumerate(SO101_JOINTS, start=1)},
                "calibration": {
                    side: {j: {"range_min": a, "range_max": b} for j, (a, b) in arm.items()}
                    for side, arm in ARM_FILES.items()
                },
            },
            ("ticks", "evidence"),
        ),
    ],
)
def test_real_layouts_stats_read_in_their_unit(layout: str, embodiment: str, options: dict, expected: tuple) -> None:
    """Each layout's real stats.json min/max per joint, walked through, read against its robot's limits: the unit
    its recorder writes (lerobot followers RANGE_M100_100, Unitree radians, the hand-made bimanual raw steps)."""
    from ingest.canonical.joint_columns import calibration_name
    from schemas.robots.joint_space import name_key
    from schemas.robots.registry import default_registry

    info = json.loads((LAYOUTS / layout / "info.json").read_text())
    ranges = json.loads((LAYOUTS / layout / "layout.json").read_text())["value_ranges"]["observation.state"]
    names = info["features"]["observation.state"]["names"]
    while isinstance(names, dict) or isinstance(names[0], list):  # {"motors": [...]}, Unitree's [[...]]
        names = next(iter(names.values())) if isinstance(names, dict) else names[0]
    opts = JointSpaceOptions.model_validate(options)
    spec = default_registry().get(embodiment).joint_space
    assert spec is not None
    keys = {name_key(n): i for i, n in enumerate(names)}
    cols, joints, cal = [], [], []
    for arm in spec.arms:
        prefixes = (*arm.prefixes, *(p for p, s in opts.sides.items() if s == arm.side))
        aliases = {u: tuple(n for n, v in opts.joint_map.items() if v == u) for u in (j.urdf for j in arm.joints)}
        for j in arm.joints:
            found = j.model_copy(update={"native": (*j.native, *aliases[j.urdf])}).keys(prefixes) & set(keys)
            assert len(found) == 1, (j.urdf, arm.side)
            cols.append(keys[found.pop()])
            joints.append(j.urdf)
            cal.append(calibration_name(names[cols[-1]], j.urdf, arm.side, len(spec.arms) > 1, opts))
    lo, hi = np.array(ranges["min"])[cols], np.array(ranges["max"])[cols]
    t = (0.5 - 0.5 * np.cos(np.linspace(0, 2 * np.pi, 400)))[:, None]
    lower, upper = _limits(spec.description, tuple(joints))
    values = lo + (hi - lo) * t
    if layout in INT_STEPS:  # its recorder stores int32 steps (the card's column table): frames are whole
        values = np.round(values)
    d = infer_units(values, cal, lower, upper, opts, spec.units)
    assert (d.unit, d.basis.split(" ")[0]) == expected, d.summary()
