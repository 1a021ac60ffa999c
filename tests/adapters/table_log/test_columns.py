"""The column map: a rotation of the wrong width or a map without joints is refused at the spec check; the presets
name the columns their makers' recorders write."""

from __future__ import annotations

import re
from pathlib import Path

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


def test_the_readme_documents_every_key_of_the_column_map() -> None:
    """The README's table of the column map's keys is the one a user reads (newcomer-10 F1: they had to read this
    module): it names every key, the required ones marked, and no key the map does not take."""
    readme = Path(__file__).resolve().parents[3] / "adapters" / "table_log" / "README.md"
    rows = re.findall(r"^\| `(\w+)`(\*?) \|", readme.read_text(encoding="utf-8"), flags=re.M)
    assert [key for key, _ in rows] == list(ColumnMap.model_fields)
    assert {key for key, star in rows if star} == {k for k, f in ColumnMap.model_fields.items() if f.is_required()}
