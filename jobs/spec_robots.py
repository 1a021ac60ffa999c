"""The job spec's robots (issue 55 item 2): a description given in the spec, per source (`robot:` under it) or once
in the `robots:` section that sources name, validated before any work, each error naming its field
(`robots.<name>.arms.right.eef_link`) and its cause, with the checks the shipped robots' tests run
(`ingest.kinematics.invariants`). The robot is registered for the job only (`schemas.robots.declared.registry_with`);
its source, in the lineage of every episode, is the spec's path and the URDF's SHA-256."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationInfo, model_validator

from jobs.spec_validators import Loc, nested_error
from schemas.robots.declared import DeclaredRobot
from schemas.robots.registry import default_registry

BASE_DIR = "base_dir"  # validation-context key: the folder relative paths resolve against (jobs.spec_models)
SPEC_PATH = "spec_path"  # validation-context key: the spec file, named in a declared robot's source
ROBOT_NAME = re.compile(r"[a-z0-9_]+")


class RobotSpec(DeclaredRobot):
    """A robot description in a job spec: `schemas.robots.declared.DeclaredRobot`, its URDF checked here."""

    name: str = Field(
        "",
        description="the embodiment its episodes are named after: its key in `robots:`, or the "
        "source's name for a robot given under a source",
    )

    @model_validator(mode="before")
    @classmethod
    def _urdf_path(cls, data: Any, info: ValidationInfo) -> Any:
        """The URDF relative to the spec's folder; the source the lineage keeps: the spec and the URDF's hash."""
        if not isinstance(data, dict) or not isinstance(data.get("urdf"), str | os.PathLike):
            return data
        ctx = info.context or {}
        path = Path(os.path.abspath(Path(ctx.get(BASE_DIR) or Path.cwd()) / Path(data["urdf"]).expanduser()))
        out = {**data, "urdf": path}
        if path.is_file() and not data.get("source"):
            from ingest.kinematics.description import DescriptionError, read_declared  # only a spec declaring robots

            try:
                sha = read_declared(path).sources[0].rsplit("sha256:", 1)[1]
            except DescriptionError:
                return out  # reported by `_urdf`
            out["source"] = f"job spec {ctx.get(SPEC_PATH) or '(no file)'}: {path} sha256:{sha}"
        return out

    @model_validator(mode="after")
    def _urdf(self) -> RobotSpec:
        # MuJoCo and scipy only for a spec that declares a robot: checking any other spec stays light
        from ingest.kinematics.description import DescriptionError
        from ingest.kinematics.invariants import reach_problems, spec_problems
        from ingest.kinematics.model import load_model

        if problems := self.unit_problems():
            raise nested_error([(loc, "value_error", why) for loc, why in problems])
        if not self.urdf.is_file():
            raise nested_error([(("urdf",), "value_error", f"no such file: {self.urdf}")])
        try:
            model = load_model(str(self.urdf))
        except (DescriptionError, RuntimeError) as e:
            raise nested_error([(("urdf",), "value_error", str(e))]) from None
        spec = self.joint_space()
        issues: list[tuple[Loc, str, str]] = []
        for field, why in spec_problems(spec, model, gripper_columns=True):
            issues.append((_loc(field, self), "value_error", why))
        for side, arm in self.arms.items():
            if arm.gripper is not None and arm.gripper.joint and arm.gripper.joint not in model.joint_names:
                why = f"joint {arm.gripper.joint!r} is not in the URDF; joints: {list(model.joint_names)}"
                issues.append((("arms", side, "gripper", "joint"), "value_error", why))
        if not issues:
            issues += [(_loc(f, self), "value_error", why) for f, why in reach_problems(spec, model)]
        if issues:
            raise nested_error(issues)
        return self


def _loc(field: str, robot: RobotSpec) -> Loc:
    """An invariant's field (`right.link`) as the spec's (`arms.right.eef_link`)."""
    if "." not in field:
        return (field,)
    side, what = field.split(".", 1)
    arm = robot.arms[side]  # type: ignore[index]
    return ("arms", side, {"link": "eef_link", "joints": "joints" if arm.joints else "columns"}.get(what, what))


def robot_name_problem(name: str) -> str | None:
    """Why `name` cannot name a declared robot (its episodes' embodiment), or None."""
    if not ROBOT_NAME.fullmatch(name):
        return f"{name!r} must be lower-case letters, digits and _ (it names the episodes' embodiment)"
    if name in default_registry():
        return f"{name!r} is a robot eidata ships (schemas/robots/): give yours another name"
    return None
