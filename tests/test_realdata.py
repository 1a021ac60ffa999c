"""The real samples are read in one way and listed in one place: tests/REAL_SAMPLES.md names exactly the folders the
tests and benchmarks read, each with the files that read it; a listed sample absent from the shared folder skips its
test, and fails it under CI=true unless the list says it is still awaited; an unlisted one is an error."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tests.realdata as rd
from tests.realdata import LIST, REPO, awaited, listed, parse, realdata

READERS = ("tests", "benchmarks")  # where a file that reads a sample may be
SELF = {Path(rd.__file__).resolve(), Path(__file__).resolve()}


def _strings(tree: ast.Module) -> list[str]:
    """The string constants of a module, its docstrings left out (they name samples without reading them)."""
    docs = {
        id(n.body[0].value)
        for n in ast.walk(tree)
        if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and n.body
        and isinstance(n.body[0], ast.Expr)
        and isinstance(n.body[0].value, ast.Constant)
    }
    return [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs
    ]


def _module(name: str) -> str:
    return name.replace(".", "/") + ".py"


def _imported(tree: ast.Module, constants: dict[str, dict[str, str]]) -> list[str]:
    """The string constants a module takes from another module of the tree by name: `from m import NAME`, or
    `from pkg import m as g` and `g.NAME`."""
    out, aliases = [], {}
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and n.module and not n.level:
            for a in n.names:
                if a.name in constants.get(_module(n.module), {}):
                    out.append(constants[_module(n.module)][a.name])
                elif _module(f"{n.module}.{a.name}") in constants:
                    aliases[a.asname or a.name] = _module(f"{n.module}.{a.name}")
    for n in ast.walk(tree):
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in aliases:
            out += [v for k, v in constants[aliases[n.value.id]].items() if k == n.attr]
    return out


def readers() -> dict[str, list[str]]:
    """sample folder -> the test and benchmark files (relative to the repository) that name it in code: a string
    that is the folder or a path in it, written there or imported by name from a module that writes it. The folders
    looked for: the listed ones, those in the shared folder, and the first part of every string passed to
    `realdata`."""
    trees = {
        p.relative_to(REPO).as_posix(): ast.parse(p.read_text(encoding="utf-8"))
        for top in READERS
        for p in sorted((REPO / top).rglob("*.py"))
        if p.resolve() not in SELF
    }
    constants = {  # module -> its top-level NAME = "string" assignments
        rel: {
            t.id: n.value.value
            for n in tree.body
            if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
            for t in n.targets
            if isinstance(t, ast.Name)
        }
        for rel, tree in trees.items()
    }
    shared = rd.SHARED_REALDATA
    folders = set(listed()) | ({p.name for p in shared.iterdir() if p.is_dir()} if shared.is_dir() else set())
    for tree in trees.values():
        for n in ast.walk(tree):
            call = isinstance(n, ast.Call) and getattr(n.func, "id", None) == "realdata" and n.args
            if call and isinstance(n.args[0], ast.Constant) and isinstance(n.args[0].value, str):
                folders.add(n.args[0].value.split("/", 1)[0])
    out: dict[str, list[str]] = {}
    for rel, tree in trees.items():
        strings = {*_strings(tree), *_imported(tree, constants)}
        for folder in folders:
            if folder in strings or any(s.startswith(folder + "/") for s in strings):
                out.setdefault(folder, []).append(rel)
    return {k: sorted(v) for k, v in sorted(out.items())}


def test_the_list_names_exactly_the_samples_read_and_who_reads_them() -> None:
    found = readers()
    said = {name: sorted(s.users) for name, s in listed().items()}
    assert said == found, (
        f"{LIST.name} is stale: make each row's last column the files that read that folder, add a row for a new "
        f"folder, drop one nothing reads.\nlisted only: {sorted(said.keys() - found.keys())}\nread but not listed: "
        f"{sorted(found.keys() - said.keys())}\n"
        + "\n".join(
            f"{k}: listed {said.get(k)}, read by {found.get(k)}" for k in sorted(found) if said.get(k) != found[k]
        )
    )


def test_each_row_names_its_source_and_licence() -> None:
    for name, s in listed().items():
        assert "/" in s.source and "@" in s.source and ":" in s.source, f"{name}: source is owner/repo@commit:path"
        assert s.licence, name


def test_the_placed_samples_are_there_and_the_awaited_ones_are_not() -> None:
    for name, s in listed().items():
        if s.placed:
            assert realdata(name).is_dir()  # absent: skips, or fails under CI=true
        elif rd.SHARED_REALDATA.is_dir():
            assert awaited(name), f"{name} is in {rd.SHARED_REALDATA} now: move its row to the first table"


TEXT = """# x
## In the shared folder
| folder | source | licence | tests |
|---|---|---|---|
| `here` | `a/b@c:d` | MIT | `tests/x.py`, `benchmarks/y.py` |
## Awaited: named by tests, not yet there
| folder | source | licence | tests |
|---|---|---|---|
| `later/` | `e/f@g:` | none stated | `tests/z.py` |
"""


def test_the_list_parses_into_rows_by_table() -> None:
    rows = parse(TEXT)
    assert rows["here"].users == ("tests/x.py", "benchmarks/y.py") and rows["here"].placed
    assert rows["later"].source == "e/f@g:" and not rows["later"].placed


def test_an_absent_sample_skips_fails_on_ci_and_an_unlisted_one_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    placed = next(n for n, s in listed().items() if s.placed)
    monkeypatch.setattr(rd, "SHARED_REALDATA", tmp_path)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=rf"{placed}.*REAL_SAMPLES\.md"):
        realdata(f"{placed}/x")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        realdata(placed)
    if waiting := next((n for n, s in listed().items() if not s.placed), None):
        with pytest.raises(pytest.skip.Exception, match="awaits"):
            realdata(waiting)
    with pytest.raises(LookupError, match=r"REAL_SAMPLES\.md"):
        realdata("no_such_sample")
    (tmp_path / placed).mkdir()
    assert realdata(f"{placed}/a/b") == tmp_path / placed / "a/b"
