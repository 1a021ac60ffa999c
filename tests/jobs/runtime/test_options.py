"""Options generated from the job models: each flag's default, type, choices and help come from its `Field`, and no
option's default is written in two places (the review's "one CLI option lives in three places")."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, Field
from pydantic_core import PydanticUndefined

from jobs.cli import COMMANDS, Group, _load, build_parser
from jobs.runtime.options import Arg, Opt, add_options, field_info, job_values

JOBS = Path(__file__).resolve().parents[3] / "jobs"


class Inner(BaseModel):
    batch_size: int = Field(256, gt=0, description="frames per pass")
    compile: bool | None = Field(None, description="torch.compile")


class Toy(BaseModel):
    root: str = Field(description="corpus folder")
    inner: Inner = Field(default_factory=Inner)
    rate_hz: float = Field(3.0, description="frames per second")
    device: Literal["auto", "cuda", "cpu"] = Field("auto", description="where")
    cameras: list[str] | None = Field(None, description="camera names")
    height: int = 256
    width: int = 128
    overwrite: bool = Field(False, description="redo")


TOY = (
    Opt(Toy, "root", flags=("root",)),
    Opt(Toy, "rate_hz", flags=("--rate",)),
    Opt(Toy, "inner.batch_size", flags=("--batch",)),
    Opt(Toy, "inner.compile", words={"auto": None, "on": True, "off": False}),
    Opt(Toy, "device"),
    Opt(Toy, "cameras"),
    Opt(
        Toy, ("height", "width"), flags=("--size",), parse=lambda t: tuple(map(int, t.split("x"))), show="{}x{}".format
    ),
    Opt(Toy, "overwrite"),
)


def _parser(options: tuple[Opt | Arg, ...]) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    add_options(p, options)
    return p


def test_flags_come_from_the_fields() -> None:
    args = _parser(TOY).parse_args(["corpus"])
    assert (args.rate, args.batch, args.compile, args.device, args.size, args.overwrite) == (
        3.0,
        256,
        "auto",
        "auto",
        "256x128",
        False,
    )
    job = Toy.model_validate(job_values(args, TOY, Toy))
    assert job == Toy(root="corpus")
    given = ["c", "--rate", "2", "--batch", "7", "--compile", "off", "--device", "cpu", "--cameras", "a", "b",
             "--size", "32x16", "--overwrite"]  # fmt: skip
    job = Toy.model_validate(job_values(_parser(TOY).parse_args(given), TOY, Toy))
    assert job == Toy(
        root="c",
        rate_hz=2.0,
        inner=Inner(batch_size=7, compile=False),
        device="cpu",
        cameras=["a", "b"],
        height=32,
        width=16,
        overwrite=True,
    )
    with pytest.raises(SystemExit):
        _parser(TOY).parse_args(["c", "--device", "tpu"])  # choices from the Literal


def test_a_changed_field_default_changes_the_flag() -> None:
    """The flag holds no default of its own: change the field, the flag follows (so the check can fail)."""

    class Faster(Toy):
        rate_hz: float = Field(5.0, description="frames per second")

    opts = (Opt(Faster, "root", flags=("root",)), Opt(Faster, "rate_hz", flags=("--rate",)))
    assert _parser(opts).parse_args(["c"]).rate == 5.0
    assert "(default: 5.0)" in _parser(opts).format_help()


def test_unset_flags_leave_the_model_default_and_say_it() -> None:
    opts = (Opt(Toy, "rate_hz", flags=("--rate",), unset=True), Opt(Toy, "overwrite", unset=True))
    p = _parser(opts)
    args = p.parse_args([])
    assert (args.rate, args.overwrite) == (None, None)
    assert job_values(args, opts, Toy) == {}
    assert job_values(p.parse_args(["--rate", "1.5", "--overwrite"]), opts, Toy) == {"rate_hz": 1.5, "overwrite": True}
    assert "(default: 3.0)" in p.format_help()


def _options(command: str) -> list[Opt | Arg]:
    out: list[Opt | Arg] = []
    for o in _load(COMMANDS[command].options):
        out += list(_load(o.options)) if isinstance(o, Group) else [o]
    return out


def _actions(command: str) -> dict[str, argparse.Action]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    return {a.dest: a for a in sub._actions}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_model_flag_takes_its_default_from_its_field(command: str) -> None:
    actions = _actions(command)
    for o in _options(command):
        if not isinstance(o, Opt) or not o.names[0].startswith("-"):
            continue
        info = field_info(o.model, o.fields[0])
        field_default = info.get_default(call_default_factory=True) if info.default is not PydanticUndefined else None
        got = actions[o.dest].default
        if o.unset:
            assert got is None, (command, o.names)
        elif o.show is not None:
            assert got == o.show(*(field_info(o.model, f).default for f in o.fields)), (command, o.names)
        elif o.words is not None:
            assert o.words[got] == field_default, (command, o.names)
        else:
            assert got == field_default, (command, o.names)


def _literal_defaults(path: Path) -> list[tuple[str, object]]:
    """(flag, value) of every default written as a literal in an `Arg(...)` or `add_argument(...)` of `path`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        if getattr(node.func, "id", getattr(node.func, "attr", "")) not in ("Arg", "add_argument"):
            continue
        try:
            flag = ast.literal_eval(node.args[0]) if node.args else "?"
        except ValueError:  # a flag made from a table (`catalog.bounded.OPTIONS`): its default is still seen
            flag = ast.unparse(node.args[0])
        pairs = [(kw.arg, kw.value) for kw in node.keywords if kw.arg == "default"]
        found += [(flag, v.value) for _, v in pairs if isinstance(v, ast.Constant) and v.value not in (None, False)]
    return found


def test_no_default_is_written_in_two_places() -> None:
    """Outside the models, a CLI default may only be written where it has no other home: `eidata demo --out`."""
    written = {str(p.relative_to(JOBS)): d for p in sorted(JOBS.rglob("*.py")) if (d := _literal_defaults(p))}
    assert written == {"demo/pipeline.py": [("--out", "demo_out")]}


def test_the_scan_sees_a_literal_default(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text('Arg("--rate", type=float, default=3.0)\np.add_argument("--batch", default=256)\n')
    assert _literal_defaults(f) == [("--rate", 3.0), ("--batch", 256)]
