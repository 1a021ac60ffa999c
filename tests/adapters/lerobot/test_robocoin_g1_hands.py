"""RoboCOIN's Unitree G1 edu + Dex3-1 (`G1edu-u3`) gets both wrists and its three fingers per hand by forward
kinematics of the joints the dataset records, as the maker's own replay reads them.

The dataset is the real RoboCOIN layout (tests/fixtures/lerobot_layouts/robocoin_v21, QianHuixun/New-Test@ff298f68
`meta/info.json`: `<side>_arm_joint_1..7_rad`, `<side>_hand_joint_1..7_rad`, `eef_sim_pose_state`) with the
test's own values, written in the maker's convention: HuaHungy/robocoin-dataset@0106612
`src/robocoin_dataset/sim_replay/configs/unitree_g1_config.py` maps arm joint k to shoulder pitch .. wrist yaw and
hand joint k to thumb 0, 1, 2, then middle 0, 1, index 0, 1 on the left and index 0, 1, middle 0, 1 on the right, in
radians (MJCF hinges). Checked by what the values mean: the fingertips lie within a hand's reach of the wrist, the
finger joints flexing from open to closed move the index and middle tips towards the palm, the same joints written
in degrees are not read as radians, and a dataset whose robot_type says nothing keeps RoboCOIN's unified pose."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adapters.lerobot.adapter import LeRobotOptions, LeRobotSource
from ingest.episode import CanonicalEpisode
from schemas.canonical import FINGERTIPS_XYZ, GRIPPER, WRIST_POS, WRIST_ROT6D, hand_dims
from schemas.canonicalize import CanonicalizeSpec
from schemas.robots.hands import load_hands
from tests.fixtures.layouts import load_case, materialize, overwrite_columns
from tests.fixtures.offline import prepare
from tests.realdata import realdata

LAYOUT = Path(__file__).resolve().parents[2] / "fixtures" / "lerobot_layouts" / "robocoin_v21"
REAL = "robocoin_g1edu_u3"
# RoboCOIN's hand joint k (1-based) as the maker's replay names it (unitree_g1_config.py @ 0106612)
MAKER_HAND = {
    "left": ["thumb_0", "thumb_1", "thumb_2", "middle_0", "middle_1", "index_0", "index_1"],
    "right": ["thumb_0", "thumb_1", "thumb_2", "index_0", "index_1", "middle_0", "middle_1"],
}


SWAY = np.array([1.0, 0.3, 0.3, -1.0, 0.5, 0.3, 0.3])  # each left arm joint's share of the sway
MIRROR = np.array([1, -1, -1, 1, -1, 1, -1])  # the right arm mirrors the left: roll and yaw joints change sign


def _arms(n: int, seed: int) -> np.ndarray:
    """(n, 14) left then right arm, radians, shoulder pitch .. wrist yaw: both arms forward, a seeded sway."""
    amplitude = np.random.default_rng(seed).uniform(0.1, 0.3)
    t = np.linspace(0, 1, n)[:, None]
    left = np.array([-0.4, 0.25, 0.0, 0.6, 0.0, 0.0, 0.0]) + amplitude * np.sin(2 * np.pi * t) * SWAY
    return np.hstack([left, left * MIRROR])


def _hands(closing: np.ndarray) -> np.ndarray:
    """(n, 14) left then right hand joints at `closing` (0 open .. 1 closed), radians, in the maker's column order,
    from each joint's open and closed angle (hands.yaml, the Dex3 URDF limits)."""
    cols = []
    for side, joints in MAKER_HAND.items():
        spec = load_hands().hands[f"dex3_hand_{side}"]
        for j in joints:
            r = spec.ranges[f"{side}_hand_{j}_joint"]
            cols.append(r.open + closing * (r.closed - r.open))
    return np.stack(cols, axis=1)


def _episode(
    tmp: Path, *, robot_type: str | None = "G1edu-u3", seed: int = 0, scale: float = 1.0, embodiment: str | None = None
) -> CanonicalEpisode:
    case = load_case(LAYOUT)
    case.info["robot_type"] = robot_type
    written = materialize(case, tmp / "rc", episodes=1, seconds=3.0, seed=seed)
    n = written.lengths[0]
    closing = 0.5 - 0.45 * np.cos(2 * np.pi * np.linspace(0, 1, n))
    q = (np.hstack([_arms(n, seed), _hands(closing)]) * scale).astype(np.float32)
    # the recorded site pose: a steady pose far from FK's, so a test can tell which one became the wrist
    pose = np.tile([0.3, 0.2, 0.9, 0.0, 0.0, 0.0, 0.3, -0.2, 0.9, 0.0, 0.0, 0.0], (n, 1)).astype(np.float32)
    pose[:, [0, 6]] += np.linspace(0, 0.05, n)[:, None]
    overwrite_columns(written.root, 0, {"observation.state": q, "action": q, "eef_sim_pose_state": pose})
    adapter = LeRobotSource(LeRobotOptions(embodiment=embodiment))
    raw = adapter.read(next(iter(adapter.discover(written.root))))
    [ep, *_] = prepare(raw, CanonicalizeSpec()).episodes
    return ep


