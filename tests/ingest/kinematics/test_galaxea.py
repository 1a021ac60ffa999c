"""The Galaxea descriptions read physically and against the maker's files. R1 Pro (galaxea_r1pro.urdf, the maker's
urdf_r1pro_2025.urdf trimmed): the arms hang at zero, the two sides are mirror images, the torso's yaw turns both
shoulders about the vertical, its three pitch joints (+y, +y, -y) keep the chest upright when they cancel, the fingers
part as their joints open. R1 Lite (galaxea_r1lite.urdf): the wrist's z points at the fingers, the arms sit at +-0.335 m
of the chest. Both: every joint kept is the maker's, number for number (the maker's files are an awaited sample)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from ingest.frames import offset_matrix
from ingest.kinematics import load_model
from schemas.robots.registry import JOINT_SPACE
from tests.realdata import realdata

MODEL = load_model("galaxea_r1pro")
DESCRIPTIONS = Path(__file__).resolve().parents[3] / "schemas" / "robots" / "descriptions"


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


@pytest.mark.parametrize(
    ("ours", "maker", "joints"),
    [("galaxea_r1pro", "R1Pro/urdf_r1pro_2025.urdf", 26), ("galaxea_r1lite", "R1Lite/urdf_r1lite_2025.urdf", 23)],
)
def test_every_joint_is_the_makers_own(ours: str, maker: str, joints: int) -> None:
    """The transcription against the maker's file itself: every joint kept has the maker's type, parent, child,
    origin, axis and limits, number for number."""
    theirs = _joints(realdata(f"galaxea_urdf/{maker}"))
    kept = _joints(DESCRIPTIONS / f"{ours}.urdf")
    assert len(kept) == joints
    for name, joint in kept.items():
        assert name in theirs, name
        assert joint == theirs[name], name


@pytest.mark.parametrize("name", ["galaxea_r1pro", "galaxea_r1lite"])
def test_the_wrist_looks_at_its_fingers(name: str) -> None:
    """The canonical wrist's z (joint_space.yaml link_from_wrist) points from the gripper link to the fingers."""
    model, spec = load_model(name), JOINT_SPACE[name]
    lo, hi = model.lower, model.upper
    q = np.random.default_rng(0).uniform(lo, hi, size=(32, model.dof))
    q[:, [i for i, j in enumerate(model.joint_names) if "finger" in j]] = 0.0  # fingers shut: their midpoint centred
    for arm in spec.arms:
        s = arm.side
        links = [arm.link, f"{s}_gripper_finger_link1", f"{s}_gripper_finger_link2", f"{s}_arm_base_link"]
        poses = model.forward(q, links, base=spec.base_link)
        wrist = poses[:, 0] @ offset_matrix(arm.link_from_wrist)
        tips = (poses[:, 1, :3, 3] + poses[:, 2, :3, 3]) / 2 - wrist[:, :3, 3]
        np.testing.assert_allclose(
            np.einsum("ni,ni->n", wrist[:, :3, 2], tips / np.linalg.norm(tips, axis=1)[:, None]), 1, atol=1e-3
        )
        if name == "galaxea_r1lite":  # both arm bases on the chest, the canonical origin
            np.testing.assert_allclose(poses[0, 3, :3, 3], [0, 0.335 if s == "left" else -0.335, 0.12306], atol=1e-9)
