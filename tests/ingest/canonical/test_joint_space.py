"""`ingest.canonical.joint_space`: lerobot's joint normalization inverted, gripper openings, FK batched over the
episode, and robots without a description keeping their natives with the reason (never a guess)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adapters.lerobot.adapter import LeRobotSource
from ingest.canonical.joint_gripper import gripper_opening
from ingest.canonical.joint_units import to_radians
from ingest.kinematics import KinematicModel
from ingest.lerobot.writer import LeRobotWriter
from schemas.canonical import GRIPPER, WRIST_POS, hand_dims
from schemas.lerobot_features import IMAGE_NAMES, FeatureSpec
from schemas.robots.joint_space import GripperMap, JointMap, JointSpaceOptions
from schemas.tiers import QualityTier
from tests.fixtures.layouts import load_case, materialize
from tests.fixtures.offline import prepared


@pytest.mark.parametrize("drive_mode", [0, 1])
def test_range_m100_100_inverts_lerobots_normalization(drive_mode: int) -> None:
    """MotorsBus._normalize: RANGE_M100_100 = (steps - min) / (max - min) * 200 - 100, negated for drive_mode 1;
    DEGREES = (steps - mid) * 360 / 4095. The inverse must give the DEGREES value of the same steps."""
    lo, hi = 812, 3301
    steps = np.array([812.0, 1500.0, 2056.5, 3301.0])
    norm = (steps - lo) / (hi - lo) * 200 - 100
    norm = -norm if drive_mode else norm
    opts = JointSpaceOptions(calibration={"elbow_flex": {"range_min": lo, "range_max": hi, "drive_mode": drive_mode}})
    got = to_radians(norm[:, None], ["elbow_flex.pos"], "range_m100_100", opts)[:, 0]
    degrees = (steps - (lo + hi) / 2) * 360 / 4095
    assert np.allclose(np.degrees(got), degrees, atol=1e-9)


def test_gripper_openings_by_unit() -> None:
    grip = GripperMap(joint=JointMap(urdf="g"), closed_q=0.0, open_q=0.04, source="test")
    opts = JointSpaceOptions()
    assert np.allclose(gripper_opening(np.array([0.0, 0.02, 0.05]), grip, "joint", "rad", "g", opts), [0, 0.5, 1])
    assert np.allclose(gripper_opening(np.array([0.0, 25.0, 100.0]), grip, "percent", "rad", "g", opts), [0, 0.25, 1])
    assert np.allclose(gripper_opening(np.array([0.3]), grip, "fraction", "rad", "g", opts), [0.3])
    deg = GripperMap(joint=JointMap(urdf="g"), closed_q=0.0, open_q=np.pi / 2, source="test")
    assert np.allclose(gripper_opening(np.array([45.0]), deg, "joint", "deg", "g", opts), [0.5])


def _dataset(root: Path, robot_type: str, names: list[str], n: int = 40, amplitude: float = 0.2) -> Path:
    vec = FeatureSpec(dtype="float32", shape=(len(names),), names=names)
    cam = FeatureSpec(dtype="video", shape=(16, 16, 3), names=list(IMAGE_NAMES))
    features = {"observation.images.top": cam, "observation.state": vec, "action": vec}
    q = amplitude * np.sin(np.linspace(0, 1, n + 1)[:, None] + np.arange(len(names)))
    with LeRobotWriter.create(root, fps=20, features=features, robot_type=robot_type) as w:
        with w.episode(task="wave") as ep:
            for i in range(n):
                state, action = q[i].astype(np.float32), q[i + 1].astype(np.float32)
                ep.add_frame(
                    {
                        "observation.images.top": np.zeros((16, 16, 3), np.uint8),
                        "observation.state": state,
                        "action": action,
                    }
                )
    return root


def test_a_known_robot_without_a_description_keeps_its_natives_with_the_reason(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "kuka", "kuka_iiwa", [f"iiwa_joint_{i}" for i in range(1, 8)])
    source = LeRobotSource()
    [ref] = source.discover(root)
    [ep] = prepared(source.read(ref))
    assert ep.embodiment == "kuka_iiwa" and not ep.mask.any()
    assert ep.natives.state is not None and ep.natives.state.shape[1] == 7
    assert "no kinematic description for robot_type 'kuka_iiwa' (embodiment 'kuka_iiwa' has none)" in " ".join(
        ep.tier_reasons
    )


def test_fk_runs_once_per_episode_not_per_frame(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 40- and a 160-frame episode cost the same number of FK calls (each over every frame at once)."""
    names = ["main_shoulder_pan", "main_shoulder_lift", "main_elbow_flex", "main_wrist_flex", "main_wrist_roll",
             "main_gripper"]  # fmt: skip
    calls: list[int] = []
    forward = KinematicModel.forward

    def counting(self: KinematicModel, q: np.ndarray, links, base=None) -> np.ndarray:  # type: ignore[no-untyped-def]
        calls.append(len(q))
        return forward(self, q, links, base)

    monkeypatch.setattr(KinematicModel, "forward", counting)
    per_episode = []
    for n in (40, 160):
        root = _dataset(tmp_path / f"so100_{n}", "so100", names, n, 30.0)  # lerobot < 0.2 SO-100: degrees
        source = LeRobotSource()
        [ref] = source.discover(root)
        calls.clear()
        [ep] = prepared(source.read(ref))
        assert ep.embodiment == "so100" and ep.mask.any() and ep.tier is not QualityTier.actionless, ep.tier_reasons
        per_episode.append(list(calls))
    assert len(per_episode[0]) == len(per_episode[1]) == 2  # the state's wrist, the action's commanded wrist
    assert per_episode[1] == [160, 160]


