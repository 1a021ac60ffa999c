"""A table log's column map (which columns are the timestamp, the joints, the TCP pose and the gripper, and their
units and angle convention), and the presets for the logs robot makers' own SDKs write. Each preset's convention is
cited from the maker's code; the angle order of the xArm pose was settled on a real Lite 6 log by FK (README.md).

- `ur_rtde`: Universal Robots' RTDE client (UniversalRobots/RTDE_Python_Client_Library @ 647788cc). Its recorder
  `examples/record.py` writes the recipe's fields (`examples/record_configuration.xml`: `timestamp`, `actual_q`,
  `actual_TCP_pose` VECTOR6D, ...) through `rtde/csv_writer.py`, one column per element named `<field>_<i>`
  (`actual_q_0` .. `actual_q_5`), space-delimited by default (`CSVWriter(..., delimiter=" ")`). `actual_q` is in
  radians and `actual_TCP_pose` is x, y, z in metres then a rotation vector (axis x angle, radians) in the
  controller's Base frame: UR's ROS 2 driver reads both as such (Universal_Robots_ROS2_Driver @ 696e1a7b
  `ur_robot_driver/src/hardware_interface.cpp:997,1004,1389-1393`: joint positions from `actual_q` as they are; the
  TCP pose's rotation from the rotation vector `actual_TCP_pose[3..5]`, its length the angle). The Base frame is the
  description's `base` link, base_link turned pi about z (Universal_Robots_ROS2_Description @ 2221ec0f
  `urdf/ur_macro.xacro`, joint `base_link-base_fixed_joint` and its comment). On the UR3e RTDE log
  moelyaakoubi/GUI-RTDE `robot_data.csv` (comma-delimited) FK of `actual_q` to tool0 in `base` gives
  `actual_TCP_pose` to 1e-6 m.
- `xarm_sdk`: UFACTORY's xArm Python SDK (xArm-Developer/xArm-Python-SDK @ d911319c): `get_position()` returns
  `[x, y, z, roll, pitch, yaw]` and `get_servo_angle()` the joints `joint1` ..; millimetres, and degrees unless
  `is_radian` (`xarm/wrapper/xarm_api.py`, `get_position` docstring and `default_is_radian`). Roll, pitch, yaw are
  about the fixed x, y, z axes (scipy "xyz"): on the Lite 6 log BAEK26/lfd `data/pouring/robot_data_0.csv` the FK
  of the joints gives the recorded rotation to 0.46 deg (median) this way and 10 to 140 deg any other way.

One table log read: a CSV (its delimiter told from the header line: UR's RTDE recorder writes spaces, most loggers
commas) or a Parquet file, the columns a `ColumnMap` names as float64 arrays. A column the file lacks is named with
the closest one it has (`schemas.spelling`), and so is a value that is not a number.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pydantic import Field, model_validator

from adapters.storage.location import Location
from schemas.frozen import Frozen
from schemas.spelling import did_you_mean

RotationForm = Literal["axis_angle", "euler_xyz", "quat_xyzw", "quat_wxyz"]
ROTATION_WIDTH = {"axis_angle": 3, "euler_xyz": 3, "quat_xyzw": 4, "quat_wxyz": 4}
TO_SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
TO_METRES = {"m": 1.0, "mm": 1e-3}


class ColumnMap(Frozen):
    """Which columns of the table are what, and in which units and angle convention."""

    timestamp: str | None = Field(
        description="the time column (strictly increasing); null: rows at the source's `fps` option"
    )
    timestamp_unit: Literal["s", "ms", "us", "ns"] = Field("s", description="of the time column")
    joints: tuple[str, ...] = Field(description="the arm's joint columns, base to tip, in the description's order")
    joint_unit: Literal["rad", "deg"] = Field(description="of the joint columns: rad or deg")
    position: tuple[str, str, str] | None = Field(None, description="the TCP's x, y, z columns; null: no pose")
    position_unit: Literal["m", "mm"] = Field("m", description="of the position columns: m or mm")
    rotation: tuple[str, ...] = Field((), description="the TCP's rotation columns, as many as `rotation_form` has")
    rotation_form: RotationForm = Field(
        "axis_angle",
        description="axis_angle (a rotation vector, 3), euler_xyz (roll, pitch, yaw about the fixed x, y, z, 3),"
        " quat_xyzw or quat_wxyz (4)",
    )
    rotation_unit: Literal["rad", "deg"] = Field("rad", description="of an axis-angle or Euler rotation")
    # the recorded pose's frame as a turn about the description base's z: a UR controller's Base frame is base_link
    # turned pi (ur_macro.xacro, joint base_link-base_fixed_joint)
    base_turn_z_deg: float = Field(
        0.0, description="the pose's frame turned about the description base's z (a UR controller's Base: 180)"
    )
    gripper: str | None = Field(None, description="a gripper column (kept as a native state; not mapped to 0..1)")

    @model_validator(mode="after")
    def _consistent(self) -> ColumnMap:
        if self.position is not None and len(self.rotation) != ROTATION_WIDTH[self.rotation_form]:
            raise ValueError(
                f"rotation has {len(self.rotation)} columns; a {self.rotation_form} rotation has "
                f"{ROTATION_WIDTH[self.rotation_form]}"
            )
        if not self.joints:
            raise ValueError("joints names no column")
        return self

    def columns(self) -> tuple[str, ...]:
        """Every column the map names."""
        named = (self.timestamp, *self.joints, *(self.position or ()), *self.rotation, self.gripper)
        return tuple(c for c in named if c is not None)


def _indexed(field: str, n: int = 6) -> tuple[str, ...]:
    return tuple(f"{field}_{i}" for i in range(n))


PRESETS: dict[str, ColumnMap] = {
    "ur_rtde": ColumnMap(
        timestamp="timestamp",
        joints=_indexed("actual_q"),
        joint_unit="rad",
        position=_indexed("actual_TCP_pose", 3),  # type: ignore[arg-type]
        rotation=_indexed("actual_TCP_pose")[3:],
        rotation_form="axis_angle",
        base_turn_z_deg=180.0,
    ),
    "xarm_sdk": ColumnMap(
        timestamp="timestamp",
        joints=tuple(f"joint{i}" for i in range(1, 7)),
        joint_unit="deg",
        position=("x", "y", "z"),
        position_unit="mm",
        rotation=("roll", "pitch", "yaw"),
        rotation_form="euler_xyz",
        rotation_unit="deg",
    ),
}


SUFFIXES = (".csv", ".tsv", ".parquet")
DELIMITERS = (",", "\t", ";", " ")


def delimiter(header: str) -> str:
    """The delimiter that splits the header line into the most fields (a one-column table: ",")."""
    return max(DELIMITERS, key=lambda d: (len([f for f in header.split(d) if f.strip()]), d == ","))


def read_table(path: Location) -> pa.Table:
    """The whole table of a CSV or Parquet log; ValueError saying why it does not parse."""
    with path.readable() as src:
        if path.suffix.lower() == ".parquet":
            return pq.read_table(src)
        with path.open("rb") as f:
            header = f.readline(1 << 20).decode("utf-8", errors="replace").rstrip("\r\n")
        parse = pacsv.ParseOptions(delimiter=delimiter(header))
        try:
            return pacsv.read_csv(src, parse_options=parse)
        except pa.ArrowInvalid as e:
            raise ValueError(f"not a CSV table: {e}") from e


def columns(table: pa.Table, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The named columns as (T,) float64; ValueError naming a missing column (with the closest the table has) or
    one that holds no numbers."""
    have = table.column_names
    missing = [n for n in names if n not in have]
    if missing:
        near = [f"{n!r} ({hint})" for n in missing if (hint := did_you_mean(n, have, listing="")).startswith("did")]
        far = [repr(n) for n in missing if not did_you_mean(n, have, listing="").startswith("did")]
        said = ", ".join(near + far[:5]) + (f" and {len(far) - 5} more" if len(far) > 5 else "")
        theirs = did_you_mean("", have, listing="the table's columns", limit=20)
        raise ValueError(
            f"{len(missing)} of the column map's {len(names)} columns are not in the table: {said}; {theirs} "
            "(a log of another recorder: declare its `columns`)"
        )
    out = {}
    for n in names:
        try:
            out[n] = table.column(n).to_numpy(zero_copy_only=False).astype(np.float64)
        except (TypeError, ValueError, pa.ArrowInvalid) as e:
            raise ValueError(f"column {n!r} holds values that are not numbers ({e})") from e
    return out