@pytest.mark.parametrize("seed", [0, 7])
def test_g1edu_u3_gets_both_wrists_and_three_fingertips_a_hand(tmp_path: Path, seed: int) -> None:
    ep = _episode(tmp_path, seed=seed)
    assert ep.embodiment == "unitree_g1_dex3", ep.tier_reasons
    assert ep.action_kind == "canonical" and ep.qa is not None and ep.qa.action_pos_err < 1e-5
    for h in (0, 1):
        assert ep.mask[hand_dims(h, WRIST_POS)].all() and ep.mask[hand_dims(h, WRIST_ROT6D)].all()
        tips = ep.mask[hand_dims(h, FINGERTIPS_XYZ)]
        assert tips[:9].all() and not tips[9:].any()  # thumb, index, middle; no ring, no pinky
        assert not ep.mask[hand_dims(h, GRIPPER)].any()  # a dexterous hand: no gripper opening is made up
    left, right = ep.state[:, hand_dims(0, WRIST_POS)], ep.state[:, hand_dims(1, WRIST_POS)]
    assert (left[:, 0] > 0.1).all() and (right[:, 0] > 0.1).all() and (left[:, 1] > right[:, 1]).all()
    assert np.abs(left[:, 2] - 0.9).min() > 0.3  # FK's wrist (pelvis frame), not the recorded site at z 0.9


def test_fingertips_stay_within_the_hand_and_close_with_the_joints(tmp_path: Path) -> None:
    ep = _episode(tmp_path)
    n = len(ep.state)
    closing = 0.5 - 0.45 * np.cos(2 * np.pi * np.linspace(0, 1, n))
    for h in (0, 1):
        tips = ep.state[:, hand_dims(h, FINGERTIPS_XYZ)].reshape(n, 5, 3)[:, :3]
        reach = np.linalg.norm(tips, axis=2)
        assert (reach > 0.03).all() and (reach < 0.25).all()  # Dex3-1: palm 0.04 m off the wrist, fingers ~0.1 m
        opened, closed = int(np.argmin(closing)), int(np.argmax(closing))
        for finger in (1, 2):  # index, middle curl in: their tips come nearer the wrist
            assert reach[closed, finger] < reach[opened, finger] - 0.01, (h, finger, reach[[opened, closed], finger])


def test_hand_joints_in_degrees_are_not_read_as_radians(tmp_path: Path) -> None:
    """The same motion written in degrees runs past the G1 and Dex3 limits: no wrist or fingertip is made of it, and
    the reason names the field and the unit reading."""
    ep = _episode(tmp_path, scale=float(np.degrees(1.0)))
    for h in (0, 1):
        assert not ep.mask[hand_dims(h, FINGERTIPS_XYZ)].any() and not ep.mask[hand_dims(h, WRIST_POS)].any()
    said = " ".join(ep.tier_reasons)
    assert "field observation.state: joint units" in said and "inside the limits" in said, said


def test_without_the_robot_named_the_unified_pose_stays_the_wrist(tmp_path: Path) -> None:
    ep = _episode(tmp_path, robot_type=None)
    assert ep.embodiment == "robocoin_unified"
    assert not ep.mask[hand_dims(0, FINGERTIPS_XYZ)].any()
    assert np.allclose(ep.state[:, hand_dims(0, WRIST_POS)][:, 2], 0.9, atol=1e-4)


def test_the_embodiment_option_names_the_robot_a_file_does_not(tmp_path: Path) -> None:
    ep = _episode(tmp_path, robot_type=None, embodiment="unitree_g1_dex3")
    assert ep.embodiment == "unitree_g1_dex3" and ep.mask[hand_dims(1, FINGERTIPS_XYZ)][:9].all()


