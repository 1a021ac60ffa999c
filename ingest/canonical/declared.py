"""A raw episode of a robot its job spec declares (`schemas.robots.declared`): named after that robot, its joints
found where the declaration says (the vector's order, or column names), its units those declared (its gripper's
values those recorded, whatever unit the adapter would guess from its robot_type). What follows is
the FK path every joint-space robot takes (`ingest.canonical.joint_space`)."""

from __future__ import annotations

from dataclasses import replace

from adapters.base import RawEpisode, Stream
from ingest.canonical.joint_columns import ACTION_STREAMS, STATE_STREAMS
from schemas.robots.declared import DeclaredRobot
from schemas.robots.joint_space import JointSpaceOptions


def _vector(streams: dict[str, Stream], first: tuple[str, ...]) -> tuple[str, list[str]] | None:
    """(key, component names) of the recording's joint vector: the first 2-D stream named like `first`; a vector
    without names is named `<key>.<index>`, as the resolver names it."""
    for key in sorted(streams):
        if any(key == p or (p.endswith(".") and key.startswith(p)) for p in first):
            s = streams[key]
            if s.values.ndim == 2:
                width = s.values.shape[1]
                names = list(s.names) if s.names and len(s.names) == width else [f"{key}.{i}" for i in range(width)]
                return key, names
    return None


def joint_map(raw: RawEpisode, robot: DeclaredRobot) -> dict[str, str]:
    """The recording's column name -> URDF joint: by name where the declaration maps columns (a gripper's column
    is its own joint name); else by position in the state (and action) vector, each arm's joints then its gripper
    joint, the arms in the order written."""
    out: dict[str, str] = {}
    order: list[str] = []
    for arm in robot.arms.values():
        out |= arm.columns
        if arm.gripper is not None and arm.gripper.column:  # a column (`action.gripper`) named as the gripper's joint
            out[arm.gripper.column] = arm.gripper.column
        if arm.joints:
            order += [*arm.joints, *([arm.gripper.joint] if arm.gripper and arm.gripper.joint else [])]
    if order:
        for streams, first in ((raw.states, STATE_STREAMS), (raw.actions, ACTION_STREAMS)):
            found = _vector(streams, first)
            if found is not None and len(found[1]) >= len(order):
                out |= {found[1][i]: joint for i, joint in enumerate(order)}
    return out


def as_declared(raw: RawEpisode, name: str, robot: DeclaredRobot) -> RawEpisode:
    """`raw` as an episode of the declared robot `name`: its embodiment, its joints' columns, its units."""
    opts = raw.joint_space or JointSpaceOptions()
    # the declared gripper's open/closed are in the recording's values: no unit the adapter guessed from robot_type
    update = {"units": robot.units, "gripper_unit": None, "joint_map": {**opts.joint_map, **joint_map(raw, robot)}}
    opts = opts.model_copy(update=update)
    return replace(raw, embodiment=name, joint_space=opts)
