"""ARX R5 / X5 arms (`arx_r5a.urdf` / `arx_x5a.urdf`, ARXroboticsX/ARX_Model @ 7438644) and the ARX Lift-2 of
InternData-A1 (two R5a arms): at q = 0 the arm is folded with the flange ahead of the base facing forward, the elbow
unfolds the arm by the law of cosines of its two links, the fingers open by the sum of their joints, and a dataset in
the maker's converter layout (`states.left_joint.position` = `left_joint_0` .. `_5`, robot_type `ARX Lift-2`) reaches
FK with each wrist where the converter's own arm-base placement puts it. The pinocchio cross-check, the zero pose
against the product of the origins and the reach bound come from the glob tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adapters.lerobot.adapter import LeRobotSource
from ingest.kinematics import load_model
from ingest.lerobot.writer import LeRobotWriter
from schemas.canonical import WRIST_POS, hand_dims
from schemas.lerobot_features import IMAGE_NAMES, FeatureSpec
from schemas.tiers import QualityTier
from tests.fixtures.offline import prepared

ARMS = ("arx_r5a", "arx_x5a")
UPPER = 0.264  # joint3's origin on link2 (both files)
FORE = {"arx_r5a": (0.245, -0.06), "arx_x5a": (0.245, -0.056)}  # joint4's origin on link3 (x, z)
# InternDataEngine@cf8b043 lmdb2lerobot_lift2_a1.py:382-385: each arm base in the robot frame (unrotated)
BASES = {"left": (0.163030156, 0.248420062, 0.694000185), "right": (0.163030139, -0.248420087, 0.694000185)}


def _at(name: str, q: dict[str, float], links: list[str]) -> np.ndarray:
    m = load_model(name)
    return m.forward(m.assemble({j: np.array([v]) for j, v in q.items()}, 1), links)[0]


@pytest.mark.parametrize("name", ARMS)
def test_at_zero_the_arm_is_folded_with_the_flange_ahead_facing_forward(name: str) -> None:
    shoulder, elbow, flange, f7, f8 = _at(name, {}, ["link2", "link3", "link6", "link7", "link8"])
    assert elbow[0, 3] == pytest.approx(shoulder[0, 3] - UPPER, abs=1e-9)  # the upper arm points back
    assert 0.09 < flange[0, 3] < 0.11 and 0.15 < flange[2, 3] < 0.17 and abs(flange[1, 3]) < 1e-3
    assert flange[:3, 0] @ [1, 0, 0] > 1 - 1e-8  # link6's x, the fingers' direction, points forward
    mid = (f7[:3, 3] + f8[:3, 3]) / 2 - flange[:3, 3]
    assert mid @ [1, 0, 0] == pytest.approx(0.08657, abs=1e-4)


@pytest.mark.parametrize("name", ARMS)
@pytest.mark.parametrize("angle", [0.5, 1.2, 2.0])
def test_the_elbow_unfolds_the_arm_by_the_law_of_cosines(name: str, angle: float) -> None:
    """Shoulder (link2) to wrist (link4) across the elbow (link3): 0.264 m and the forearm's 0.2522 / 0.2513 m meet
    at 13.8 / 12.9 deg at zero; +joint3 opens that angle one to one, whatever joint1 and joint2 do."""
    x, z = FORE[name]
    b = np.hypot(x, z)
    folded = np.arctan2(abs(z), x)
    s, w = _at(name, {"joint3": angle, "joint1": 0.4, "joint2": 0.3}, ["link2", "link4"])[:, :3, 3]
    want = np.sqrt(UPPER**2 + b**2 - 2 * UPPER * b * np.cos(folded + angle))
    assert np.linalg.norm(w - s) == pytest.approx(want, abs=1e-4)  # 5-digit 3.1416 in the files


@pytest.mark.parametrize("name", ARMS)
def test_the_fingers_open_by_the_sum_of_their_joints(name: str) -> None:
    """joint7 slides link7 along +y of link6, joint8 link8 along -y: the gap is 0.0498 m plus both joints."""
    gap0 = np.linalg.norm(np.subtract(*_at(name, {}, ["link7", "link8"])[:, :3, 3]))
    gap = np.linalg.norm(np.subtract(*_at(name, {"joint7": 0.03, "joint8": 0.01}, ["link7", "link8"])[:, :3, 3]))
    assert gap0 == pytest.approx(0.0498, abs=1e-4) and gap - gap0 == pytest.approx(0.04, abs=1e-6)


def _lift2_dataset(root: Path, q: np.ndarray) -> Path:
    """A Lift-2 recording in InternData-A1's layout (lmdb2lerobot_lift2_a1.py @ cf8b043 FEATURES: per-side joint
    vectors `left_joint_0` .. `_5`, a gripper `left_gripper_0`; robot_type `ARX Lift-2`)."""
    n = len(q) - 1
    cam = FeatureSpec(dtype="video", shape=(16, 16, 3), names=list(IMAGE_NAMES))
    features = {"images.rgb.head": cam}
    for group in ("states", "actions"):
        for side in ("left", "right"):
            features[f"{group}.{side}_joint.position"] = FeatureSpec(
                dtype="float32", shape=(6,), names=[f"{side}_joint_{i}" for i in range(6)]
            )
            features[f"{group}.{side}_gripper.position"] = FeatureSpec(
                dtype="float32", shape=(1,), names=[f"{side}_gripper_0"]
            )
    with LeRobotWriter.create(root, fps=30, features=features, robot_type="ARX Lift-2") as w:
        with w.episode(task="hand over") as ep:
            for t in range(n):
                frame: dict[str, np.ndarray] = {"images.rgb.head": np.zeros((16, 16, 3), np.uint8)}
                for group, k in (("states", t), ("actions", t + 1)):
                    for s, side in enumerate(("left", "right")):
                        frame[f"{group}.{side}_joint.position"] = q[k, 6 * s : 6 * s + 6].astype(np.float32)
                        frame[f"{group}.{side}_gripper.position"] = np.array([0.02], np.float32)
                ep.add_frame(frame)
    return root


def test_an_interndata_lift2_recording_reaches_each_wrist_where_the_makers_converter_puts_it(tmp_path: Path) -> None:
    """Both arms reaching forward and in: the 0-based names are read one shift up (the converter's own q[:6]),
    each link6 lands at the converter's arm base + FK (its ee_to_robot_pose), in the canonical frame whose origin is
    the bases' midpoint; the left wrist stays left of the right one."""
    t = np.linspace(0, 1, 31)[:, None]
    arm = np.array([0.0, 0.6, 1.0, -0.5, 0.0, 0.0]) + 0.2 * np.sin(2 * np.pi * t) * [0.3, 0.5, 0.5, 0.3, 0.2, 0.2]
    yaw = np.array([0.3, 0, 0, 0, 0, 0])  # each arm turned outwards a little
    q = np.concatenate([arm + yaw, arm - yaw], axis=1)
    root = _lift2_dataset(tmp_path / "lift2", q)
    [ref] = LeRobotSource().discover(root)
    [ep] = prepared(LeRobotSource().read(ref))
    assert ep.embodiment == "arx_lift2" and ep.tier is not QualityTier.actionless, ep.tier_reasons
    assert any("left_joint_0 = joint1" in n for n in ep.notes), ep.notes
    m = load_model("arx_r5a")
    mid = np.mean([BASES["left"], BASES["right"]], axis=0)
    for hand, side in ((0, "left"), (1, "right")):
        qs = q[0, 6 * hand : 6 * hand + 6]
        link6 = m.forward(m.assemble({f"joint{k + 1}": np.array([qs[k]]) for k in range(6)}, 1), ["link6"])[0, 0]
        want = np.asarray(BASES[side]) + link6[:3, 3] - mid
        np.testing.assert_allclose(ep.state[0, hand_dims(hand, WRIST_POS)], want, atol=2e-5)  # float32 joints
    left, right = ep.state[:, hand_dims(0, WRIST_POS)], ep.state[:, hand_dims(1, WRIST_POS)]
    assert (left[:, 1] > right[:, 1]).all() and (left[:, 0] > 0).all() and (right[:, 0] > 0).all()
