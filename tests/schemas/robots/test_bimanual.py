"""Two-arm rigs from one-armed robots (schemas/robots/bimanual.py): `pair` places two copies of the lone arm either
side of the canonical origin, each reaching where the lone arm reaches, the left one on +y; lerobot's two-arm motor
names find their joints; the PiPER spacing is the one AgileX's own two-arm rig file gives."""

from __future__ import annotations

import numpy as np
import pytest

from schemas.robots.bimanual import PIPER_BIMANUAL, PIPER_SPACING, SO100_BIMANUAL, SO101_BIMANUAL
from schemas.robots.joint_space import JointSpaceSpec, load_joint_space, name_key
from tests.schemas.robots.urdf import joints

ONE = load_joint_space().robots
RIGS = [(ONE["so101"], SO101_BIMANUAL), (ONE["so100"], SO100_BIMANUAL), (ONE["piper"], PIPER_BIMANUAL)]


@pytest.mark.parametrize(("one", "two"), RIGS, ids=["so101", "so100", "piper"])
def test_each_arm_is_the_lone_arm_moved_sideways(one: JointSpaceSpec, two: JointSpaceSpec) -> None:
    """Any point of an arm's base frame lands where the lone arm puts it, shifted by the spacing along y (the SO arms
    are turned by +90 deg about z, the PiPER not at all)."""
    lone = one.canonical_from_base.matrix()
    points = np.c_[np.random.default_rng(0).normal(size=(5, 3)), np.ones(5)].T  # in an arm's base frame
    spacing = {a.side: a.base_from_arm.translation[1] for a in two.arms}
    assert spacing["left"] > 0 and spacing["right"] == -spacing["left"]
    for arm in two.arms:
        moved = arm.base_from_arm.matrix() @ points
        np.testing.assert_allclose(
            moved[:3], (lone @ points)[:3] + np.array([[0.0], [spacing[arm.side]], [0.0]]), atol=1e-12
        )
        # the rest of the arm is the lone arm's: chain, flange, wrist frame, gripper
        assert arm.model_dump(exclude={"side", "prefixes", "base_from_arm"}) == one.arms[0].model_dump(
            exclude={"side", "prefixes", "base_from_arm"}
        )
        assert arm.prefixes == (arm.side,)
    assert two.description == one.description and two.units == one.units and one.source in two.source
    assert two.canonical_from_base.matrix().tolist() == np.eye(4).tolist()  # each arm carries its own placement


def test_lerobots_two_arm_motor_names_find_their_joints() -> None:
    """lerobot BiSO100Follower (src/lerobot/robots/bi_so100_follower/bi_so100_follower.py @ 183b2ca0) prefixes each
    arm's motor features `left_` / `right_`: `left_shoulder_pan.pos` .. `right_gripper.pos`."""
    for arm in SO101_BIMANUAL.arms:
        keys = set().union(*(j.keys(arm.prefixes) for j in arm.joints))
        for motor in ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll"):
            assert name_key(f"{arm.side}_{motor}.pos") in keys
            assert name_key(f"{'right' if arm.side == 'left' else 'left'}_{motor}.pos") not in keys
        assert arm.gripper is not None
        assert name_key(f"{arm.side}_gripper.pos") in arm.gripper.joint.keys(arm.prefixes)


def test_piper_spacing_is_the_makers_two_arm_rig() -> None:
    """agilexrobotics/mobile_aloha_sim aloha_new.urdf @ 3767e570 (agilex_cobot_magic.urdf): fl/fr_base_joint."""
    by_name = joints("agilex_cobot_magic")
    assert by_name["fl_base_joint"].origin[1, 3] == PIPER_SPACING == -by_name["fr_base_joint"].origin[1, 3]
