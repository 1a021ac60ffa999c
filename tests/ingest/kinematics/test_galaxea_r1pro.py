"""The Galaxea R1 Pro description read physically (galaxea_r1pro.urdf, the maker's urdf_r1pro_2025.urdf trimmed): the
arms hang at zero, the two sides are mirror images, the torso's yaw turns both shoulders about the vertical, its three
pitch joints (+y, +y, -y) keep the chest upright when they cancel, and the fingers part as their joints open."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from ingest.kinematics import load_model
from tests.realdata import realdata

MODEL = load_model("galaxea_r1pro")
OURS = Path(__file__).resolve().parents[3] / "schemas" / "robots" / "descriptions" / "galaxea_r1pro.urdf"


def _q(**values: float) -> np.ndarray:
    q = np.zeros((1, MODEL.dof))
    for name, v in values.items():
        q[0, MODEL.joint_names.index(name)] = v
    return q


def _pos(q: np.ndarray, *links: str) -> np.ndarray:
    return MODEL.forward(q, list(links), base="base_link")[0, :, :3, 3]


def test_at_zero_the_arms_hang_below_their_shoulders_mirrored() -> None:
    ls, rs, lg, rg = _pos(_q(), "left_arm_link1", "right_arm_link1", "left_gripper_link", "right_gripper_link")
    assert ls[1] > 0.1 and rs[1] < -0.1  # left shoulder on +y
    for shoulder, grip in ((ls, lg), (rs, rg)):
        assert 0.6 < shoulder[2] - grip[2] < 0.8  # the arm (0.72 m of z offsets) straight down
    # mirror images up to the maker's 1 mm asymmetries (0.025012 vs 0.023988, 0.035065 vs 0.035058)
    np.testing.assert_allclose(lg * [1, -1, 1], rg, atol=2e-3)


def test_torso_yaw_turns_both_shoulders_about_the_vertical() -> None:
    base = _pos(_q(), "left_arm_base_link")[0]
    turned = _pos(_q(torso_joint4=np.pi / 2), "left_arm_base_link")[0]
    axis = _pos(_q(), "torso_link4")[0]
    # +90 deg about +z: the left shoulder (+y of the yaw axis) goes to -x of it; height unchanged
    np.testing.assert_allclose(turned - axis, [-(base - axis)[1], (base - axis)[0], (base - axis)[2]], atol=1e-9)


def test_cancelling_torso_pitches_keep_the_chest_upright() -> None:
    """torso_joint1 and 2 pitch about +y, joint3 about -y: q1 + q2 - q3 = 0 leaves torso_link4 level."""
    q = _q(torso_joint1=0.9, torso_joint2=-1.4, torso_joint3=-0.5)
    chest = MODEL.forward(q, ["torso_link4"], base="base_link")[0, 0, :3, :3]
    np.testing.assert_allclose(chest, np.eye(3), atol=1e-9)
    forward = MODEL.forward(_q(torso_joint1=0.5), ["torso_link4"], base="base_link")[0, 0]
    assert forward[0, 3] > 0.3  # a positive first pitch leans the torso forward (+x)


def test_the_fingers_part_as_their_joints_open() -> None:
    gap = []
    for opening in (0.0, 0.025, 0.05):
        q = _q(left_gripper_finger_joint1=opening, left_gripper_finger_joint2=-opening)
        f1, f2 = _pos(q, "left_gripper_finger_link1", "left_gripper_finger_link2")
        gap.append(np.linalg.norm(f1 - f2))
    assert gap[0] < 0.03 and np.all(np.diff(gap) > 0.045)  # 2 x 0.025 m per step, faces 0.027 m apart when shut


def _joints(path: Path) -> dict[str, dict]:
    out = {}
    for j in ET.parse(path).getroot().iter("joint"):
        origin, axis, limit = j.find("origin"), j.find("axis"), j.find("limit")
        out[j.get("name")] = {
            "type": j.get("type"),
            "parent": j.find("parent").get("link"),
            "child": j.find("child").get("link"),
            "xyz": [float(v) for v in (origin.get("xyz") if origin is not None else "0 0 0").split()],
            "rpy": [float(v) for v in (origin.get("rpy") if origin is not None else "0 0 0").split()],
            "axis": None if axis is None or j.get("type") == "fixed" else [float(v) for v in axis.get("xyz").split()],
            "limit": [float(limit.get(k)) for k in ("lower", "upper")] if limit is not None else None,
        }
    return out


def test_every_joint_is_the_makers_own() -> None:
    """The transcription against the maker's file itself: every joint kept has the maker's type, parent, child,
    origin, axis and limits, number for number."""
    maker = _joints(realdata("galaxea_r1pro_urdf/urdf_r1pro_2025.urdf"))
    ours = _joints(OURS)
    assert len(ours) == 26
    for name, joint in ours.items():
        assert name in maker, name
        assert joint == maker[name], name
