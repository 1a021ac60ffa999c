"""The joint-space registry as data: native-name variants real datasets use resolve to one joint, every registered
spec names joints and links its description has, and bad config fails on the field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ingest.kinematics import load_model
from ingest.kinematics.invariants import spec_problems
from schemas.robots.joint_space import ArmMap, GripperMap, JointMap, JointSpaceOptions, JointSpaceSpec, name_key
from schemas.robots.registry import JOINT_SPACE, default_registry


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
