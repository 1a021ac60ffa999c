"""A room's README says what is in its folder: every module its "Modules:" paragraph names is there (a folder name
`x/` followed by `(a, b)` names modules of that folder; a path with a `/` inside names a file of the repository),
every module of the folder is named somewhere in the README, and the import lines of its python examples import.
Other text in parentheses after a module (what it does) is prose and not read.

Every room has one (issue 100 item 4: "a README in every room"): each folder of the shipped tree that holds a Python
module has a README.md, which says in at most 40 lines the room's purpose, its door (what others call it through),
what it may import and what it must not do, each a paragraph opening with its word, and its modules."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHIPPED = ("schemas", "adapters", "ingest", "training", "jobs")
READMES = sorted(p for top in SHIPPED for p in (REPO / top).rglob("README.md"))
IDENT = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


def _ids(readme: Path) -> str:
    return readme.relative_to(REPO).as_posix()


def modules_paragraph(text: str) -> str | None:
    """The text from "Modules:" to the end of its paragraph, or None."""
    at = text.find("Modules:")
    if at < 0:
        return None
    return re.split(r"\n\s*\n", text[at + len("Modules:") :], maxsplit=1)[0]


def _groups(paragraph: str) -> list[tuple[str, str]]:
    """(backticked name at the top level, the parenthesis that follows it or "") in order."""
    out, depth, i = [], 0, 0
    while i < len(paragraph):
        c = paragraph[i]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "`" and depth == 0:
            end = paragraph.index("`", i + 1)
            name, rest = paragraph[i + 1 : end], paragraph[end + 1 :]
            follow = re.match(r"\s*\(", rest)
            inner = ""
            if follow:  # the balanced parenthesis right after the name
                level, j = 0, follow.end() - 1
                for j in range(follow.end() - 1, len(rest)):
                    level += {"(": 1, ")": -1}.get(rest[j], 0)
                    if level == 0:
                        break
                inner = rest[follow.end() : j]
            out.append((name, inner))
            i = end
        i += 1
    return out


def listed_paths(text: str, room: Path) -> list[Path]:
    """The files and folders the "Modules:" paragraph of a README `text` of folder `room` names: paths that must
    exist."""
    paragraph, out = modules_paragraph(text), []
    for name, inner in _groups(paragraph or ""):
        if "<" in name:
            continue  # a pattern (`descriptions/<name>.urdf`), not a file
        if "/" in name.rstrip("/"):
            out.append(REPO / name)  # a path of the repository
            continue
        out.append(room / (name if name.endswith(("/", ".py")) else f"{name}.py"))
        if name.endswith("/"):  # `x/` (`a`, `b`): modules of that folder; other words there are prose
            for sub in re.findall(r"`([^`]+)`", inner):
                out.append(REPO / sub if "/" in sub.rstrip("/") else room / name / f"{sub.removesuffix('.py')}.py")
    return out


@pytest.mark.parametrize("readme", [r for r in READMES if modules_paragraph(r.read_text())], ids=_ids)
def test_every_module_a_readme_lists_is_in_its_folder(readme: Path) -> None:
    paths = listed_paths(readme.read_text(encoding="utf-8"), readme.parent)
    missing = [p.relative_to(REPO).as_posix() for p in paths if not p.exists()]
    assert paths and not missing, f"{readme.relative_to(REPO)} lists what its folder lacks: {missing}"


@pytest.mark.parametrize("readme", [r for r in READMES if modules_paragraph(r.read_text())], ids=_ids)
def test_every_module_of_the_folder_is_named_in_its_readme(readme: Path) -> None:
    prose = re.sub(r"```.*?```", "", readme.read_text(encoding="utf-8"), flags=re.S)  # fences would pair wrongly
    words = set(re.findall(r"`([^`]+)`", prose))
    names = {w.removesuffix(".py").rstrip("/").rsplit("/", 1)[-1] for w in words}
    modules = [p for p in sorted(readme.parent.iterdir()) if p.suffix == ".py" and p.name != "__init__.py"]
    modules += [p for p in sorted(readme.parent.iterdir()) if p.is_dir() and (p / "__init__.py").is_file()]
    unnamed = [p.name for p in modules if p.stem not in names]
    assert not unnamed, f"{readme.relative_to(REPO)} never names these modules of its folder: {unnamed}"


def import_lines(text: str) -> list[str]:
    """The top-level `import` and `from ... import` statements of a text's python code blocks."""
    out = []
    for block in re.findall(r"```python\n(.*?)```", text, flags=re.S):
        try:
            body = ast.parse(block).body
        except SyntaxError:  # an example with a placeholder: its import lines alone
            body = [n for line in block.splitlines() if IDENT.match(line) for n in _parsed(line)]
        out += [ast.unparse(n) for n in body if isinstance(n, (ast.Import, ast.ImportFrom))]
    return out


def _parsed(line: str) -> list[ast.stmt]:
    try:
        return ast.parse(line).body
    except SyntaxError:
        return []


