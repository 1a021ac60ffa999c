"""The training configuration (training/config.py): an invalid value is refused with an error naming its field."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.training.corpus import tiny_config
from training.config import PRESETS, ModelConfig, TrainConfig

TINY = PRESETS["tiny"].model


@pytest.mark.parametrize(
    ("field", "value"),
    [("per_block_adaln", "sometimes"), ("image_layout", "merged"), ("image_registers", -1)],
)
def test_invalid_values_name_their_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as err:
        ModelConfig.model_validate({**TINY.model_dump(), field: value})
    assert [e["loc"] for e in err.value.errors()] == [(field,)]


def test_runtime_values_name_their_field() -> None:
    base = tiny_config(Path("m")).model_dump()
    for field, value in (("compile", "sometimes"), ("attention", "cudnn"), ("text_max", 100), ("text_bucket", 0)):
        with pytest.raises(ValidationError) as err:
            TrainConfig.model_validate({**base, field: value})
        assert [e["loc"] for e in err.value.errors()] == [(field,)], field
    # configs written before compile took auto/on/off still load
    assert TrainConfig.model_validate({**base, "compile": True}).compile == "on"
