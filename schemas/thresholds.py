"""Thresholds as data: the scalar fields of a QA config model (`schemas.behaviour.BehaviourConfig`,
`schemas.qa.QAConfig`, `schemas.canonicalize.QualityConfig` and `ValidityConfig`) are tables of a TOML file beside
their module, one table a field: its `default` (its type is the field's: a float, an int or a bool), its bounds
(`gt`, `ge`, `lt`, `le`) and its `description`, where the measured figures behind the default stand. A job spec's
keys are the field names, and a bad value's error names its field, as for a model written out in Python."""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any, TypeVar

from pydantic import BaseModel, Field, create_model

M = TypeVar("M", bound=BaseModel)
KEYS = frozenset({"default", "gt", "ge", "lt", "le", "description"})


def threshold_fields(text: str, where: str) -> dict[str, Any]:
    """`create_model` field definitions of the TOML `text` (read from `where`), in its order; a table with another
    key, without a default or of another type is refused naming `where` and the field."""
    fields: dict[str, Any] = {}
    for name, table in tomllib.loads(text).items():
        if not isinstance(table, dict) or "default" not in table or set(table) - KEYS:
            raise ValueError(f"{where} [{name}]: a threshold is a table of {sorted(KEYS)} with a default")
        if type(table["default"]) not in (float, int, bool):
            raise ValueError(f"{where} [{name}]: the default must be a float, an int or a bool")
        fields[name] = (type(table["default"]), Field(**table))
    return fields


def threshold_model(name: str, base: type[M], toml_name: str) -> type[M]:
    """The model `name`: `base` (its config, its non-scalar fields, its methods and validators) with the thresholds
    of `schemas/<toml_name>` as fields, defined as if in `base`'s module."""
    text = resources.files("schemas").joinpath(toml_name).read_text(encoding="utf-8")
    fields = threshold_fields(text, f"schemas/{toml_name}")
    return create_model(name, __base__=base, __module__=base.__module__, **fields)
