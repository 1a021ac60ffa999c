"""The column map (`adapters/table_log/adapter.py`): a rotation of the wrong width or a map without joints is refused
at the spec check; the presets name the columns their makers' recorders write.

Reading one table: the delimiter from the header (UR's RTDE recorder writes spaces), Parquet, and a missing or
non-numeric column named with the closest one the table has.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from adapters.storage.location import locate
from adapters.table_log.adapter import PRESETS, ColumnMap, columns, delimiter, read_table


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


@pytest.mark.parametrize(("header", "said"), [("a b c", " "), ("a,b,c", ","), ("a\tb", "\t"), ("a;b", ";"), ("a", ",")])
def test_the_delimiter_is_the_one_that_splits_the_header(header: str, said: str) -> None:
    assert delimiter(header) == said


def test_space_delimited_csv_and_parquet_read_alike(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("timestamp actual_q_0\n0.0 1.5\n0.008 1.25\n")
    pq.write_table(pa.table({"timestamp": [0.0, 0.008], "actual_q_0": [1.5, 1.25]}), tmp_path / "a.parquet")
    for name in ("a.csv", "a.parquet"):
        got = columns(read_table(locate(tmp_path / name)), ["actual_q_0", "timestamp"])
        np.testing.assert_array_equal(got["actual_q_0"], [1.5, 1.25])


def test_a_missing_or_textual_column_is_named(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("timestamp,joint1,mode\n0,1,idle\n")
    table = read_table(locate(tmp_path / "a.csv"))
    with pytest.raises(
        ValueError, match=r"'joint_1' \(did you mean 'joint1'\?\); the table's columns: timestamp, joint1, mode"
    ):
        columns(table, ["joint_1"])
    with pytest.raises(ValueError, match="column 'mode' holds values that are not numbers"):
        columns(table, ["mode"])
