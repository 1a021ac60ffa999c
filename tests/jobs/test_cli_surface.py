"""The `eidata` command line is frozen: every subcommand, flag spelling, default, type, choice list and arity is
recorded in `cli_surface.json`, and any change fails here (torchtitan's tests/unit_tests/test_no_new_cli_options.py
habit). Users' scripts and the README's CLI table rely on the surface; a change to it is a reviewed decision:
regenerate the file with `python -m tests.jobs.test_cli_surface` and say why in the commit.

Help texts are not frozen: they come from the job models' `Field(description=...)` and may be reworded.

And each option is defined once (issue 26): its default and help come from one model field, or from one argparse
`Arg` for an option no model holds; an `Arg` never restates a field the command's model holds, an `Opt` never
restates its field's description, and two models never carry copies of one field (they share an `Annotated` one,
`jobs.runtime.stage.CorpusRoot`, or inherit one: `jobs.runtime.stage.RayJob`)."""

from __future__ import annotations

import argparse
import json
import sys
import typing
from collections import defaultdict
from collections.abc import Hashable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from jobs.cli import COMMANDS, SETTINGS, Group, _load, build_parser
from jobs.runtime.options import Arg, Opt, add_options

SURFACE = Path(__file__).with_name("cli_surface.json")


def _action(a: argparse.Action) -> dict[str, Any]:
    kind = type(a).__name__.lstrip("_").removesuffix("Action") or "Store"
    return {
        "flags": list(a.option_strings) or [a.dest],  # a positional is named by its dest (shown in usage)
        "action": kind,
        "default": a.default if a.default is not argparse.SUPPRESS else "==SUPPRESS==",
        "type": getattr(a.type, "__name__", None),
        "choices": list(a.choices) if a.choices is not None else None,
        "nargs": a.nargs,
        "const": a.const,
        "required": a.required,
    }


def surface(parser: argparse.ArgumentParser) -> dict[str, list[dict[str, Any]]]:
    """Subcommand (or "" for the top level) -> its options, in the order `--help` shows them."""
    out: dict[str, list[dict[str, Any]]] = {"": []}
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            for name, sub in a.choices.items():
                out[name] = [_action(x) for x in sub._actions if not isinstance(x, argparse._HelpAction)]
        elif not isinstance(a, argparse._HelpAction):
            out[""].append(_action(a))
    return out


def _normalized(s: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(s))  # tuples -> lists, as the file holds them


def test_cli_surface_is_frozen() -> None:
    frozen = json.loads(SURFACE.read_text(encoding="utf-8"))
    now = _normalized(surface(build_parser()))
    assert sorted(now) == sorted(frozen), "subcommands added or removed"
    for command in frozen:
        got = {tuple(o["flags"]): o for o in now[command]}
        want = {tuple(o["flags"]): o for o in frozen[command]}
        assert sorted(got) == sorted(want), f"eidata {command}: flags added, removed or renamed"
        for flags, option in want.items():
            assert got[flags] == option, f"eidata {command} {'/'.join(flags)} changed"
        assert [o["flags"] for o in now[command]] == [o["flags"] for o in frozen[command]], f"{command}: order"


def test_surface_sees_a_change() -> None:
    """The freeze can fail: a changed default and a new flag are both seen."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["latents"]
    next(a for a in sub._actions if "--rate" in a.option_strings).default = 4.0
    sub.add_argument("--new-flag")
    changed = _normalized(surface(parser))["latents"]
    frozen = json.loads(SURFACE.read_text(encoding="utf-8"))["latents"]
    assert changed != frozen
    assert [o["default"] for o in changed if o["flags"] == ["--rate"]] == [4.0]


# (command, flag) -> why its help is written twice
HELP_TWICE = {
    ("train", "--manifest"): "TrainConfig.manifest's description is the run config's, saved in every checkpoint; the "
    "flag's help tells a user what to pass (`Opt.help`: a field described for the model, not for a user)",
}


def declared(command: str) -> list[Opt | Arg]:
    """The command's options as `jobs/cli.py` declares them, groups flattened, in order."""
    out: list[Opt | Arg] = []
    for o in map(_load, _load(COMMANDS[command].options)):
        out += list(_load(o.options)) if isinstance(o, Group) else [o]
    return [*out, SETTINGS]


def _leaves(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, FieldInfo]]:
    for name, info in model.model_fields.items():
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            yield from _leaves(info.annotation, f"{prefix}{name}.")
        else:
            yield prefix + name, info