@pytest.mark.parametrize("readme", [r for r in READMES if import_lines(r.read_text())], ids=_ids)
def test_the_import_lines_of_a_readmes_examples_import(readme: Path) -> None:
    failed = []
    for stmt in import_lines(readme.read_text(encoding="utf-8")):
        try:
            exec(stmt, {})  # the import alone: the rest of the example needs data
        except ImportError as e:
            failed.append(f"{stmt}: {e}")
    assert not failed, f"{readme.relative_to(REPO)}:\n" + "\n".join(failed)


def test_the_modules_paragraph_reader() -> None:
    text = "x\n\nModules: `a` (does `b`), `c/` (`d`, `e`; see `f/g.py`), `h/i.py`, `j.py`.\nmore\n\nNot: `k`"
    room = REPO / "room"
    assert [n for n, _ in _groups(modules_paragraph(text))] == ["a", "c/", "h/i.py", "j.py"]
    paths = [
        room / "a.py",
        room / "c",
        room / "c/d.py",
        room / "c/e.py",
        REPO / "f/g.py",
        REPO / "h/i.py",
        room / "j.py",
    ]
    assert listed_paths(text, room) == paths


# The four parts of a room's README and its "Modules:" paragraph, each opening a line; at most 40 lines in all.
PARTS = ("Purpose:", "Door:", "May import:", "Must not:", "Modules:")
MAX_README_LINES = 40
# The rooms whose README was written before issue 100 item 4, in a form of its own (31 of them past 40 lines): they
# keep it until they are rewritten, and then leave this list. Any other room's README, a new room's included, says
# the four parts.
EARLIER_FORM = frozenset(
    {
        "adapters",
        "adapters/agibot",
        "adapters/agibot_genie",
        "adapters/arctic",
        "adapters/aria_mps",
        "adapters/arrays",
        "adapters/ego4d",
        "adapters/ego4d_goalstep",
        "adapters/egodex",
        "adapters/egoexo4d_egopose",
        "adapters/egovideo",
        "adapters/epic_kitchens",
        "adapters/hoi4d",
        "adapters/holoassist",
        "adapters/hostile",
        "adapters/hot3d",
        "adapters/humanoid_everyday",
        "adapters/lerobot",
        "adapters/oakink2",
        "adapters/oxe",
        "adapters/robomind",
        "adapters/rosbag",
        "adapters/storage",
        "adapters/synthetic",
        "adapters/table_log",
        "adapters/taco",
        "adapters/vitra",
        "ingest/canonical",
        "ingest/kinematics",
        "ingest/lerobot",
        "ingest/qa",
        "jobs/export",
        "jobs/report",
        "jobs/stages",
        "schemas/robots",
        "training",
    }
)


def python_folders(root: Path = REPO) -> list[str]:
    """Every folder of the shipped tree that holds a Python module, relative to root."""
    return sorted({p.parent.relative_to(root).as_posix() for top in SHIPPED for p in (root / top).rglob("*.py")})


def form_problems(text: str) -> list[str]:
    """What a room's README lacks of the form: each part that opens no line, and its length past the bound."""
    lines = text.splitlines()
    problems = [f'no line opens with "{part}"' for part in PARTS if not any(line.startswith(part) for line in lines)]
    if len(lines) > MAX_README_LINES:
        problems.append(f"{len(lines)} lines, past {MAX_README_LINES}")
    return problems


def test_every_python_folder_has_a_readme() -> None:
    missing = [f"{folder}/README.md" for folder in python_folders() if not (REPO / folder / "README.md").is_file()]
    assert not missing, f"{len(missing)} rooms without a README (purpose, door, may import, must not):\n" + "\n".join(
        missing
    )


@pytest.mark.parametrize("folder", [f for f in python_folders() if f not in EARLIER_FORM])
def test_a_rooms_readme_says_its_four_parts_in_at_most_40_lines(folder: str) -> None:
    readme = REPO / folder / "README.md"
    assert readme.is_file(), f"{folder} has no README.md"
    problems = form_problems(readme.read_text(encoding="utf-8"))
    assert not problems, f"{folder}/README.md: " + "; ".join(problems)


def test_the_earlier_form_list_names_only_rooms_that_keep_it() -> None:
    folders = set(python_folders())
    gone = sorted(f for f in EARLIER_FORM if f not in folders or not (REPO / f / "README.md").is_file())
    rewritten = sorted(
        f for f in EARLIER_FORM - set(gone) if not form_problems((REPO / f / "README.md").read_text(encoding="utf-8"))
    )
    assert not gone, f"EARLIER_FORM names rooms with no module or no README: {gone}"
    assert not rewritten, f"these READMEs now have the four parts: take them off EARLIER_FORM: {rewritten}"


def test_the_form_reader() -> None:
    good = "# room\n\nPurpose: x\n\nDoor: y\n\nMay import: z\n\nMust not: w\n\nModules: `a`.\n"
    assert form_problems(good) == []
    assert form_problems(good.replace("Door:", "The door:")) == ['no line opens with "Door:"']
    assert form_problems(good + "\n" * 31) == ["42 lines, past 40"]
