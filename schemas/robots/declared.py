"""A robot a job spec declares (issue 55 item 2: a team adds its robot without forking): its URDF, the joints of
each arm in the recording's vector, units, the end-effector link, the gripper's range, each arm's base pose. It
becomes a `JointSpaceSpec` and an `Embodiment` registered for that job only (`registry_with`), never written into
the package; canonicalization runs the same FK path as for the shipped robots (`ingest.canonical.joint_space`).

The URDF's checks (the file exists, the names are in it, the wrists within reach) need the kinematics and are the
job spec's (`jobs.spec_robots`); the fields' own checks are here."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.robots.joint_space import ArmMap, GripperMap, JointMap, JointSpaceSpec, Side
from schemas.robots.registry import Effector, Embodiment, EmbodimentRegistry, default_registry
from schemas.transform import RigidTransform

DeclaredUnit = Literal["rad", "deg"]


class DeclaredGripper(BaseModel):
    """A parallel gripper: a joint of the URDF or a column of the recording, linear from `closed` to `open`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    joint: str | None = Field(None, description="its joint in the URDF (its value in the robot's units)")
    column: str | None = Field(None, description="or the recording's column that holds it (values as recorded)")
    open: float = Field(description="the value when fully open")
    closed: float = Field(description="the value when closed")
    tolerance: float = Field(
        0.05,
        ge=0,
        description="how far past open..closed a value may lie, as a share of the range, before the "
        "episode is refused naming the column (noise at the ends is clipped)",
    )

    @model_validator(mode="after")
    def _one(self) -> DeclaredGripper:
        if (self.joint is None) == (self.column is None):
            raise ValueError("give the gripper's joint (in the URDF) or its column (in the recording), one of them")
        if self.open == self.closed:
            raise ValueError(f"open and closed are both {self.open}: a range with no width gives no opening")
        return self


class DeclaredArm(BaseModel):
    """One arm: its joints in the order the recording's state/action vector holds them, or by column name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    joints: tuple[str, ...] = Field((), description="URDF joint names in the order of the recording's vector")
    columns: dict[str, str] = Field({}, description="or: the recording's column name -> URDF joint name")
    eef_link: str = Field(min_length=1, description="the URDF link whose frame is this arm's wrist")
    gripper: DeclaredGripper | None = None
    base_pose: RigidTransform = Field(
        default_factory=RigidTransform.identity, description="where this arm's base sits in the robot's frame"
    )

    @model_validator(mode="after")
    def _joints(self) -> DeclaredArm:
        if bool(self.joints) == bool(self.columns):
            raise ValueError("give the arm's joints (in the vector's order) or its columns (name -> joint), one")
        names = list(self.joints or self.columns.values())
        if dup := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"joint(s) {dup} named twice")
        return self

    def urdf_joints(self) -> tuple[str, ...]:
        return self.joints or tuple(self.columns.values())


class DeclaredRobot(BaseModel):
    """A robot description given in a job spec (per source, or once in its `robots:` section)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    urdf: Path = Field(description="the URDF, relative to the spec file or absolute")
    units: DeclaredUnit = Field("rad", description="how the recording holds the arm joints: rad or deg")
    base_link: str | None = Field(None, description="the link the wrists are expressed in (unset: the URDF's root)")
    arms: dict[Side, DeclaredArm] = Field(min_length=1, max_length=2, description="left and/or right")
    source: str = Field("", description="filled by the job spec: the spec's path and the URDF's SHA-256")

    def joint_space(self) -> JointSpaceSpec:
        """The spec the FK path reads; the description is the URDF's absolute path (`ingest.kinematics.load_model`)."""
        arms = []
        for side, arm in self.arms.items():
            gripper = None
            if (g := arm.gripper) is not None:
                # read as a joint in the robot's units (`ingest.canonical.joint_space.gripper_opening`): the range
                # in radians, the opening linear between them as in the recording's own values
                to = math.radians if self.units == "deg" else float
                gripper = GripperMap(
                    joint=JointMap(urdf=g.joint or g.column or ""),
                    closed_q=to(g.closed),
                    open_q=to(g.open),
                    source=f"declared in the job spec ({self.source})",
                    range_tolerance=g.tolerance,
                )
            arms.append(
                ArmMap(
                    side=side,
                    joints=tuple(JointMap(urdf=j) for j in arm.urdf_joints()),
                    link=arm.eef_link,
                    base_from_arm=arm.base_pose,
                    prefixes=(side,) if len(self.arms) > 1 else ("",),
                    gripper=gripper,
                )
            )
        return JointSpaceSpec(
            description=str(self.urdf),
            base_link=self.base_link,
            units=self.units,
            arms=tuple(arms),
            source=self.source or f"declared in a job spec: {self.urdf}",
            unresolved="refuse",
        )

    def embodiment(self, name: str) -> Embodiment:
        return Embodiment(
            name=name,
            hands=tuple(self.arms),
            effector=Effector.gripper,
            offset_source=f"joint space: wrist by FK of {self.urdf} ({self.source})",
            description=f"declared in a job spec: {self.urdf}",
            joint_space=self.joint_space(),
        )


def registry_with(robots: Mapping[str, DeclaredRobot]) -> EmbodimentRegistry:
    """The shipped embodiments and the job's declared robots, each under its name (a shipped name is refused)."""
    registry = default_registry()
    for name, robot in robots.items():
        registry.register(robot.embodiment(name))
    return registry
