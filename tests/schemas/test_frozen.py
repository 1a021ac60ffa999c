"""The house's contract record (schemas/frozen.py): immutable once made, an unknown key refused naming it, and a
subclass's own settings added to these rather than replacing them."""

from __future__ import annotations

import pytest
from pydantic import ConfigDict, ValidationError

from schemas.frozen import Frozen


class _Point(Frozen):
    x: float


class _Finite(Frozen):
    model_config = ConfigDict(allow_inf_nan=False)

    x: float


def test_an_unknown_key_is_refused_naming_it() -> None:
    with pytest.raises(ValidationError, match="typo"):
        _Point.model_validate({"x": 1.0, "typo": 2})


def test_a_record_cannot_be_changed() -> None:
    p = _Point(x=1.0)
    with pytest.raises(ValidationError):
        p.x = 2.0  # type: ignore[misc]


def test_a_subclass_adds_to_the_settings() -> None:
    with pytest.raises(ValidationError, match="typo"):
        _Finite.model_validate({"x": 1.0, "typo": 2})
    with pytest.raises(ValidationError):
        _Finite(x=float("nan"))
    assert _Finite(x=1.0).model_config["frozen"] is True
