"""One episode's behaviour record (`schemas/behaviour_record.py`): unknown keys of an older or newer lineage ignored,
and the explained holds stored flat in the record's `explained_*` lists and read back whole."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.behaviour_record import BehaviourRecord, Explained


def test_unknown_keys_are_ignored_and_unmeasured_checks_are_none() -> None:
    record = BehaviourRecord.model_validate({"tracking_corr": 0.93, "a_check_of_a_later_version": 1})
    assert record.tracking_corr == 0.93 and record.cam_frozen_s is None and record.explained_checks is None


def test_explained_holds_round_trip_through_the_flat_columns() -> None:
    holds = [
        Explained(check="qa_plateau_fraction", why="deadband", signal="state.left_arm.3", value=0.42),
        Explained(check="qa_native_dead_dims", why="unused", signal="state.left_arm", value=7),
    ]
    record = BehaviourRecord(**Explained.columns(holds))
    assert Explained.of(record) == holds
    assert Explained.of(BehaviourRecord(**Explained.columns([]))) == []  # measured, nothing explained
    assert Explained.of(BehaviourRecord()) == []  # not measured


def test_a_reason_outside_the_four_is_refused() -> None:
    with pytest.raises(ValidationError):
        Explained(check="qa_plateau_fraction", why="looks fine", signal="s", value=1.0)  # type: ignore[arg-type]
