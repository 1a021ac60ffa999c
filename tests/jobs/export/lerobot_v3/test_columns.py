"""`columns.py`: a dataset's cut lines and extents held as columns read back exactly as they were parsed (types,
signed zeros, absent fields, key order, a later line of an index replacing an earlier one), equal values one object."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from jobs.export.lerobot_v3.columns import ExtentColumns, Interner, LineColumns

TOP, NESTED, INNER = ("episode_index", "tasks", "length"), "eidata", ("episode_uid", "mask", "caption")

LINES = [
    {"episode_index": 7, "tasks": ["pick"], "length": 3, "eidata": {"episode_uid": "a/7", "mask": [1, 0]}},
    {"episode_index": 2, "tasks": ["pick"], "length": 3.0, "eidata": {"episode_uid": "a/2", "mask": [True, False]}},
    {"episode_index": 5, "length": True, "eidata": {"mask": [1.0, -0.0], "caption": None}},
    {"episode_index": 9, "tasks": [], "length": 0, "eidata": "not a mapping"},
    {"episode_index": 4, "tasks": [["nested"]], "length": -0.0},
    {"episode_index": 6, "tasks": ["pick"], "length": 3, "eidata": {"episode_uid": "a/6", "mask": [1.0, 0.0]}},
    {"episode_index": 2, "tasks": ["place"], "length": 4, "eidata": {"caption": {"text": "x"}}},  # 2 again
]


def test_every_line_reads_back_as_it_was_parsed() -> None:
    cols = LineColumns(((o["episode_index"], o) for o in LINES), TOP, NESTED, INNER)
    as_dict = {o["episode_index"]: o for o in LINES}  # what a dict of the lines held (the later 2, in 2's place)
    assert list(cols) == list(as_dict) == [7, 2, 5, 9, 4, 6] and len(cols) == 6
    for i, line in as_dict.items():
        assert json.dumps(cols[i]) == json.dumps(line)  # key order, 1 / 1.0 / True, -0.0 and absent keys kept
        assert [type(v) for v in cols[i].values()] == [type(v) for v in line.values()]
    assert math.copysign(1.0, cols[5][NESTED]["mask"][1]) == -1.0 and cols[4]["length"] == 0.0
    assert cols[7]["tasks"] is cols[6]["tasks"]  # one object for the values episodes repeat
    assert cols[7][NESTED]["mask"] is not cols[6][NESTED]["mask"]  # [1, 0] and [1.0, 0.0] are not one value
    assert 3 not in cols and "7" not in cols and True not in cols and 2**70 not in cols and cols.get(3) is None
    with pytest.raises(KeyError):
        cols[1]


def test_no_line_is_an_empty_mapping() -> None:
    cols = LineColumns(iter(()), TOP, NESTED, INNER)
    assert len(cols) == 0 and list(cols) == [] and 0 not in cols


def test_interning_keeps_unlike_types_apart() -> None:
    intern = Interner()
    values = [1, 1.0, True, 0.0, -0.0, "1", [1], [1.0], [True], (1,), None, [[1]], [[1]]]
    assert [type(intern(v)) for v in values] == [type(v) for v in values]
    assert len(intern.table) == len(values)  # nothing merged; a list of lists is not keyed, kept as it is
    assert intern([1]) is intern([1]) and intern("pick") is intern("".join(["pi", "ck"]))


def test_extents_as_rows_of_two_arrays_and_ragged_widths_kept() -> None:
    lo, hi = np.array([0.0, 1.0]), np.array([2.0, 3.0])
    cols = ExtentColumns([(3, (lo, hi, 5)), (1, (lo - 1, hi + 1, 6))])
    got = cols[1]
    assert list(cols) == [3, 1] and np.array_equal(got[0], lo - 1) and np.array_equal(got[1], hi + 1) and got[2] == 6
    assert cols.get(2) is None and 3 in cols
    ragged = ExtentColumns([(0, (lo, hi, 1)), (1, (lo[:1], hi[:1], 2))])
    assert np.array_equal(ragged[1][0], lo[:1]) and ragged[0][2] == 1
    assert len(ExtentColumns([])) == 0
