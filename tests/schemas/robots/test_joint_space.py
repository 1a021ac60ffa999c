"""The joint-space registry as data: native-name variants real datasets use resolve to one joint, every registered
spec names joints and links its description has, and bad config fails on the field.

Two-arm rigs from one-armed robots (schemas/robots/joint_space.py): `pair` places two copies of the lone arm either
side of the canonical origin, each reaching where the lone arm reaches, the left one on +y; lerobot's two-arm motor
names find their joints; the PiPER spacing is the one AgileX's own two-arm rig file gives.
"""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from ingest.kinematics import load_model
from ingest.kinematics.invariants import spec_problems
from schemas.robots.joint_space import (
    PIPER_BIMANUAL,
    PIPER_SPACING,
    SO100_BIMANUAL,
    SO101_BIMANUAL,
    ArmMap,
    GripperMap,
    JointMap,
    JointSpaceOptions,
    JointSpaceSpec,
    load_joint_space,
    name_key,
)
from schemas.robots.registry import JOINT_SPACE, default_registry
from tests.schemas.robots.urdf import joints


@pytest.mark.parametrize(
    ("native", "joint", "prefixes"),
    [
        ("kLeftShoulderPitch", "left_shoulder_pitch_joint", ("left",)),  # Unitree (unitree_lerobot constants.py)
        ("kLeftWristyaw", "left_wrist_yaw_joint", ("left",)),  # Unitree's own typo (its episode json joint_names)
        ("kLeftShoulderPitch.q", "left_shoulder_pitch_joint", ("left",)),
        ("left_shoulder_pitch", "left_shoulder_pitch_joint", ("left",)),
        ("l_shoulder_pitch", "left_shoulder_pitch_joint", ("left",)),  # robosuite / RoboCasa GR1 joint names
        ("shoulder_pan.pos", "shoulder_pan", ("",)),  # lerobot >= 0.2 motor features (so101_follower)
        ("main_shoulder_pan", "shoulder_pan", ("",)),  # lerobot < 0.2 (arm `main` + motor)
        ("left_waist", "waist", ("left",)),  # ALOHA
        ("right_wrist_rotate", "wrist_rotate", ("right",)),
        ("shoulder_pan_joint", "shoulder_pan_joint", ("",)),  # UR
        ("joint_1.pos", "joint1", ("",)),  # lerobot PiPER plugins (`joint_1.pos` .. `joint_6.pos`), URDF joint1
        ("left_shoulder_pan.pos", "shoulder_pan", ("left",)),  # lerobot bi_so100_follower.py `_motors_ft`
        ("shoulder_pan_left.pos", "shoulder_pan", ("left",)),  # the real dual_so101 layout: the side as a suffix
    ],
)
def test_name_variants_resolve_to_the_joint(native: str, joint: str, prefixes: tuple[str, ...]) -> None:
    assert name_key(native) in JointMap(urdf=joint).keys(prefixes)


@pytest.mark.parametrize(
    ("native", "joint", "prefixes"),
    [
        ("kRightShoulderPitch", "left_shoulder_pitch_joint", ("left",)),  # the other arm
        ("right_waist", "waist", ("left",)),
        ("shoulder_lift.pos", "shoulder_pan", ("",)),
        ("waist", "waist", ("left",)),  # an unsided name never picks an arm of a two-armed robot
        ("joint_1.pos", "joint2", ("",)),  # the number is the joint's name: never stripped to `1`
        ("shoulder_pan_right.pos", "shoulder_pan", ("left",)),
    ],
)
def test_other_joints_do_not_resolve(native: str, joint: str, prefixes: tuple[str, ...]) -> None:
    assert name_key(native) not in JointMap(urdf=joint).keys(prefixes)


def test_every_registered_spec_names_joints_and_links_its_descriptions_have() -> None:
    """The check a job spec's declared robot is held to as well (`ingest.kinematics.invariants`), and the hands."""
    registry = default_registry()
    for name, spec in JOINT_SPACE.items():
        assert registry.get(name).joint_space == spec, name
        model = load_model(spec.description)
        assert spec_problems(spec, model) == [], name
        for arm in spec.arms:
            if arm.hand is not None:
                hand = arm.hand.spec()
                assert hand.mount_on(spec.description).arm == spec.description, name
                assert hand.side == arm.side
                assert set(hand.native_order) <= set(load_model(hand.description).joint_names)


def test_bad_config_fails_on_the_field() -> None:
    with pytest.raises(ValidationError, match="units"):
        JointSpaceOptions(units="grad")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="range_min"):
        JointSpaceOptions(calibration={"shoulder_pan": {"range_max": 10}})  # type: ignore[dict-item]
    with pytest.raises(ValidationError, match="closed and open"):
        GripperMap(joint=JointMap(urdf="g"), closed_q=0.1, open_q=0.1, source="x")
    arm = ArmMap(side="left", joints=(JointMap(urdf="a"),), link="l")
    with pytest.raises(ValidationError, match="distinct sides"):
        JointSpaceSpec(description="d", arms=(arm, arm), source="x")
    with pytest.raises(ValidationError, match="extra"):
        JointSpaceOptions(unit="deg")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="sides"):
        JointSpaceOptions(sides={"arm1": "middle"})  # type: ignore[dict-item]


def test_a_calibration_per_arm_is_keyed_by_side_and_motor() -> None:
    """lerobot writes one calibration file per arm (`<id>_left.json`, `<id>_right.json`, bi_so100_follower.py)."""
    arm = {"shoulder_pan": {"id": 1, "drive_mode": 0, "homing_offset": 0, "range_min": 700, "range_max": 3400}}
    opts = JointSpaceOptions(calibration={"left": arm, "right": arm})
    assert set(opts.calibration or {}) == {"left_shoulder_pan", "right_shoulder_pan"}
    flat = JointSpaceOptions(calibration=arm)
    assert set(flat.calibration or {}) == {"shoulder_pan"}


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
