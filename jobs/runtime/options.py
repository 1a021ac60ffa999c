"""Command-line options generated from the typed job models, so an option is defined once: in its model's `Field`.

An `Opt` names a model field; its flag, default, type, choices, arity and help come from the field (torchtitan derives
its CLI from config dataclasses with `tyro.cli`: the same habit for pydantic models without the dependency). An option
no model holds is an `Arg`. `job_values` reads the parsed flags back as the nested dict the model validates.
"""

from __future__ import annotations

import argparse
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from jobs.spec_validators import strip_type


@dataclass(frozen=True)
class Opt:
    """One option bound to `model`'s `field` ("a.b" reaches a field of a nested model)."""

    model: type[BaseModel]
    field: str | tuple[str, ...]  # several fields: one flag, with `parse` and `show`
    flags: tuple[str, ...] = ()  # default: ("--field-name",); one name without dashes: a positional
    # default None, "not given", the model's default stated in the help (`eidata train`: a flag is checked against a
    # checkpoint's config only when given)
    unset: bool = False
    required: bool = False
    words: Mapping[str, Any] | None = None  # the flag's words for the values (`--compile auto|on|off`)
    parse: Callable[[str], tuple[Any, ...]] | None = None  # one flag for several fields (`--size HxW`)
    show: Callable[..., str] | None = None  # the fields' defaults written as the flag's default
    help: str | None = None  # only where the field's description is written for the model, not for a user

    @property
    def fields(self) -> tuple[str, ...]:
        return self.field if isinstance(self.field, tuple) else (self.field,)

    @property
    def names(self) -> tuple[str, ...]:
        return self.flags or ("--" + self.fields[0].rsplit(".", 1)[-1].replace("_", "-"),)

    @property
    def dest(self) -> str:
        """argparse's own name for the flag: the first long flag, or the positional's name."""
        long = next((f for f in self.names if f.startswith("--")), self.names[0])
        return long.lstrip("-").replace("-", "_")

    def info(self, name: str | None = None) -> FieldInfo:
        return field_info(self.model, name or self.fields[0])

    def default(self) -> Any:
        """The flag's default as argparse holds it, derived from the field(s)."""
        if self.unset:
            return None
        values = [_default(self.info(f)) for f in self.fields]
        if self.show is not None:
            return self.show(*values)
        if self.words is not None:
            return next(w for w, v in self.words.items() if v == values[0])
        return values[0]


def opts(model: type[BaseModel], *fields: str) -> tuple[Opt, ...]:
    """An `Opt` of each of `model`'s `fields`, in order, every one as its field states it."""
    return tuple(Opt(model, f) for f in fields)


@dataclass(frozen=True, init=False)
class Arg:
    """An option no model holds: argparse's own arguments, written once here as `add_argument` takes them."""

    flags: tuple[str, ...]
    kwargs: dict[str, Any]

    def __init__(self, *flags: str, **kwargs: Any) -> None:
        object.__setattr__(self, "flags", flags)
        object.__setattr__(self, "kwargs", kwargs)


def field_info(model: type[BaseModel], path: str) -> FieldInfo:
    """The `FieldInfo` at `path` ("a.b": field b of the model annotating field a)."""
    head, _, rest = path.partition(".")
    info = model.model_fields[head]
    if not rest:
        return info
    sub = info.annotation
    if not (isinstance(sub, type) and issubclass(sub, BaseModel)):
        raise TypeError(f"{model.__name__}.{head} is not a model; cannot reach {rest}")
    return field_info(sub, rest)


def _default(info: FieldInfo) -> Any:
    if info.default is not PydanticUndefined:
        return info.default
    if info.default_factory is not None:
        return info.default_factory()  # type: ignore[call-arg]
    return None  # a required field: the command checks it was given (with its own message)


def argparse_kwargs(opt: Opt) -> dict[str, Any]:
    """The `add_argument` keywords of `opt`, from its field."""
    info = opt.info()
    kind = strip_type(info.annotation)
    default = opt.default()
    kw: dict[str, Any] = {"help": _help(opt, info)}
    if opt.words is not None:
        return {**kw, "choices": list(opt.words), "default": default}
    if kind is bool:
        return {**kw, "action": "store_true", "default": None if opt.unset else default}
    if typing.get_origin(kind) is typing.Literal:
        kw["choices"] = list(typing.get_args(kind))
    elif typing.get_origin(kind) in (list, tuple):
        kw["nargs"] = "+"
    elif kind in (int, float) and opt.parse is None:
        kw["type"] = kind
    if opt.required:
        kw["required"] = True
    return {**kw, "default": default}


def _help(opt: Opt, info: FieldInfo) -> str | None:
    """The field's description, with the default a user gets when it does not say it already."""
    text = opt.help or info.description
    default = _default(info) if opt.unset else opt.default()
    if opt.words is not None:
        default = next((w for w, v in opt.words.items() if v == default), default)
    if default in (None, False, "") or (text and "default" in text):
        return text
    return f"{text} (default: {default})" if text else f"default: {default}"


def add_options(parser: argparse.ArgumentParser | Any, options: Sequence[Opt | Arg]) -> None:
    """Add each option to `parser` (or an argument group), in order."""
    for o in options:
        if isinstance(o, Arg):
            parser.add_argument(*o.flags, **o.kwargs)
            continue
        kw = argparse_kwargs(o)
        if not o.names[0].startswith("-"):  # a positional: always given
            kw.pop("default")
        parser.add_argument(*o.names, **kw)


def job_values(args: argparse.Namespace, options: Sequence[Opt | Arg], model: type[BaseModel]) -> dict[str, Any]:
    """The fields of `model` the parsed `args` give, as a nested dict (flags not given are left out when `unset`)."""
    out: dict[str, Any] = {}
    for o in options:
        if isinstance(o, Arg) or o.model is not model:
            continue
        raw = getattr(args, o.dest)
        if raw is None and o.unset:
            continue
        if o.parse is not None:
            values = o.parse(raw)
        elif o.words is not None:
            values = (o.words[raw],)
        else:
            values = (raw,)
        for name, value in zip(o.fields, values, strict=True):
            *parents, leaf = name.split(".")
            node = out
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = value
    return out
