"""The spec's validator helpers: several issues raised from one validator keep each its own field path, keys a
model would silently ignore are found at any depth, and the path reads as the spec writes it."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from jobs.spec_validators import as_model, dotted, flat_errors, nested_error, no_unknown_keys, strip_type, unknown_keys


class Threshold(BaseModel):  # ignores unknown keys, as CanonicalizeSpec's parts do
    max_gap_s: float = 1.0


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limits: dict[str, Threshold] = {}
    steps: list[Threshold] = []


class Loose(BaseModel):
    strict: Strict | None = None
    gap: Annotated[Threshold, "doc"] = Threshold()


class Job(BaseModel):
    loose: Annotated[Loose, no_unknown_keys(Loose)] = Loose()
    pair: tuple[int, int] = (0, 0)

    @field_validator("pair")
    @classmethod
    def _ordered(cls, v: tuple[int, int]) -> tuple[int, int]:
        issues: list[tuple[Any, str, str]] = []
        if v[0] < 0:
            issues.append(((0,), "value_error", "must be >= 0"))
        if v[1] < v[0]:
            issues.append(((1,), "value_error", "must be >= the first"))
        if issues:
            raise nested_error(issues)
        return v


def test_dotted_reads_as_the_spec_writes_it() -> None:
    assert dotted(("sources", 0, "options", "verify_crc")) == "sources[0].options.verify_crc"
    assert dotted((2, "name")) == "[2].name" and dotted(()) == ""


def test_strip_type_and_as_model() -> None:
    assert strip_type(Annotated[int | None, "doc"]) is int
    assert strip_type(int | str) == int | str  # a real union stays
    assert as_model(Annotated[Loose | None, "doc"]) is Loose and as_model(dict[str, Loose]) is None


def test_unknown_keys_are_found_at_any_depth_with_their_path() -> None:
    value = {
        "strict": {"limits": {"wrist": {"max_gap_s": 2, "max_gap": 3}}, "steps": [{}, {"typo": 1}], "own": 1},
        "gap": {"max_gap_s": 1, "max_gaps": 2},
        "extra": True,
    }
    found = {loc: kind for loc, kind, _ in unknown_keys(Loose, value)}
    assert found == {
        ("strict", "limits", "wrist", "max_gap"): "extra_forbidden",
        ("strict", "steps", 1, "typo"): "extra_forbidden",
        ("gap", "max_gaps"): "extra_forbidden",
        ("extra",): "extra_forbidden",
    }  # `own` is Strict's to report: it forbids extras itself
    assert unknown_keys(Loose, "not a mapping") == []


def test_nested_issues_come_back_under_the_field_that_raised_them() -> None:
    with pytest.raises(ValidationError) as info:
        Job(pair=(-1, -2))
    assert flat_errors(info.value) == [
        (("pair", 0), "value_error", "must be >= 0"),
        (("pair", 1), "value_error", "must be >= the first"),
    ]
    assert "[0]: must be >= 0; [1]: must be >= the first" in str(info.value)  # the summary names each place


def test_unknown_keys_and_other_errors_are_reported_in_one_pass() -> None:
    with pytest.raises(ValidationError) as info:
        Job(loose={"gap": {"max_gap_s": "soon", "max_gaps": 2}})
    issues = {loc: kind for loc, kind, _ in flat_errors(info.value)}
    assert issues == {("loose", "gap", "max_gaps"): "extra_forbidden", ("loose", "gap", "max_gap_s"): "float_parsing"}
    assert Job(loose={"gap": {"max_gap_s": 3}}).loose.gap.max_gap_s == 3.0
