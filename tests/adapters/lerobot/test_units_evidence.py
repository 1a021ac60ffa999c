"""Joint units settled by the values, through the LeRobot adapter and canonicalization (issue 23, item 3).

Two real layouts: the PiPER dataset of tests/fixtures/lerobot_layouts/piper_joint_pos_v30 (robot_type `piper`, state
`joint_1.pos` .. `joint_6.pos`, `gripper.pos` at 15 Hz, action the SO-101 leader's `shoulder_pan.pos` ..; values
drawn through the real stats' per-joint ranges) and an `so101_follower` recorded as lerobot >= 0.2 records it
(RANGE_M100_100 from integer steps and a real calibration file, `MotorsBus._normalize`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adapters.lerobot.adapter import LeRobotSource
from ingest.canonical.store import lineage
from ingest.episode import CanonicalEpisode
from ingest.lerobot.writer import LeRobotWriter
from schemas.canonical import GRIPPER, WRIST_POS, hand_dims
from schemas.lerobot_features import IMAGE_NAMES, FeatureSpec
from schemas.robots.joint_space import JointUnitsRecord
from schemas.tiers import grouped
from tests.fixtures.offline import prepared

LAYOUTS = Path(__file__).resolve().parents[2] / "fixtures" / "lerobot_layouts"
SO101 = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
# tjadams/Learning-DeepLearning Robotics/SO-ARM-101/scripts/calibration/so-101-follower-calibration-backup.json
# @ b6a5df67 (what lerobot-calibrate saved for an so101_follower)
FOLLOWER = {
    "shoulder_pan": {"id": 1, "drive_mode": 0, "homing_offset": 330, "range_min": 1041, "range_max": 3271},
    "shoulder_lift": {"id": 2, "drive_mode": 0, "homing_offset": 874, "range_min": 773, "range_max": 3101},
    "elbow_flex": {"id": 3, "drive_mode": 0, "homing_offset": -495, "range_min": 923, "range_max": 3128},
    "wrist_flex": {"id": 4, "drive_mode": 0, "homing_offset": -238, "range_min": 970, "range_max": 3262},
    "wrist_roll": {"id": 5, "drive_mode": 0, "homing_offset": -1642, "range_min": 899, "range_max": 3221},
    "gripper": {"id": 6, "drive_mode": 0, "homing_offset": -1382, "range_min": 2047, "range_max": 3052},
}


def _write(
    root: Path,
    fps: int,
    robot_type: str,
    state: tuple[list[str], np.ndarray],
    action: tuple[list[str], np.ndarray],
    cameras: tuple[str, ...],
) -> Path:
    cam = FeatureSpec(dtype="video", shape=(16, 16, 3), names=list(IMAGE_NAMES))
    features = {f"observation.images.{c}": cam for c in cameras}
    features["observation.state"] = FeatureSpec(dtype="float32", shape=(len(state[0]),), names=state[0])
    features["action"] = FeatureSpec(dtype="float32", shape=(len(action[0]),), names=action[0])
    with LeRobotWriter.create(root, fps=fps, features=features, robot_type=robot_type) as w:
        with w.episode(task="pick up the cloth") as ep:
            for i in range(len(state[1])):
                frame = {f"observation.images.{c}": np.full((16, 16, 3), 4 * i % 255, np.uint8) for c in cameras}
                ep.add_frame(
                    {
                        **frame,
                        "observation.state": state[1][i].astype(np.float32),
                        "action": action[1][i].astype(np.float32),
                    }
                )
    return root


def _ingest(root: Path, options: dict | None = None) -> tuple[JointUnitsRecord, CanonicalEpisode]:
    """The episode and the joint unit decision it carries (the raw episode's are given: `joint_space` options)."""
    source = LeRobotSource(options or {})
    [ref] = source.discover(root)
    [ep] = prepared(source.read(ref))
    assert ep.joint_units is not None
    return ep.joint_units, ep


def _walk(lo: np.ndarray, hi: np.ndarray, n: int) -> np.ndarray:
    t = (0.5 - 0.5 * np.cos(np.linspace(0, 2 * np.pi, n)))[:, None] ** np.linspace(0.7, 1.4, len(lo))
    return lo + (hi - lo) * t


@pytest.fixture(scope="module")
def piper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    layout = json.loads((LAYOUTS / "piper_joint_pos_v30" / "layout.json").read_text())
    info = json.loads((LAYOUTS / "piper_joint_pos_v30" / "info.json").read_text())
    ranges = layout["value_ranges"]
    state = _walk(*(np.array(ranges["observation.state"][k]) for k in ("min", "max")), 120)
    action = _walk(*(np.array(ranges["action"][k]) for k in ("min", "max")), 120)
    names = (info["features"]["observation.state"]["names"], info["features"]["action"]["names"])
    root = tmp_path_factory.mktemp("piper") / "piper_joint_pos"
    return _write(root, info["fps"], info["robot_type"], (names[0], state), (names[1], action), ("front", "wrist"))


def test_piper_in_range_m100_100_is_read_as_such_and_kept_native_without_a_calibration(piper: Path) -> None:
    record, ep = _ingest(piper)
    assert ep.embodiment == "piper" and not ep.mask.any()
    assert ep.natives.state is not None and ep.natives.state.shape[1] == 7  # every state column kept
    [reason] = [r for r in ep.tier_reasons if "joint space (piper)" in r]  # said once (issue 68)
    assert "not found" not in reason  # joint_1.pos resolved to joint1: the cause is the unit, not the names
    assert "joint units: range_m100_100 (evidence)" in reason and "calibration" in reason, reason
    assert record.unit == "range_m100_100" and record.fk is False
    assert record.fit["range_m100_100"] == 1.0 and record.fit["rad"] < 0.5  # tens are no radians on a PiPER
    assert lineage(ep).to_json()["joint_units"] == record.model_dump()  # what episodes.jsonl carries for the episode


def test_an_explicit_unit_overrides_the_evidence_and_its_poor_fit_is_said(piper: Path) -> None:
    _, ep = _ingest(piper, {"joint_space": {"units": "deg"}})
    assert ep.mask[hand_dims(1, WRIST_POS)].all()  # the user said degrees: FK runs ...
    assert any("joint_space.units='deg' fits only" in r for r in ep.tier_reasons)  # ... and the misfit is on record


def _so101_m100(n: int) -> np.ndarray:
    """A reach (degrees about each calibrated range's middle) -> steps -> RANGE_M100_100 / RANGE_0_100 as
    MotorsBus._normalize writes them."""
    t = np.linspace(0, 1, n)[:, None]
    deg = np.array([25.0, -35.0, 40.0, 30.0, 45.0]) * np.sin(np.pi * t + np.array([0, 0.3, 0.6, 0.9, 1.2]))
    out = np.empty((n, 6))
    for i, m in enumerate(SO101):
        c = FOLLOWER[m]
        lo, hi = c["range_min"], c["range_max"]
        if m == "gripper":
            steps = np.round(lo + (0.2 + 0.6 * t[:, 0]) * (hi - lo))
            out[:, i] = (steps - lo) / (hi - lo) * 100
        else:
            steps = np.round((lo + hi) / 2 + deg[:, i] * 4095 / 360)
            out[:, i] = (np.clip(steps, lo, hi) - lo) / (hi - lo) * 200 - 100
    return out


def test_so101_follower_in_range_m100_100_gets_its_wrist_ahead_of_the_base_within_reach(tmp_path: Path) -> None:
    names = [f"{m}.pos" for m in SO101]
    v = _so101_m100(91)
    root = _write(tmp_path / "so101_pick", 30, "so101_follower", (names, v[:-1]), (names, v[1:]), ("front",))
    record, ep = _ingest(root, {"joint_space": {"calibration": FOLLOWER}})
    assert record.unit == "range_m100_100" and record.fk
    assert ep.embodiment == "so101" and ep.mask[hand_dims(1, WRIST_POS)].all(), ep.tier_reasons
    assert any(r.startswith("joint units: range_m100_100") for r in ep.tier_reasons)
    # the unit read is a note (it lowers nothing), told apart in the lineage; its frame count groups away (issue 59)
    notes = lineage(ep).tier_notes or []
    assert ep.tier.value == "high" and [n for n in notes if n.startswith("joint units:")] == [ep.tier_reasons[0]]
    assert "(90 frames)" in notes[0] and "(# frames)" in grouped(notes[0])
    wrist = ep.state[:, hand_dims(1, WRIST_POS)]
    assert (wrist[:, 0] > 0.05).all()  # in front of the base
    assert (np.linalg.norm(wrist, axis=1) < 0.45).all()  # within the SO-101's reach (~0.4 m)
    grip = ep.state[:, hand_dims(1, GRIPPER)][:, 0]
    assert grip.min() > 0.15 and grip.max() < 0.85  # RANGE_0_100 / 100


def test_values_of_no_unit_stay_native_with_every_readings_fit_in_the_reason(tmp_path: Path) -> None:
    """Columns named as an SO-101's that hold no joint angle in any unit (hundreds, signed, fractional): no reading
    fits, FK does not run, and the reason carries each reading's measured share."""
    names = [f"{m}.pos" for m in SO101]
    v = np.random.default_rng(7).normal(0.0, 400.0, size=(61, 6))
    root = _write(tmp_path / "so101_noise", 30, "so101_follower", (names, v[:-1]), (names, v[1:]), ("front",))
    record, ep = _ingest(root, {"joint_space": {"calibration": FOLLOWER}})
    assert ep.embodiment == "so101" and not ep.mask.any() and ep.natives.state is not None
    [reason] = [r for r in ep.tier_reasons if "joint space (so101)" in r]  # said once (issue 68)
    assert "joint units: not settled" in reason and "natives only" in reason
    for unit, fit in record.fit.items():
        assert f"{unit} {fit:.0%}" in reason
