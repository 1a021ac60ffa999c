"""Validator helpers of the job spec's models: errors raised inside a validator that keep their own field path, and
the keys a model would silently ignore.

Pydantic reports what a validator raises at the validator's own location; `nested_error` carries several issues, each
with its path under that location, and `flat_errors` expands them again, so `jobs.spec.load_spec` can give each issue
its field and line.
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ValidationError
from pydantic_core import PydanticCustomError

Loc = tuple[str | int, ...]

NESTED = "spec_nested"  # a custom error carrying several located issues; `flat_errors` expands it


# --- located errors raised from inside validators --------------------------------------------------------------


def dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def nested_error(issues: Sequence[tuple[Loc, str, str]]) -> PydanticCustomError:
    """One pydantic error that carries `(loc relative to the field, error type, message)` issues, each keeping its
    own place (e.g. `options.verify_crc`)."""
    summary = "; ".join(f"{dotted(loc)}: {msg}" if loc else msg for loc, _, msg in issues)
    return PydanticCustomError(NESTED, "{summary}", {"summary": summary, "issues": issues})


# --- unknown keys in models that do not forbid them themselves ---------------------------------------------------


def strip_type(tp: Any) -> Any:
    """`Annotated[X, ...]` -> X; `X | None` -> X. Other unions stay as they are."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def as_model(tp: Any) -> type[BaseModel] | None:
    tp = strip_type(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def unknown_keys(tp: Any, value: Any, loc: Loc = ()) -> list[tuple[Loc, str, str]]:
    """Keys the models under `tp` would silently ignore (those without `extra="forbid"`: a typo in a threshold
    must not pass unnoticed). Models that forbid extras report their own keys; their children are still walked."""
    model = as_model(tp)
    if model is not None:
        if not isinstance(value, dict):
            return []
        forbid = model.model_config.get("extra") == "forbid"
        out: list[tuple[Loc, str, str]] = []
        for key, sub in value.items():
            field = model.model_fields.get(key) if isinstance(key, str) else None
            if field is None:
                if not forbid:
                    out.append(((*loc, key), "extra_forbidden", "Extra inputs are not permitted"))
                continue
            out += unknown_keys(field.annotation, sub, (*loc, key))
        return out
    tp = strip_type(tp)
    origin, args = get_origin(tp), get_args(tp)
    if origin is list and args and isinstance(value, list):
        return [issue for i, v in enumerate(value) for issue in unknown_keys(args[0], v, (*loc, i))]
    if origin is dict and len(args) == 2 and isinstance(value, dict):
        return [issue for k, v in value.items() for issue in unknown_keys(args[1], v, (*loc, k))]
    return []


def flat_errors(exc: ValidationError) -> list[tuple[Loc, str, str]]:
    """`(loc, type, message)` of every error, nested issues expanded under the location that raised them."""
    out: list[tuple[Loc, str, str]] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        if err["type"] == NESTED:
            out += [((*loc, *inner), kind, msg) for inner, kind, msg in err["ctx"]["issues"]]
        else:
            out.append((loc, err["type"], err["msg"]))
    return out


def no_unknown_keys(model: type[BaseModel]) -> BeforeValidator:
    def check(value: Any) -> Any:
        if issues := unknown_keys(model, value):
            try:  # report the model's other errors in the same pass
                model.model_validate(value)
            except ValidationError as e:
                issues += [i for i in flat_errors(e) if i[1] != "extra_forbidden"]
            raise nested_error(issues)
        return value

    return BeforeValidator(check)
