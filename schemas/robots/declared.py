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
from typing import Literal, get_args

from pydantic import Field, field_validator, model_validator

from schemas.frozen import Frozen
from schemas.robots.joint_space import ArmMap, GripperMap, GripperUnit, JointMap, JointSpaceSpec, JointUnit, Side
from schemas.robots.registry import Effector, Embodiment, EmbodimentRegistry, default_registry
from schemas.transform import RigidTransform

# The arm joints' units a declaration may give, as the shipped robots' (`schemas.robots.joint_space.JointUnit`, read by
# `ingest.canonical.joint_units`): rad, deg, lerobot's RANGE_M100_100 or raw encoder steps (both need the arm's
# calibration: the source's `joint_space.calibration`). lerobot's own spelling `degrees` (MotorNormMode) is deg.
ARM_UNITS: tuple[JointUnit, ...] = get_args(JointUnit)
# A declared gripper's values: lerobot's RANGE_0_100 (`percent` alike) or a 0..1 fraction, as recorded.
DeclaredGripperUnit = Literal["range_0_100", "percent", "fraction"]
GRIPPER_UNITS: tuple[str, ...] = get_args(DeclaredGripperUnit)
_SPAN = {"range_0_100": (0.0, 100.0), "percent": (0.0, 100.0), "fraction": (0.0, 1.0)}
_ALIASES = {"degrees": "deg", "radians": "rad"}


def _known(value: object, known: tuple[str, ...], what: str) -> object:
    """`value` as one of `known` (lerobot's spellings taken), else a ValueError naming the known ones."""
    if isinstance(value, str):
        value = _ALIASES.get(value, value)
        if value not in known:
            raise ValueError(f"unknown {what} unit {value!r}: one of {', '.join(known)}")
    return value


class DeclaredGripper(Frozen):
    """A parallel gripper: a joint of the URDF or a column of the recording, linear from `closed` to `open`."""

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
    unit: DeclaredGripperUnit | None = Field(
        None,
        description="how the recording holds it: range_0_100 (lerobot's gripper motor; percent alike) or fraction "
        "(0..1), `open`/`closed` then in those values; unset: a column as recorded, a joint in the robot's units",
    )

    @field_validator("unit", mode="before")
    @classmethod
    def _unit(cls, value: object) -> object:
        return _known(value, GRIPPER_UNITS, "gripper")

    @model_validator(mode="after")
    def _one(self) -> DeclaredGripper:
        if (self.joint is None) == (self.column is None):
            raise ValueError("give the gripper's joint (in the URDF) or its column (in the recording), one of them")
        if self.open == self.closed:
            raise ValueError(f"open and closed are both {self.open}: a range with no width gives no opening")
        if self.unit is not None:
            lo, hi = _SPAN[self.unit]
            if not all(lo <= v <= hi for v in (self.open, self.closed)):
                raise ValueError(f"open {self.open:g} / closed {self.closed:g} lie outside {self.unit} {lo:g}..{hi:g}")
        return self

    def recorded_unit(self) -> GripperUnit:
        """How canonicalization reads it: as recorded (a column, or a unit given), else a joint in the arm's units."""
        return "recorded" if self.column is not None or self.unit is not None else "joint"


class DeclaredArm(Frozen):
    """One arm: its joints in the order the recording's state/action vector holds them, or by column name."""

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


class DeclaredRobot(Frozen):
    """A robot description given in a job spec (per source, or once in its `robots:` section)."""

    urdf: Path = Field(description="the URDF, relative to the spec file or absolute")
    units: JointUnit = Field(
        "rad",
        description="how the recording holds the arm joints: rad, deg (lerobot: degrees), range_m100_100 (lerobot's "
        "default) or ticks; the last two need the arm's calibration (the source's joint_space.calibration)",
    )
    base_link: str | None = Field(None, description="the link the wrists are expressed in (unset: the URDF's root)")
    arms: dict[Side, DeclaredArm] = Field(min_length=1, max_length=2, description="left and/or right")
    source: str = Field("", description="filled by the job spec: the spec's path and the URDF's SHA-256")

    @field_validator("units", mode="before")
    @classmethod
    def _units(cls, value: object) -> object:
        return _known(value, ARM_UNITS, "joint")

    def unit_problems(self) -> list[tuple[tuple[str, ...], str]]:
        """(field, why) where a gripper joint has no unit of its own while the arm's unit is no angle: the job spec
        reports each at its field (`jobs.spec_robots`); `joint_space` refuses such a robot."""
        out = []
        for side, arm in self.arms.items():
            g = arm.gripper
            if g is not None and g.joint is not None and g.unit is None and self.units not in ("rad", "deg"):
                why = (
                    f"the arm joints are in {self.units}, and a gripper motor is no arm joint (lerobot records it in "
                    f"range_0_100): give the gripper's unit, one of {', '.join(GRIPPER_UNITS)}"
                )
                out.append((("arms", side, "gripper", "unit"), why))
        return out

    def joint_space(self) -> JointSpaceSpec:
        """The spec the FK path reads; the description is the URDF's absolute path (`ingest.kinematics.load_model`)."""
        if problems := self.unit_problems():
            raise ValueError("; ".join(f"{'.'.join(loc)}: {why}" for loc, why in problems))
        arms = []
        for side, arm in self.arms.items():
            gripper = None
            if (g := arm.gripper) is not None:
                # a joint in the robot's units (`ingest.canonical.joint_gripper.gripper_opening`): the ends in
                # radians; a column or a gripper with its own unit: linear between the ends in the recorded values
                unit = g.recorded_unit()
                to = math.radians if unit == "joint" and self.units == "deg" else float
                gripper = GripperMap(
                    joint=JointMap(urdf=g.joint or g.column or ""),
                    unit=unit,
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
