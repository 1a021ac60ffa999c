"""The invariants every joint-space robot is held to (`ingest.kinematics.invariants`): the shipped robots pass them,
and a spec that names what its description lacks, or a wrist offset no chain reaches, is named with its field."""

from __future__ import annotations

import pytest

from ingest.kinematics import load_model
from ingest.kinematics.invariants import reach, reach_problems, spec_problems
from schemas.robots.joint_space import ArmMap, JointMap, JointSpaceSpec
from schemas.robots.registry import JOINT_SPACE
from schemas.transform import RigidTransform


@pytest.mark.parametrize("name", sorted(JOINT_SPACE))
def test_every_shipped_robot_keeps_its_wrists_within_reach(name: str) -> None:
    spec = JOINT_SPACE[name]
    model = load_model(spec.description)
    assert spec_problems(spec, model) == []
    assert reach_problems(spec, model) == []


def _so101(**arm: object) -> JointSpaceSpec:
    base = JOINT_SPACE["so101"]
    return base.model_copy(update={"arms": (base.arms[0].model_copy(update=arm),)})


def test_names_the_description_lacks_are_each_a_problem_of_their_field() -> None:
    model = load_model("so101")
    joints = (*JOINT_SPACE["so101"].arms[0].joints, JointMap(urdf="elbow_twist"))
    assert [f for f, _ in spec_problems(_so101(joints=joints), model)] == ["right.joints"]
    assert [f for f, _ in spec_problems(_so101(link="tool"), model)] == ["right.link"]
    bad_base = JOINT_SPACE["so101"].model_copy(update={"base_link": "table"})
    assert [f for f, _ in spec_problems(bad_base, model)] == ["base_link"]


def test_a_joint_that_does_not_move_the_wrist_link_is_named() -> None:
    # the gripper joint moves the jaw, not the wrist-roll output the arm's wrist is
    joints = (*JOINT_SPACE["so101"].arms[0].joints, JointMap(urdf="gripper"))
    [(field, why)] = spec_problems(_so101(joints=joints), load_model("so101"))
    assert field == "right.joints" and "gripper" in why and "not on its chain" in why


def test_the_reach_bound_adds_the_wrist_offset() -> None:
    model = load_model("so101")
    ok = _so101()
    far = _so101(link_from_wrist=RigidTransform(translation=(0.0, 0.0, 0.2)))
    assert reach(model, "base", far.arms[0]) == pytest.approx(reach(model, "base", ok.arms[0]) + 0.2)
    assert reach_problems(far, model) == []  # 0.2 m more is still within its (larger) bound
    arm = ArmMap(side="right", joints=(JointMap(urdf="shoulder_pan"),), link="base")
    assert reach(model, "base", arm) == 0.0  # the base itself: no joint between
