"""Genie quaternion order: the rows where the waist holds still, and the order measured only over them (over a
moving waist no reading is consistent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from adapters.agibot_genie.adapter import GenieAdapter
from adapters.agibot_genie.quat import decide, evidence, still_rows
from tests.fixtures.agibot_genie import GenieSpec, write_genie_sim


def test_order_measured_while_the_waist_holds_still(tmp_path: Path) -> None:
    """A pitching waist turns the arm base: only the rows after it stops tie the two frames together."""
    write_genie_sim(tmp_path, [GenieSpec(num_frames=36, videos=False, quat_order="wxyz", waist_moves=True)])
    ep = GenieAdapter().read(next(GenieAdapter().discover(tmp_path)))
    assert ep.metadata["quaternion_order"] == "wxyz" and ep.metadata["quaternion_evidence"]["rows"] == [12, 36]
    whole = evidence(
        *(ep.states[k].values for k in ("end.position", "end.orientation", "end.arm_position", "end.arm_orientation"))
    )
    assert decide(whole) is None  # over every row the arm base moved: no reading is consistent


def test_still_rows() -> None:
    waist = np.array([[0.0, 0.1], [0.05, 0.1], [0.1, 0.1], [0.1, 0.1], [0.1, 0.1], [0.2, 0.1]])
    assert still_rows(waist, min_rows=3) == slice(2, 5)
    assert still_rows(waist, min_rows=4) == slice(None) and still_rows(None) == slice(None)