def _definition(model: type[BaseModel], path: str) -> Hashable:
    """Where the field at `path` is written: a shared `Annotated` field's own `Field(...)` object, else the class that
    declares it (a field inherited by several models is one definition)."""
    head, _, rest = path.partition(".")
    if rest:
        return _definition(model.model_fields[head].annotation, rest)  # type: ignore[arg-type]
    hint = typing.get_type_hints(model, include_extras=True)[head]
    shared = [m for m in getattr(hint, "__metadata__", ()) if isinstance(m, FieldInfo)]
    if shared:
        return id(shared[0])
    owner = next(c for c in model.__mro__ if head in getattr(c, "__annotations__", {}))
    return (owner.__module__, owner.__qualname__, head)


def _states_something(info: FieldInfo) -> bool:
    return bool(info.description) or info.default not in (None, PydanticUndefined) or info.default_factory is not None


def defined_twice(commands: Mapping[str, Sequence[Opt | Arg]]) -> dict[tuple[str, str], str]:
    """(command, flag) -> how the option is defined in more than one place."""
    found: dict[tuple[str, str], str] = {}
    copies: dict[tuple[str, str, str], dict[Hashable, list[str]]] = defaultdict(lambda: defaultdict(list))
    for command, options in commands.items():
        models = {o.model for o in options if isinstance(o, Opt)}
        for o in options:
            if isinstance(o, Arg):
                dest = o.flags[0].lstrip("-").replace("-", "_")
                for model in models:
                    for path, info in _leaves(model):
                        if path.rsplit(".", 1)[-1] == dest and _states_something(info):
                            found[(command, o.flags[0])] = f"an Arg beside the field {model.__name__}.{path}"
                continue
            info = o.info()
            if o.help and info.description:
                found[(command, o.names[0])] = f"help in the Opt and in {o.model.__name__}.{o.fields[0]}"
            key = (o.names[0], str(info.description), repr(o.default()))
            copies[key][_definition(o.model, o.fields[0])].append(f"{command}: {o.model.__name__}.{o.fields[0]}")
    for (flag, _, _), definitions in copies.items():
        if len(definitions) > 1:
            where = sorted(w for ws in definitions.values() for w in ws)
            for w in where:
                found[(w.split(":")[0], flag)] = f"copies of one field: {', '.join(where)}"
    return found


def test_no_option_is_defined_in_more_than_one_place() -> None:
    commands = {name: declared(name) for name in COMMANDS}
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, options in commands.items():  # every flag of the parser comes from one declaration
        actions = [a for a in sub.choices[name]._actions if not isinstance(a, argparse._HelpAction)]
        assert len(actions) == len(options), name
    found = defined_twice(commands)
    assert set(found) == set(HELP_TWICE), {k: v for k, v in found.items() if k not in HELP_TWICE}


class _Cameras(BaseModel):
    root: Path = Field(description="corpus folder")
    cameras: list[str] | None = Field(None, description="camera names")
    retries: int = Field(3, description="retries")
    device: Annotated[str, Field("auto", description="where")]


class _OtherCameras(BaseModel):
    cameras: list[str] | None = Field(None, description="camera names")  # a copy of _Cameras.cameras
    device: Annotated[str, Field("auto", description="where")]  # a copy too, though Annotated


class _Child(_Cameras):
    pass


def test_a_second_definition_is_seen() -> None:
    """Each way of defining an option twice is found, and none that is not."""
    commands = {
        "a": [
            Arg("root", help="corpus"),  # restates _Cameras.root
            Opt(_Cameras, "cameras"),
            Opt(_Cameras, "retries", help="how often"),  # restates the description
            Opt(_Cameras, "device"),
        ],
        "b": [Opt(_OtherCameras, "cameras"), Opt(_OtherCameras, "device")],
        "c": [Opt(_Child, "cameras"), Arg("--out", default="x")],  # inherited: the same definition
    }
    for options in commands.values():  # the planted options are valid argparse options
        add_options(argparse.ArgumentParser(), options)
    assert set(defined_twice(commands)) == {
        ("a", "root"),
        ("a", "--retries"),
        ("a", "--cameras"),
        ("b", "--cameras"),
        ("c", "--cameras"),
        ("a", "--device"),
        ("b", "--device"),
    }
    inherited = defined_twice({"a": commands["a"][1:2], "c": commands["c"]})
    assert inherited == {}  # _Child's cameras is _Cameras' own field, and an Arg beside no field is no copy


if __name__ == "__main__":  # regenerate the frozen file (a reviewed change of the CLI)
    SURFACE.write_text(json.dumps(_normalized(surface(build_parser())), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {SURFACE}", file=sys.stderr)
