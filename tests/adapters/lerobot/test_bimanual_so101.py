"""Two-arm robots by evidence (issue 23, item 4), on real layouts and real calibration files.

The hand-made bimanual SO-101 dataset of tests/fixtures/lerobot_layouts/so101_bimanual_chunk_index_v21
(WangzyNicole/Bimanual-Cloth-Manipulation @ 6a17ec3b: robot_type `so101_bimanual`, state `arm1_j1` .. `arm2_j6` in
raw STS3215 steps, 20 Hz, cameras cam0/cam1). Its repository's README (@ 4c2af680) says which arm is which
(`arm1 (RHS)`, `arm2 (LHS)`), that j1..j6 are the servo ids 1..6 in the order shoulder_pan .. gripper, and ships the two
calibration files lerobot-calibrate wrote (`arm1.json`, `arm2.json` @ 97fde6ec, copied below). The steps are made from
joint angles as the servo reports them (`Present_Position`, about the middle of each calibrated range, as lerobot's
DEGREES mode reads them), so FK must give back two wrists, each ahead of its own base and within reach, the left one
on the left.

lerobot's own two-arm naming (`left_shoulder_pan.pos`, src/lerobot/robots/bi_so100_follower/bi_so100_follower.py
@ 183b2ca0) and the `<motor>_left.pos` naming of the real `dual_so101` layout resolve the same way."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adapters.base import RawEpisode
from adapters.lerobot.adapter import LeRobotSource
from ingest.episode import CanonicalEpisode
from schemas.canonical import GRIPPER, WRIST_POS, hand_dims
from tests.adapters.lerobot.conftest import MOTORS, write_arm_dataset
from tests.fixtures.offline import prepared

LAYOUTS = Path(__file__).resolve().parents[2] / "fixtures" / "lerobot_layouts"
ARM1 = {  # WangzyNicole/Bimanual-Cloth-Manipulation arm1.json @ 97fde6ec (the right arm)
    "shoulder_pan": {"id": 1, "drive_mode": 0, "homing_offset": -1937, "range_min": 737, "range_max": 3483},
    "shoulder_lift": {"id": 2, "drive_mode": 0, "homing_offset": -1347, "range_min": 875, "range_max": 3185},
    "elbow_flex": {"id": 3, "drive_mode": 0, "homing_offset": -1950, "range_min": 871, "range_max": 3145},
    "wrist_flex": {"id": 4, "drive_mode": 0, "homing_offset": -1808, "range_min": 876, "range_max": 3148},
    "wrist_roll": {"id": 5, "drive_mode": 0, "homing_offset": 821, "range_min": 0, "range_max": 4095},
    "gripper": {"id": 6, "drive_mode": 0, "homing_offset": 2031, "range_min": 1425, "range_max": 2913},
}
ARM2 = {  # arm2.json @ 97fde6ec (the left arm)
    "shoulder_pan": {"id": 1, "drive_mode": 0, "homing_offset": 1808, "range_min": 687, "range_max": 3324},
    "shoulder_lift": {"id": 2, "drive_mode": 0, "homing_offset": -1465, "range_min": 907, "range_max": 3220},
    "elbow_flex": {"id": 3, "drive_mode": 0, "homing_offset": 971, "range_min": 912, "range_max": 3133},
    "wrist_flex": {"id": 4, "drive_mode": 0, "homing_offset": 1923, "range_min": 801, "range_max": 3205},
    "wrist_roll": {"id": 5, "drive_mode": 0, "homing_offset": -1805, "range_min": 0, "range_max": 4095},
    "gripper": {"id": 6, "drive_mode": 0, "homing_offset": -2030, "range_min": 1457, "range_max": 2873},
}
# The card's facts, in the notation it uses for them (ports of arm1 / arm2, the joint order within an arm)
CARD = """# Bimanual cloth folding with two SO-101 arms

- two wrist cameras (cam0 = RHS, cam1 = LHS)

Default serial ports:
arm1 (RHS): /dev/cu.usbmodem5AE60581371
arm2 (LHS): /dev/cu.usbmodem5AE60846081

