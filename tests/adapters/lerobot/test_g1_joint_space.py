"""A Unitree G1 recording as unitree_lerobot writes it reaches the canonical hand space by forward kinematics: arms
and dexterous hands (Dex3-1, three fingers; Inspire RH56, five, normalized 0..1) through the LeRobot source.

Feature names, order, robot_type and rate are those of unitreerobotics/unitree_lerobot
`unitree_lerobot/utils/constants.py` @ 529a0702 (G1_DEX3_CONFIG / G1_INSPIRE_CONFIG `motors`, `ROBOT_CONFIGS` keys)
and `convert_unitree_json_to_lerobot.py` (`observation.state` and `action` over the same motors, fps 30): arm joints
in radians, Dex3 joints in radians, Inspire values normalized with 1 = open (hands.yaml)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adapters.lerobot.adapter import LeRobotSource
from adapters.synthetic.video import synthetic_frame
from ingest.canonical.store import dataset_features
from ingest.episode import CanonicalEpisode
from ingest.lerobot.writer import LeRobotWriter
from ingest.qa.dataset import geometry_findings, geometry_summary
from schemas.canonical import FINGERTIPS_XYZ, WRIST_POS, WRIST_ROT6D, hand_dims
from schemas.lerobot_features import IMAGE_NAMES, FeatureSpec
from schemas.qa import QAConfig
from schemas.robots.hands import load_hands
from schemas.tiers import QualityTier
from tests.fixtures.episodes import write_episode
from tests.fixtures.offline import prepared

ARM = ["ShoulderPitch", "ShoulderRoll", "ShoulderYaw", "Elbow", "WristRoll", "WristPitch", "WristYaw"]
ARMS = [f"k{s}{j}" for s in ("Left", "Right") for j in ARM]
HANDS = {
    "Unitree_G1_Dex3": [
        f"kLeftHand{j}" for j in ("Thumb0", "Thumb1", "Thumb2", "Middle0", "Middle1", "Index0", "Index1")
    ]
    + [f"kRightHand{j}" for j in ("Thumb0", "Thumb1", "Thumb2", "Index0", "Index1", "Middle0", "Middle1")],
    "Unitree_G1_Inspire": [
        f"k{s}Hand{j}"
        for s in ("Left", "Right")
        for j in ("Pinky", "Ring", "Middle", "Index", "ThumbBend", "ThumbRotation")
    ],
}
HAND_FILE = {"Unitree_G1_Dex3": "dex3", "Unitree_G1_Inspire": "inspire"}
FPS = 30


def _hand_values(robot_type: str, names: list[str], closing: np.ndarray) -> np.ndarray:
    """Per native hand joint, its value at `closing` (0 open .. 1 closed) in the dataset's unit (hands.yaml)."""
    cols = []
    for name in names:
        side = "left" if "Left" in name else "right"
        spec = load_hands().hands[f"{HAND_FILE[robot_type]}_hand_{side}"]
        joint = spec.native_order[spec.native_names.index(name)]
        r = spec.ranges[joint]
        if spec.native_unit == "inspire_0_1":
            cols.append(1.0 - closing)  # 1 = open
        else:
            cols.append(r.open + closing * (r.closed - r.open))
    return np.stack(cols, axis=1)


def _write(root: Path, robot_type: str, n: int = 120) -> Path:
    names = ARMS + HANDS[robot_type]
    vec = FeatureSpec(dtype="float32", shape=(len(names),), names=names)
    cam = FeatureSpec(dtype="video", shape=(32, 32, 3), names=list(IMAGE_NAMES))
    features = {"observation.images.cam_left_high": cam, "observation.state": vec, "action": vec}
    t = np.linspace(0, 1, n + 1)[:, None]
    # both arms reach forward and in: shoulders pitched forward, elbows bent, a small symmetric sway
    left = np.array([-0.4, 0.25, 0.0, 0.6, 0.0, 0.0, 0.0]) + 0.25 * np.sin(2 * np.pi * t) * [
        1,
        0.3,
        0.3,
        -1,
        0.5,
        0.3,
        0.3,
    ]
    right = left * [1, -1, -1, 1, -1, 1, -1]  # the mirror image (roll and yaw joints change sign)
    closing = 0.5 - 0.45 * np.cos(2 * np.pi * t[:, 0])
    hands = _hand_values(robot_type, HANDS[robot_type], closing)
    q = np.concatenate([left, right, hands], axis=1).astype(np.float32)
    with LeRobotWriter.create(root, fps=FPS, features=features, robot_type=robot_type) as w:
        with w.episode(task="put the cup in the box") as ep:
            for i in range(n):
                frame = synthetic_frame(32, 32, i)  # a flat frame is a dead feed: the behaviour QA quarantines it
                ep.add_frame({"observation.images.cam_left_high": frame, "observation.state": q[i], "action": q[i + 1]})
    return root


