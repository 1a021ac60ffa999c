"""The column map: a rotation of the wrong width or a map without joints is refused at the spec check; the presets
name the columns their makers' recorders write."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from adapters.table_log.columns import PRESETS, ColumnMap


def test_a_rotation_of_the_wrong_width_is_refused() -> None:
    with pytest.raises(ValidationError, match="rotation has 3 columns; a quat_xyzw rotation has 4"):
        ColumnMap(
            timestamp="t",
            joints=("q",),
            joint_unit="rad",
            position=("x", "y", "z"),
            rotation=("a", "b", "c"),
            rotation_form="quat_xyzw",
        )
    with pytest.raises(ValidationError, match="joints names no column"):
        ColumnMap(timestamp="t", joints=(), joint_unit="rad")


def test_the_presets_name_their_recorders_columns() -> None:
    rtde = PRESETS["ur_rtde"]
    assert rtde.columns()[:2] == ("timestamp", "actual_q_0") and rtde.rotation == tuple(
        f"actual_TCP_pose_{i}" for i in (3, 4, 5)
    )
    assert (rtde.joint_unit, rtde.position_unit, rtde.rotation_form, rtde.base_turn_z_deg) == (
        "rad",
        "m",
        "axis_angle",
        180.0,
    )
    xarm = PRESETS["xarm_sdk"]
    assert xarm.rotation == ("roll", "pitch", "yaw") and xarm.joints[0] == "joint1"
    assert (xarm.joint_unit, xarm.position_unit, xarm.rotation_form, xarm.rotation_unit) == (
        "deg",
        "mm",
        "euler_xyz",
        "deg",
    )
