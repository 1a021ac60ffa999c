"""Reading one table: the delimiter from the header (UR's RTDE recorder writes spaces), Parquet, and a missing or
non-numeric column named with the closest one the table has."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adapters.storage.location import locate
from adapters.table_log.table import columns, delimiter, read_table


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
