"""Thresholds as data: the scalar fields of a QA config model (`schemas.behaviour.BehaviourConfig`,
`schemas.qa.QAConfig`, `schemas.canonicalize.QualityConfig` and `ValidityConfig`) are tables of a TOML file beside
their module, one table a field: its `default` (its type is the field's: a float, an int or a bool), its bounds
(`gt`, `ge`, `lt`, `le`) and its `description`, where the measured figures behind the default stand. A job spec's
keys are the field names, and a bad value's error names its field, as for a model written out in Python.

Each such model knows where a user sets it (`Keyed`): a verdict that quotes a threshold names it by its key, the
path a job spec writes (`canonicalize.validity.min_length_frames`), so the message of a refusal says what to relax
(issue 97 item 5: HOT3D's "no span of at least min_length_frames 10" named a field, not where it is set)."""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any, ClassVar, Self, TypeVar

from pydantic import BaseModel, Field, PrivateAttr, create_model

KEYS = frozenset({"default", "gt", "ge", "lt", "le", "description"})


class Keyed(BaseModel):
    """A model of settings that knows where a user sets them: `key(field)` is the field's dotted path in a job spec
    (`SPEC_KEY`, the model's own path, then the field), or, for an instance a command's options made (`set_by`),
    that option."""

    SPEC_KEY: ClassVar[str] = ""  # the model's path in a job spec ("canonicalize.validity")
    _set_by: str = PrivateAttr("")  # a form of `field` and `flag` naming where else the values came from

    def key(self, field: str) -> str:
        """Where a user sets `field`; KeyError for a name that is no field (a message would name nothing real)."""
        if field not in type(self).model_fields:
            raise KeyError(f"{field!r} is no field of {type(self).__name__}")
        if self._set_by:
            return self._set_by.format(field=field, flag=field.replace("_", "-"))
        return f"{self.SPEC_KEY}.{field}" if self.SPEC_KEY else field

    def set_by(self, form: str) -> Self:
        """This model with its keys read as `form` (`"eidata verdicts --{flag}"`): values a command's options gave."""
        out = self.model_copy()
        out._set_by = form
        return out


M = TypeVar("M", bound=Keyed)


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


def threshold_model(name: str, base: type[M], toml_name: str, key: str) -> type[M]:
    """The model `name`: `base` (its config, its non-scalar fields, its methods and validators) with the thresholds
    of `schemas/<toml_name>` as fields, defined as if in `base`'s module; `key` is its path in a job spec."""
    text = resources.files("schemas").joinpath(toml_name).read_text(encoding="utf-8")
    fields = threshold_fields(text, f"schemas/{toml_name}")
    model = create_model(name, __base__=base, __module__=base.__module__, **fields)
    model.SPEC_KEY = key
    return model
