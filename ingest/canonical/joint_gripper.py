"""A joint-space robot's parallel gripper: its opening 0 (closed) .. 1 (open) from the column that holds it, linear
between the maker's (or the job spec's) closed and open values (`schemas.robots.joint_space.GripperMap`).

The column is looked for in the state first, then in the action: a recorder that writes only the command (a real
Dobot CR5 LeRobot set's `action.gripper`, 0/1) gives the command, which canonicalization puts in the action at each
frame and, as the state, the last command before it (`ingest.canonical.hand_state`). A gripper with a range tolerance
(one the job spec declares) refuses values past closed..open by more than it, naming the dataset, episode and column;
a column that holds several values a frame is named as such."""

from __future__ import annotations

import numpy as np

from adapters.base import RawEpisode, Stream
from ingest.canonical.joint_columns import (
    ACTION_STREAMS,
    JointSpaceError,
    Resolver,
    arm_prefixes,
    calibration_name,
    numbering_groups,
)
from ingest.canonical.joint_units import ticks_percent, to_radians
from schemas.robots.joint_space import ArmMap, GripperMap, JointSpaceOptions, JointUnit


def gripper_opening(
    raw_value: np.ndarray,
    grip: GripperMap,
    unit: str,
    arm_unit: JointUnit,
    name: str,
    opts: JointSpaceOptions,
    *,
    clip: bool = True,
) -> np.ndarray:
    """A gripper value -> opening 0 (closed) .. 1 (open), clipped unless `clip` is False; CalibrationMissing where
    the unit needs one."""
    if unit == "recorded":  # a declared gripper: linear between its ends in the recorded values, no conversion
        opening = (raw_value - grip.closed_q) / (grip.open_q - grip.closed_q)
        return np.clip(opening, 0.0, 1.0) if clip else opening
    if arm_unit == "ticks" and unit != "joint":  # raw steps -> lerobot's RANGE_0_100 by the gripper's calibration
        raw_value = ticks_percent(raw_value, name, opts)
        unit = "percent" if unit == "fraction" else unit
    if unit in ("percent", "percent_closed"):
        opening = raw_value / 100.0
    elif unit in ("fraction", "fraction_closed"):
        opening = raw_value
    else:
        q = to_radians(raw_value[:, None], [name], arm_unit, opts)[:, 0]
        opening = (q - grip.closed_q) / (grip.open_q - grip.closed_q)
    if unit.endswith("_closed"):  # a value that rises as the gripper closes (Leju's claw)
        opening = 1.0 - opening
    return np.clip(opening, 0.0, 1.0) if clip else opening


def read_gripper(
    raw: RawEpisode, states: Resolver, arm: ArmMap, units: JointUnit, opts: JointSpaceOptions, where: str
) -> tuple[Stream, bool, str]:
    """(opening 0..1, whether it is the action's command, a note): the gripper's state column, else its action
    column (a recorder that writes only the command, as a real Dobot CR5 set's `action.gripper`). JointSpaceError
    names the column when it is missing, holds several values a frame, or lies past its range's tolerance."""
    grip = arm.gripper
    assert grip is not None
    found = None
    groups = (states, *((Resolver(raw.actions, ACTION_STREAMS, "action", opts),) if raw.actions else ()))
    for res in groups:
        prefixes, numbering = arm_prefixes(arm, opts), numbering_groups(arm)
        [col], missing = res.find((grip.joint,), prefixes, arm.modality_hand, arm.motor_ids, numbering)
        if not missing and col is not None:
            found = res, col
            break
    name = grip.joint.urdf
    if found is None:
        wide = [f"{r.group} stream {name!r} holds {w} values a frame" for r in groups if (w := r.width(name) or 1) > 1]
        why = f"; {wide[0]}: name one of its columns" if wide else ""
        have = [n for r in groups for _, _, names in r.table for n in names][:40]
        raise JointSpaceError(f"{where}: {arm.side} gripper {name!r} not found in the state or action{why}; {have}")
    res, col = found
    ts, v = res.values([col])
    unit = opts.gripper_unit or grip.unit
    cal = calibration_name(col.name, name, arm.side, len(arm.prefixes) > 0 and arm.prefixes != ("",), opts)
    opening = gripper_opening(v[:, 0], grip, unit, units, cal, opts, clip=False)
    field = col.stream if col.name == col.stream else f"{col.stream}.{col.name}"
    tol = grip.range_tolerance
    if tol is not None and len(opening) and (np.nanmin(opening) < -tol or np.nanmax(opening) > 1 + tol):
        lo, hi = float(np.nanmin(v[:, 0])), float(np.nanmax(v[:, 0]))
        raise JointSpaceError(
            f"{where.rsplit(', field', 1)[0]}, field {field}: {arm.side} gripper values {lo:g}..{hi:g} give openings "
            f"{np.nanmin(opening):.3g}..{np.nanmax(opening):.3g}, past 0 (closed) .. 1 (open) by more than {tol:g} "
            f"({grip.source}): is the column or its open/closed values the gripper's?"
        )
    commanded = res.group == "action"
    what = "the command (state: the last command before each frame)" if commanded else "the state"
    note = f"joint space: {arm.side} gripper from {field}, {what}; {grip.source}"
    return Stream(ts, np.clip(opening, 0.0, 1.0), unit="0..1"), commanded, note
