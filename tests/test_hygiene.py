"""Release hygiene: no private absolute paths or debugger hooks in shipped code, ruff is clean, every data file a
package holds is declared as its package data (an installed wheel carries it), and the tests start their child
processes in a process group of their own through one helper (tests/processes.py)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path

from tests.needs import tool_missing

REPO = Path(__file__).resolve().parents[1]
SHIPPED = ["ingest", "adapters", "schemas", "training", "jobs", "benchmarks"]
PRIVATE_PATH = re.compile(r"""["'](/work/|/root/|/home/\w+/|/tmp/\w)""")
DEBUGGER = re.compile(r"^\s*(breakpoint\(\)|import pdb|pdb\.set_trace|import ipdb|debugpy\.listen)", re.M)


PACKAGES = ["ingest", "adapters", "schemas", "training", "jobs"]  # pyproject's [tool.setuptools.packages.find]
NOT_PACKAGE_DATA = {  # data files in a package folder that the package never loads, with why
    "jobs/specs/demo.yaml": "the commented example job spec a user copies (README); eidata demo writes its own",
}


def _sources() -> list[Path]:
    return [p for d in SHIPPED for p in (REPO / d).rglob("*.py") if "_shim" not in p.parts]


def test_no_private_absolute_paths() -> None:
    hits = [f"{p.relative_to(REPO)}: {m.group(0)}" for p in _sources() for m in PRIVATE_PATH.finditer(p.read_text())]
    assert not hits, "absolute machine paths in shipped code:\n" + "\n".join(hits)


def test_no_debugger_hooks() -> None:
    hits = [str(p.relative_to(REPO)) for p in _sources() if DEBUGGER.search(p.read_text())]
    assert not hits, f"debugger hooks left in: {hits}"


def test_ruff_clean() -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        tool_missing("ruff", "not in this Python's bin folder nor on PATH (pip install -e '.[test]')")
    for args in (["check", "."], ["format", "--check", "."]):
        proc = subprocess.run([ruff, *args], cwd=REPO, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, f"ruff {' '.join(args)}:\n{proc.stdout}{proc.stderr}"


def test_child_process_groups_are_started_and_killed_by_tests_processes_only() -> None:
    """13 test files carried their own copy of "start in a session, kill the group on every way out" (issue 54):
    one helper now, so a fix to it (a leak, a pipe left open) lands everywhere."""
    helper = REPO / "tests" / "processes.py"
    copies = [
        f"{p.relative_to(REPO)}: {pattern}"
        for p in sorted((REPO / "tests").rglob("*.py"))
        if p != helper
        for pattern in ("start_new_session" + "=True", "os." + "killpg(")  # split: this file is no copy of either
        if pattern in p.read_text(encoding="utf-8")
    ]
    assert not copies, "start children and kill their groups with tests/processes.py:\n" + "\n".join(copies)


def test_every_data_file_of_a_package_is_its_package_data() -> None:
    """A yaml / toml / urdf / css / js a module loads through importlib.resources is in the wheel only when pyproject
    names it: adapters/lerobot/poses.yaml had been left out (every installed eidata would fail to import the lerobot
    adapter, while a checkout reads it)."""
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    tracked = subprocess.run(["git", "ls-files", *PACKAGES], cwd=REPO, capture_output=True, text=True, check=True)
    data = [f for f in tracked.stdout.split() if not f.endswith((".py", ".md")) and f not in NOT_PACKAGE_DATA]
    assert data, "git ls-files listed no data file: the test reads nothing"
    missing = [f for f in data if not any(_declares(pkg, globs, f) for pkg, globs in declared.items())]
    assert not missing, (
        f"data files no [tool.setuptools.package-data] entry names (the wheel would lack them): {missing}"
    )


def _declares(package: str, globs: list[str], file: str) -> bool:
    """Whether `package`'s package-data `globs` (relative to its folder, `/` only where the glob has one) hold
    `file` (a path from the repository root)."""
    folder = package.replace(".", "/") + "/"
    if not file.startswith(folder):
        return False
    rel = file[len(folder) :]
    return any(fnmatch(rel, g) and rel.count("/") == g.count("/") for g in globs)
