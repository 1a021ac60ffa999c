"""The `eidata` command line is frozen: every subcommand, flag spelling, default, type, choice list and arity is
recorded in `cli_surface.json`, and any change fails here (torchtitan's tests/unit_tests/test_no_new_cli_options.py
habit). Users' scripts and the README's CLI table rely on the surface; a change to it is a reviewed decision:
regenerate the file with `python -m tests.jobs.test_cli_surface` and say why in the commit.

Help texts are not frozen: they come from the job models' `Field(description=...)` and may be reworded."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from jobs.cli import build_parser

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


if __name__ == "__main__":  # regenerate the frozen file (a reviewed change of the CLI)
    SURFACE.write_text(json.dumps(_normalized(surface(build_parser())), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {SURFACE}", file=sys.stderr)