Columns arm1_j1 .. arm1_j6 and arm2_j1 .. arm2_j6 are servo ticks (IDs 1-6), in each arm the order
shoulder_pan, shoulder_lift, elbow_flex, wrist_flex, wrist_roll, gripper.
"""
JOINT_MAP = {f"j{i}": m for i, m in enumerate(MOTORS, start=1)}  # the card's joint order
FPS, N = 20, 60


def _reach(n: int, inward: float) -> np.ndarray:
    """Degrees about each calibrated range's middle: a reach towards the cloth in the middle and back. `inward` is
    the sign of shoulder_pan that turns this arm towards the other (+ turns an SO-101 clockwise seen from above:
    so101_new_calib.urdf's pan axis is z of a frame rolled by -pi, pointing down; for the left arm, towards -y)."""
    t = np.linspace(0, 1, n)[:, None]
    amp = np.array([30.0 * inward, -30.0, 35.0, 30.0, 20.0])
    return amp * np.sin(np.pi * t + np.array([0, 0.2, 0.4, 0.6, 0.8]))


def _steps(deg: np.ndarray, calib: dict, grip: np.ndarray) -> np.ndarray:
    """Angles -> the whole steps Present_Position reports; the gripper's opening 0..1 across its calibrated range."""
    out = [
        np.round((calib[m]["range_min"] + calib[m]["range_max"]) / 2 + deg[:, i] * 4095 / 360)
        for i, m in enumerate(MOTORS[:5])
    ]
    g = calib["gripper"]
    out.append(np.round(g["range_min"] + grip * (g["range_max"] - g["range_min"])))
    return np.stack(out, axis=1)


@pytest.fixture(scope="module")
def bimanual(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dataset under `dataset/` of a repository whose README.md is the card, as the real one is kept."""
    info = json.loads((LAYOUTS / "so101_bimanual_chunk_index_v21" / "info.json").read_text())
    names = info["features"]["observation.state"]["names"]
    repo = tmp_path_factory.mktemp("Bimanual-Cloth-Manipulation")
    (repo / "README.md").write_text(CARD)
    grip = 0.3 + 0.5 * np.sin(np.linspace(0, np.pi, N + 1))
    rows = np.concatenate([_steps(_reach(N + 1, -1.0), ARM1, grip), _steps(_reach(N + 1, 1.0), ARM2, grip)], axis=1)
    return write_arm_dataset(repo / "dataset", info["robot_type"], names, rows, ("cam0", "cam1"))


def _ingest(root: Path, options: dict) -> tuple[RawEpisode, str, CanonicalEpisode]:
    source = LeRobotSource(options)
    [ref] = source.discover(root)
    raw = source.read(ref)
    [ep] = prepared(raw)
    return raw, raw.embodiment, ep


OPTIONS = {"joint_space": {"joint_map": JOINT_MAP, "calibration": {"right": ARM1, "left": ARM2}}}


def test_so101_bimanual_in_raw_ticks_gives_two_wrists_the_left_one_on_the_left(bimanual: Path) -> None:
    raw, embodiment, ep = _ingest(bimanual, OPTIONS)
    assert embodiment == "so101_bimanual" and "so101_bimanual" in raw.metadata["embodiment_from"]
    assert raw.joint_space is not None
    assert raw.joint_space.sides == {"arm1": "right", "arm2": "left"}  # read from the card ...
    assert raw.joint_space.sides_from == f"dataset card {bimanual.parent / 'README.md'}"  # ... and said so
    assert any(n.startswith("arm sides {'arm1': 'right', 'arm2': 'left'} from dataset card") for n in ep.notes)
    units = ep.joint_units
    assert units is not None and units.unit == "ticks" and units.basis == "evidence" and units.fk, units
    assert units.fit["ticks"] > 0.95 and units.fit["rad"] == units.fit["deg"] == 0.0
    for h in (0, 1):
        assert ep.mask[hand_dims(h, WRIST_POS)].all() and ep.mask[hand_dims(h, GRIPPER)].all(), ep.tier_reasons
    left, right = ep.state[:, hand_dims(0, WRIST_POS)], ep.state[:, hand_dims(1, WRIST_POS)]
    assert (left[:, 1] > right[:, 1]).all()
    # the recorded pans turn each arm towards the other: only the right arm1 / left arm2 reading puts both inwards
    assert left[:, 1].min() < 0.2 - 0.05 and right[:, 1].max() > -0.2 + 0.05
    for wrist, base_y in ((left, 0.2), (right, -0.2)):
        rel = wrist - np.array([0.0, base_y, 0.0])
        assert (rel[:, 0] > 0.05).all()  # ahead of its own base
        assert (np.linalg.norm(rel, axis=1) < 0.45).all()  # within an SO-101's reach
    for h in (0, 1):
        g = ep.state[:, hand_dims(h, GRIPPER)][:, 0]
        assert g.min() > 0.25 and g.max() < 0.85 and g.max() - g.min() > 0.3  # the steps' opening, 0.3 .. 0.8


def test_raw_ticks_without_the_calibration_stay_native_with_the_reason(bimanual: Path) -> None:
    _, _, ep = _ingest(bimanual, {"joint_space": {"joint_map": JOINT_MAP}})
    assert not ep.mask.any() and ep.natives.state is not None and ep.natives.state.shape[1] == 12
    [reason] = [r for r in ep.tier_reasons if "joint space (so101_bimanual)" in r]  # said once (issue 68)
    assert "joint units: ticks (evidence)" in reason and "raw encoder ticks" in reason and "calibration" in reason
    assert ep.joint_units is not None and ep.joint_units.unit == "ticks" and not ep.joint_units.fk


def test_without_a_card_the_numbered_arms_say_they_have_no_side(bimanual: Path, tmp_path: Path) -> None:
    import shutil

    copy = shutil.copytree(bimanual, tmp_path / "no_card" / "dataset")
    _, embodiment, ep = _ingest(copy, OPTIONS)
    assert embodiment == "so101_bimanual" and not ep.mask.any()
    [reason] = [r for r in ep.tier_reasons if "joint space (so101_bimanual)" in r]  # said once (issue 68)
    assert "['arm1', 'arm2'] have no side" in reason and "joint_space.sides" in reason
    sides = {"arm1": "right", "arm2": "left"}
    _, _, ep = _ingest(copy, {"joint_space": {**OPTIONS["joint_space"], "sides": sides}})
    assert ep.mask[hand_dims(0, WRIST_POS)].all() and ep.mask[hand_dims(1, WRIST_POS)].all()


def test_lerobot_bi_so101_follower_naming_in_range_m100_100(tmp_path: Path) -> None:
    """lerobot's BiSO100Follower features `left_<motor>.pos` / `right_<motor>.pos`, each arm RANGE_M100_100 with its
    own calibration file (`<id>_left.json`, `<id>_right.json`)."""
    names = [f"{side}_{m}.pos" for side in ("left", "right") for m in MOTORS]
    grip = 0.3 + 0.5 * np.sin(np.linspace(0, np.pi, N + 1))
    cols = []
    for calib, mirror in ((ARM2, 1.0), (ARM1, -1.0)):
        steps = _steps(_reach(N + 1, mirror), calib, grip)
        lo = np.array([calib[m]["range_min"] for m in MOTORS])
        hi = np.array([calib[m]["range_max"] for m in MOTORS])
        norm = (np.clip(steps, lo, hi) - lo) / (hi - lo)
        cols.append(np.concatenate([norm[:, :5] * 200 - 100, norm[:, 5:] * 100], axis=1))  # MotorsBus._normalize
    root = write_arm_dataset(tmp_path / "bi_so101", "bi_so101_follower", names, np.concatenate(cols, axis=1))
    _, embodiment, ep = _ingest(root, {"joint_space": {"calibration": {"left": ARM2, "right": ARM1}}})
    assert ep.joint_units is not None
    assert embodiment == "so101_bimanual" and ep.joint_units.unit == "range_m100_100", ep.joint_units
    left, right = ep.state[:, hand_dims(0, WRIST_POS)], ep.state[:, hand_dims(1, WRIST_POS)]
    assert ep.mask[hand_dims(0, WRIST_POS)].all() and (left[:, 1] > right[:, 1]).all()
    assert left[:, 1].min() < 0.2 - 0.05 and right[:, 1].max() > -0.2 + 0.05  # left_ data drives the left arm
