"""Tien Kung Pro (`tienkung_pro.urdf`, X-Humanoid TienKung_URDF pro humanoid.urdf), the chain RoboMIND's Tien Kung
joints are read on: the frames and joint order RoboMIND's own FK names, the right arm as the left's mirror image (what
the synthetic fixture and the `tienkung` wrist frame rely on), what the shoulder joints do to a hanging arm, and the
wrist axes against the Inspire hand's finger origins in the maker's file. The pinocchio cross-check, the zero pose
against the product of the origins and the per-joint axis turns come from the glob tests and test_humanoids.py."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.frames import offset_matrix
from ingest.kinematics import load_model
from schemas.robots.registry import JOINT_SPACE

# Open-X-Humanoid/RoboMIND-dataset-utils eepose/joint2pose.py @ ff94d938, _MODEL_FRAME_CONFIG["tiangong1pro"]
JOINT2POSE = {
    "base": "pelvis",
    "left_tcp": "L_hand_base_link",
    "right_tcp": "R_hand_base_link",
    "left": ["left_joint1", "shoulder_roll_l_joint", "left_joint3", "elbow_l_joint", "left_joint5", "left_joint6",
             "left_joint7"],
    "right": ["right_joint1", "shoulder_roll_r_joint", "right_joint3", "elbow_r_joint", "right_joint5",
              "right_joint6", "right_joint7"],
}  # fmt: skip
MIRROR = np.diag([1.0, -1.0, 1.0])  # y -> -y: pelvis x forward, y left


def _model():
    return load_model("tienkung_pro")


def _fk(q_left: np.ndarray, q_right: np.ndarray, links: list[str]) -> np.ndarray:
    m = _model()
    named = {j: q_left[:, i] for i, j in enumerate(JOINT2POSE["left"])}
    named |= {j: q_right[:, i] for i, j in enumerate(JOINT2POSE["right"])}
    return m.forward(m.assemble(named, len(q_left)), links, base="pelvis")


def test_the_spec_reads_the_frames_and_joints_robominds_fk_reads() -> None:
    spec, m = JOINT_SPACE["tienkung"], _model()
    assert (spec.description, spec.base_link) == ("tienkung_pro", JOINT2POSE["base"])
    assert "TienKung_URDF/pro_urdf_publish/pro_urdf_publish/urdf/humanoid.urdf" in m.source
    assert m.dof == 14 and set(m.joint_names) == set(JOINT2POSE["left"]) | set(JOINT2POSE["right"])
    for arm in spec.arms:
        assert [j.urdf for j in arm.joints] == JOINT2POSE[arm.side]
        assert arm.link == JOINT2POSE[f"{arm.side}_tcp"] and arm.link in m.links
        assert [j.native for j in arm.joints] == [(f"arm_joint{i}",) for i in range(1, 8)]


def test_the_right_arm_is_the_left_mirrored_with_every_joint_negated() -> None:
    """humanoid.urdf: right limits are the left's negated and swapped, and q_right = -q_left puts every right arm link
    at the mirror image of its left twin (to 1e-12 m) with the hand's x and y axes mirrored (z flips: a reflection)."""
    m = _model()
    np.testing.assert_allclose(m.lower[7:], -m.upper[:7], atol=0)
    np.testing.assert_allclose(m.upper[7:], -m.lower[:7], atol=0)
    q = np.random.default_rng(7).uniform(m.lower[:7], m.upper[:7], size=(64, 7))
    left = ["shoulder_roll_l_link", "elbow_l_link", "left_link5", "left_link7", "L_hand_base_link"]
    right = ["shoulder_roll_r_link", "elbow_r_link", "right_link5", "right_link7", "R_hand_base_link"]
    p = _fk(q, -q, left + right)
    np.testing.assert_allclose(p[:, :5, :3, 3] @ MIRROR, p[:, 5:, :3, 3], atol=1e-12)
    np.testing.assert_allclose(MIRROR @ p[:, 4, :3, :2], p[:, 9, :3, :2], atol=1e-12)
    assert np.abs(p[:, 4, :3, 3] - p[:, 9, :3, 3]).max() > 0.3  # not vacuous: the hands are apart


def test_at_zero_the_arms_hang_and_joint1_negative_lifts_the_left_arm_forward() -> None:
    """q = 0: each hand base 0.58 m below its shoulder and on its own side; left_joint1 turns about the pelvis's +y
    (left_link0 is pitched 1.3083 rad about y, then yawed pi/2): -pi/2 swings the left hand forward, shoulder high."""
    zero = np.zeros((1, 7))
    p = _fk(zero, zero, ["shoulder_roll_l_link", "L_hand_base_link", "R_hand_base_link"])[0, :, :3, 3]
    assert p[0, 2] - p[1, 2] > 0.5 and abs(p[1, 0] - p[0, 0]) < 1e-6  # 7-digit 1.5707963 in the mount
    assert p[1, 1] > 0.3 and p[2, 1] < -0.3
    lifted = _fk(np.array([[-np.pi / 2, 0, 0, 0, 0, 0, 0]]), zero, ["L_hand_base_link"])[0, 0, :3, 3]
    assert lifted[0] > 0.5 and abs(lifted[2] - p[0, 2]) < 0.2, lifted


@pytest.mark.parametrize("side", ["left", "right"])
def test_the_wrist_looks_along_the_fingers_with_y_out_of_the_palm(side: str) -> None:
    """humanoid.urdf puts the Inspire middle finger's proximal joint at (0.00028533, -0.1371, +-0.01295) of the hand
    base, and every finger flexes about its -z (left) / +z under a ~pi roll (right), which swings a finger lying along
    -y towards -x: the palm faces the base's -x, the thumb base (-0.01696, -0.0691, +-0.02045) sits on that side."""
    arm = next(a for a in JOINT_SPACE["tienkung"].arms if a.side == side)
    wrist = offset_matrix(arm.link_from_wrist)[:3, :3]
    s = 1.0 if side == "left" else -1.0
    middle, thumb = np.array([0.00028533, -0.1371, s * 0.01295]), np.array([-0.01696, -0.0691, s * 0.02045])
    assert wrist[:, 2] @ (middle / np.linalg.norm(middle)) > 0.99
    assert wrist[:, 1] @ np.array([-1.0, 0.0, 0.0]) > 0.999 and wrist[:, 1] @ thumb > 0
    assert np.isclose(np.linalg.det(wrist), 1.0)