def test_lerobot_followers_default_to_range_m100_100_and_use_degrees_is_an_option(tmp_path: Path) -> None:
    """so100 (lerobot < 0.2) recorded degrees; so100_follower records RANGE_M100_100 unless use_degrees=True. Values
    of a follower's size (tens): not radians by their size, degrees and -100..100 fit alike, the recorder's default
    decides."""
    names = [f"{m}.pos" for m in ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")]
    root = _dataset(tmp_path / "so100_follower", "so100_follower", names, amplitude=30.0)
    [ref] = LeRobotSource().discover(root)
    [ep] = prepared(LeRobotSource().read(ref))
    assert not ep.mask.any() and "RANGE_M100_100" in " ".join(ep.tier_reasons)
    [ep] = prepared(LeRobotSource({"joint_space": {"units": "deg"}}).read(ref))
    assert ep.embodiment == "so100" and ep.mask.any() and ep.tier is not QualityTier.actionless


def test_aloha_arms_face_each_other_with_the_left_one_on_the_left(tmp_path: Path) -> None:
    """ALOHA state names (left_waist .. right_gripper, the gripper normalized 1 = open as ACT records it), both arms
    reaching to the middle of the table: the left wrist stays left of the right one and between the two bases."""
    joints = ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate", "gripper")
    names = [f"{side}_{j}" for side in ("left", "right") for j in joints]
    n = 60
    t = np.linspace(0, 1, n + 1)[:, None]
    arm = np.array([0.0, -0.2, 0.3, 0.0, 0.6, 0.0]) + 0.15 * np.sin(2 * np.pi * t) * [0.5, 1, -1, 0.2, 0.5, 0.3]
    grip = 0.5 + 0.4 * np.cos(2 * np.pi * t)
    q = np.concatenate([arm, grip, arm * [-1, 1, 1, -1, 1, -1], grip], axis=1).astype(np.float32)
    vec = FeatureSpec(dtype="float32", shape=(len(names),), names=names)
    cam = FeatureSpec(dtype="video", shape=(16, 16, 3), names=list(IMAGE_NAMES))
    root = tmp_path / "aloha_sim"
    with LeRobotWriter.create(
        root,
        fps=50,
        features={"observation.images.top": cam, "observation.state": vec, "action": vec},
        robot_type="aloha",
    ) as w:
        with w.episode(task="transfer the cube") as ep:
            for i in range(n):
                ep.add_frame(
                    {
                        "observation.images.top": np.zeros((16, 16, 3), np.uint8),
                        "observation.state": q[i],
                        "action": q[i + 1],
                    }
                )
    [ref] = LeRobotSource().discover(root)
    [ep] = prepared(LeRobotSource().read(ref))
    assert ep.embodiment == "aloha" and ep.tier is not QualityTier.actionless, ep.tier_reasons
    left, right = ep.state[:, 0:3], ep.state[:, 25:28]
    assert (left[:, 1] > right[:, 1]).all() and (np.abs(ep.state[:, [1, 26]]) < 0.469).all()
    assert np.allclose(ep.state[:, [9, 34]].min(), 0.1, atol=0.02) and ep.state[:, [9, 34]].max() > 0.85


@pytest.mark.parametrize("style", ["j{}", "joint_{}", "motor_{}", "J{}.pos"])
def test_so100_joints_named_by_lerobots_motor_ids_reach_fk(tmp_path: Path, style: str) -> None:
    """lerobot's motor table (shoulder_pan = 1 .. gripper = 6) names the joints: `j3`, `joint_3`, `motor_3` read as
    elbow_flex; a 0-based numbering (GR00T's `motor_0` ..) is column counting and never resolves so."""
    root = _dataset(tmp_path / f"so100_{style[:2]}", "so100", [style.format(i) for i in range(1, 7)], 40, 30.0)
    [ref] = LeRobotSource().discover(root)
    [ep] = prepared(LeRobotSource().read(ref))
    assert ep.embodiment == "so100" and ep.mask.any() and ep.tier is not QualityTier.actionless, ep.tier_reasons
    counted = _dataset(tmp_path / f"so100_0{style[:2]}", "so100", [style.format(i) for i in range(6)], 40, 30.0)
    [ref] = LeRobotSource().discover(counted)
    [ep] = prepared(LeRobotSource().read(ref))
    assert not ep.mask.any() and "not found by name" in " ".join(ep.tier_reasons)


# WangzyNicole/Bimanual-Cloth-Manipulation arm1.json / arm2.json @ 97fde6e: (range_min, range_max) per motor, ids 1..6
ARM_FILES = {
    "right": ((737, 3483), (875, 3185), (871, 3145), (876, 3148), (0, 4095), (1425, 2913)),
    "left": ((687, 3324), (907, 3220), (912, 3133), (801, 3205), (0, 4095), (1457, 2873)),
}
MOTORS = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")


def test_a_real_two_arm_so101_set_named_arm1_j1_reaches_fk(tmp_path: Path) -> None:
    """The real bimanual SO-101 set's columns `arm1_j1` .. `arm2_j6` (64 recorded rows of its episode 0, raw encoder
    steps) resolve by the motor ids once the sides are given (arm1 right, as the layout's tests read it), with its
    own calibration files: both wrists and both grippers by FK, no joint_map."""
    case = load_case(Path(__file__).parents[2] / "fixtures/lerobot_layouts/so101_bimanual_chunk_index_v21")
    root = materialize(case, tmp_path / "ds", episodes=1).root
    calibration = {
        side: {m: {"range_min": a, "range_max": b} for m, (a, b) in zip(MOTORS, ranges, strict=True)}
        for side, ranges in ARM_FILES.items()
    }
    source = LeRobotSource({"joint_space": {"sides": {"arm1": "right", "arm2": "left"}, "calibration": calibration}})
    [ref] = source.discover(root)
    [ep] = prepared(source.read(ref))
    assert ep.embodiment == "so101_bimanual" and ep.tier is QualityTier.high, ep.tier_reasons
    for hand in (0, 1):
        assert ep.mask[hand_dims(hand, WRIST_POS)].all() and ep.mask[hand_dims(hand, GRIPPER)].all()
    assert any("ticks" in n for n in ep.notes)
