"""Thresholds as data (schemas/thresholds.py): every TOML table becomes a typed field with its bounds and its
description, a bad value's error names its field, and a malformed table is refused naming file and field."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from schemas.behaviour import BehaviourConfig
from schemas.canonicalize import QualityConfig, ValidityConfig
from schemas.qa import QAConfig
from schemas.thresholds import threshold_fields, threshold_model

TOML = """
[speed]
default = 1.5
gt = 0
description = "a speed (m/s)"

[frames]
default = 8
ge = 2
description = "a count"

[trim]
default = true
description = "a switch"
"""


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def test_a_table_is_a_typed_bounded_field() -> None:
    fields = threshold_fields(TOML, "t.toml")
    assert [(k, t) for k, (t, _) in fields.items()] == [("speed", float), ("frames", int), ("trim", bool)]
    assert fields["speed"][1].description == "a speed (m/s)"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[a]\ndefault = 1.0\ngt = 0\nmax = 3\n", "[a]"),  # an unknown key, never ignored
        ("[b]\ngt = 0\n", "[b]"),  # no default
        ('[c]\ndefault = "x"\n', "[c]"),  # not a number
    ],
)
def test_a_malformed_table_names_file_and_field(text: str, field: str) -> None:
    with pytest.raises(ValueError, match=rf"t\.toml \{field}"):
        threshold_fields(text, "t.toml")


def test_the_config_models_keep_their_keys_and_name_a_bad_field() -> None:
    c = BehaviourConfig()
    assert type(c).__module__ == "schemas.behaviour" and c.static_pair_diff == 0.5 / 255
    for model, key, bad in [
        (BehaviourConfig, "tracking_corr_low", 2.0),
        (QAConfig, "min_in_image_fraction", -0.1),
        (QualityConfig, "min_frames", 1),
        (ValidityConfig, "min_length_frames", 0),
    ]:
        assert key in model.model_fields
        with pytest.raises(ValidationError) as err:
            model(**{key: bad})
        assert [e["loc"] for e in err.value.errors()] == [(key,)]


def test_a_model_is_its_base_with_the_fields(tmp_path) -> None:
    model = threshold_model("Planted", _Base, "quality.toml")
    assert issubclass(model, _Base) and model().min_frames == 5 and model.__name__ == "Planted"
