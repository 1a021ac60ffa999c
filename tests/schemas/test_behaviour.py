"""Behaviour QA's boundary types (schemas/behaviour.py): thresholds that order the way their names say, errors that
name the field, and one episode's record through its catalog columns and back, beside the geometry QA's columns."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pydantic import ValidationError

from schemas.behaviour import BehaviourConfig
from schemas.behaviour_record import BehaviourRecord
from schemas.qa import QARecord, catalog_fields, record_from_columns

RECORD = BehaviourRecord(
    cam_frozen_s=1.5,
    cam_repeat_period=2,
    state_frozen_s=0.0,
    dead_dims=[3, 7],
    jump_sigma=41.0,
    nonfinite=0,
    trim_start=4,
    tracking_corr=-0.25,
    fingerprint=[0, 2**32 - 1, 12345],
)


def test_thresholds_order_as_their_names_say() -> None:
    c = BehaviourConfig()
    pairs = {
        name.removesuffix("_low"): name
        for name in BehaviourConfig.model_fields
        if name.endswith("_low") and f"{name.removesuffix('_low')}_quarantine" in BehaviourConfig.model_fields
    }
    assert pairs  # degenerate_fraction: demoting comes before quarantining on one measure
    for stem, low in pairs.items():
        assert getattr(c, low) < getattr(c, f"{stem}_quarantine"), stem
    assert c.dark_level < c.bright_level and c.static_pair_diff < c.frozen_drift
    assert c.fingerprint_hashes % c.fingerprint_bands == 0  # the LSH bands split the hashes evenly


@pytest.mark.parametrize(
    ("update", "field"),
    [
        ({"dark_level": 1.0}, "dark_level"),
        ({"tracking_corr_low": 2.0}, "tracking_corr_low"),
        ({"nonfinite_quarantine": 0}, "nonfinite_quarantine"),
    ],
)
def test_a_bad_threshold_names_its_field(update: dict, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        BehaviourConfig(**update)
    assert [e["loc"] for e in err.value.errors()] == [(field,)]
    with pytest.raises(ValidationError, match="frozen_camera_s"):
        BehaviourConfig(frozen_camera_s=1.0)  # a misspelt threshold is refused, never ignored


def test_a_record_survives_its_catalog_columns() -> None:
    columns = catalog_fields(BehaviourRecord)
    names = [name for name, *_ in columns]
    assert len(set(names)) == len(names) and not set(names) & {name for name, *_ in catalog_fields(QARecord)}
    values = {f"qa_{k}": v for k, v in RECORD.model_dump(exclude_none=True).items()}
    row = {name: values.get(name) for name in names}
    table = pa.Table.from_pylist([row], schema=pa.schema([(name, arrow) for name, _, arrow, _ in columns]))
    back = table.to_pylist()[0]
    assert record_from_columns({**back, "qa_frames": 19}, BehaviourRecord) == RECORD  # a geometry column: not read
    assert record_from_columns({name: None for name in names}, BehaviourRecord) is None
