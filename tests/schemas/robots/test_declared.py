"""A declared robot's own fields (`schemas.robots.declared`): one way to name joints, a gripper range with width,
and the joint-space spec and embodiment it becomes, registered beside the shipped ones."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from schemas.robots.declared import DeclaredArm, DeclaredGripper, DeclaredRobot, registry_with

ARM = {"joints": ["a", "b"], "eef_link": "tool", "gripper": {"joint": "g", "open": 90, "closed": 0}}


def test_the_fields_refuse_what_gives_no_robot() -> None:
    with pytest.raises(ValidationError, match="no width"):
        DeclaredGripper(column="g", open=1, closed=1)
    with pytest.raises(ValidationError, match="one of them"):
        DeclaredGripper(open=1, closed=0)
    with pytest.raises(ValidationError, match="one"):
        DeclaredArm(joints=("a",), columns={"x": "a"}, eef_link="tool")
    with pytest.raises(ValidationError, match="named twice"):
        DeclaredArm(joints=("a", "a"), eef_link="tool")


def test_it_becomes_a_joint_space_embodiment_in_radians() -> None:
    robot = DeclaredRobot(urdf="/x/arm.urdf", units="deg", arms={"right": ARM}, source="spec s.yaml")
    spec = robot.joint_space()
    assert spec.description == "/x/arm.urdf" and spec.units == "deg"
    [arm] = spec.arms
    assert [j.urdf for j in arm.joints] == ["a", "b"] and arm.link == "tool"
    assert arm.gripper is not None and arm.gripper.open_q == pytest.approx(math.pi / 2)
    registry = registry_with({"acme": robot})
    assert registry.get("acme").joint_space == spec and "franka" in registry
    with pytest.raises(ValueError, match="already registered"):
        registry_with({"franka": robot})