@pytest.fixture(scope="module", params=sorted(HANDS))
def case(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, CanonicalEpisode]:
    robot_type = request.param
    root = _write(tmp_path_factory.mktemp("g1") / robot_type.lower(), robot_type)
    source = LeRobotSource()
    [ref] = source.discover(root)
    [ep] = prepared(source.read(ref))
    return robot_type, ep


def test_g1_gets_both_wrists_and_the_fingers_it_has(case: tuple[str, CanonicalEpisode]) -> None:
    robot_type, ep = case
    assert (
        ep.embodiment == {"Unitree_G1_Dex3": "unitree_g1_dex3", "Unitree_G1_Inspire": "unitree_g1_inspire"}[robot_type]
    )
    assert ep.tier is QualityTier.high, ep.tier_reasons
    fingers = 3 if robot_type == "Unitree_G1_Dex3" else 5  # Dex3: thumb, index, middle
    for h in (0, 1):
        assert ep.mask[hand_dims(h, WRIST_POS)].all() and ep.mask[hand_dims(h, WRIST_ROT6D)].all()
        tips = ep.mask[hand_dims(h, FINGERTIPS_XYZ)]
        assert tips[: 3 * fingers].all() and not tips[3 * fingers :].any()
    assert ep.natives.state is not None and ep.natives.state.shape[1] == len(ARMS) + len(HANDS[robot_type])


def test_g1_geometry_and_every_invariant(case: tuple[str, CanonicalEpisode]) -> None:
    _, ep = case
    left, right = (ep.state[:, hand_dims(h, WRIST_POS)] for h in (0, 1))
    assert (left[:, 0] > 0.1).all() and (right[:, 0] > 0.1).all()  # in front of the pelvis
    assert (left[:, 1] > right[:, 1]).all()
    assert (np.linalg.norm(left - right, axis=1) < 0.8).all()
    for h in (0, 1):
        tips = ep.state[:, hand_dims(h, FINGERTIPS_XYZ)].reshape(-1, 5, 3)
        present = ep.mask[hand_dims(h, FINGERTIPS_XYZ)].reshape(5, 3).all(axis=1)
        assert (np.linalg.norm(tips[:, present], axis=2) < 0.3).all()  # a hand (+ its mount), not an arm
        spread = np.ptp(tips[:, present], axis=0).max()
        assert spread > 0.01  # the fingers move as the hand closes and opens
    assert ep.qa is not None and ep.qa.action_pos_err < 1e-5 and ep.qa.left_of_right == 1.0
    summary = geometry_summary("g1", [ep.qa])
    assert summary is not None and geometry_findings(summary, QAConfig()) == []


@pytest.mark.oracle
def test_lerobot_loads_the_canonical_g1_dataset(case: tuple[str, CanonicalEpisode], tmp_path: Path, run_oracle) -> None:
    _, ep = case
    out = tmp_path / "canonical_g1"
    with LeRobotWriter.create(out, fps=10, features=dataset_features(ep), robot_type=ep.embodiment) as w:
        write_episode(w, ep)
    res = run_oracle("load-many", out, timeout=300)[str(out)]
    info = json.loads((out / "meta/info.json").read_text())
    assert res["num_episodes"] == 1 and res["num_frames"] == info["total_frames"] == ep.num_frames
    assert info["features"]["action"]["info"]["mask"] == ep.mask.astype(int).tolist()