def test_real_g1edu_u3_hands() -> None:
    """The real RoboCOIN G1edu-u3 dataset (awaited: QianHuixun/New-Test@ff298f6; robot_type null, so the option names
    the robot): both hands get three fingertips within a hand's reach of the wrist in every frame, and each FK wrist
    moves with the maker's own FK of the same joints: `eef_sim_pose_state` is the origin of `<side>_wrist_yaw_link`
    in MuJoCo's world (mjcfs/unitree_g1/g1_29dof_with_three_finger_hand.xml @ 79b10ce: the site at 0 0 0 of that
    body, the pelvis at 0.793 m), so the two differ by one constant offset (p95 spread under 5 mm)."""
    adapter = LeRobotSource(LeRobotOptions(embodiment="unitree_g1_dex3"))
    refs = sorted(adapter.discover(realdata(REAL)), key=lambda r: r.raw_id)
    raws = [adapter.read(r) for r in refs if r.error is None]
    assert len(raws) >= 2
    for raw in raws:
        [ep, *_] = prepare(raw, CanonicalizeSpec()).episodes
        for h in (0, 1):
            assert ep.mask[hand_dims(h, FINGERTIPS_XYZ)][:9].all(), ep.tier_reasons
            tips = ep.state[:, hand_dims(h, FINGERTIPS_XYZ)].reshape(len(ep.state), 5, 3)[:, :3]
            assert (np.linalg.norm(tips, axis=2) < 0.25).all()
            side = ("left", "right")[h]
            cols = [ep.natives.state_names.index(f"eef_sim_pose_state.{side}_eef_pos_{a}") for a in "xyz"]
            gap = ep.natives.state[:, cols] - ep.state[:, hand_dims(h, WRIST_POS)]
            spread = np.percentile(np.linalg.norm(gap - np.median(gap, axis=0), axis=1), 95)
            assert spread < 0.005, (side, spread)


def test_the_right_hand_reads_index_before_middle(tmp_path: Path) -> None:
    """Only the right index (RoboCOIN's right hand joints 4 and 5) curls: the canonical index tip comes nearer the
    wrist, the middle one stays; read in the left hand's order it would be the middle finger."""
    case = load_case(LAYOUT)
    case.info["robot_type"] = "G1edu-u3"
    written = materialize(case, tmp_path / "rc", episodes=1, seconds=2.0)
    n = written.lengths[0]
    closing = np.linspace(0.0, 0.9, n)
    hands = _hands(np.zeros(n))
    spec = load_hands().hands["dex3_hand_right"]
    for k, j in ((10, "index_0"), (11, "index_1")):  # columns 7 + 3, 7 + 4 of the hands: right joints 4 and 5
        r = spec.ranges[f"right_hand_{j}_joint"]
        hands[:, k] = r.open + closing * (r.closed - r.open)
    q = np.hstack([_arms(n, 0), hands]).astype(np.float32)
    overwrite_columns(written.root, 0, {"observation.state": q, "action": q})
    adapter = LeRobotSource()
    [ep, *_] = prepare(adapter.read(next(iter(adapter.discover(written.root)))), CanonicalizeSpec()).episodes
    reach = np.linalg.norm(ep.state[:, hand_dims(1, FINGERTIPS_XYZ)].reshape(len(ep.state), 5, 3), axis=2)
    assert reach[-1, 1] < reach[0, 1] - 0.02  # index curled in
    assert abs(reach[-1, 2] - reach[0, 2]) < 1e-3  # middle unmoved


def test_a_g1edu_u3_without_every_joint_keeps_the_unified_pose(tmp_path: Path) -> None:
    """A G1edu-u3 dataset lacking a Dex3 joint (here each hand's 7th, as RoboCOIN's six-value hands write): FK
    cannot be had, so the maker's site pose stays the wrist and the notes name the missing joint."""
    case = load_case(LAYOUT)
    case.info["robot_type"] = "G1edu-u3"
    for key in ("observation.state", "action"):
        feature = case.info["features"][key]
        feature["names"] = [n for n in feature["names"] if not n.endswith("hand_joint_7_rad")]
        feature["shape"] = [len(feature["names"])]
    written = materialize(case, tmp_path / "rc", episodes=1, seconds=2.0)
    n = written.lengths[0]
    q = np.hstack([_arms(n, 0), np.delete(_hands(np.full(n, 0.3)), [6, 13], axis=1)]).astype(np.float32)
    overwrite_columns(written.root, 0, {"observation.state": q, "action": q})
    adapter = LeRobotSource()
    raw = adapter.read(next(iter(adapter.discover(written.root))))
    assert sorted(raw.hands.hands) == [0, 1]
    assert any("left_hand_index_1_joint" in note for note in raw.hands.notes), raw.hands.notes
    [ep, *_] = prepare(raw, CanonicalizeSpec()).episodes
    assert ep.mask[hand_dims(0, WRIST_POS)].all() and not ep.mask[hand_dims(0, FINGERTIPS_XYZ)].any()
