"""`make venv` says what it does and prints no failure that is none: every pip step is announced with what it
installs and timed, and the packages installed without their dependencies come after every step that resolves
dependencies (pip checks the declared dependencies of what is installed whenever a step resolves them, and printed
lerobot 0.3.3's unmet pins as "ERROR: pip's dependency resolver ..." at the end of a fresh build; an --no-deps install
checks nothing). Every test target reports its slowest tests. Read from `make -n` (nothing runs)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

from tests.needs import tool_missing

REPO = Path(__file__).resolve().parents[1]


def _recipe(tmp_path: Path, target: str) -> list[str]:
    make = shutil.which("make")
    if make is None:
        tool_missing("make", "the Makefile's recipe is read with make -n")
    paths = [f"VENV={tmp_path / 'venv'}", f"ORACLE_V30={tmp_path / 'oracle'}"]  # none built: nothing is up to date
    out = subprocess.run([make, "-n", "-B", target, *paths], cwd=REPO, capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


def _venv_recipe(tmp_path: Path) -> list[str]:
    return _recipe(tmp_path, "venv")


def test_every_pip_step_is_announced_and_timed(tmp_path: Path) -> None:
    steps = [line for line in _venv_recipe(tmp_path) if " -m pip " in line]
    assert len(steps) == 5
    for k, line in enumerate(steps, 1):
        announced = re.search(rf'echo "make venv \[{k}/5\] ([^"]+)"; ', line)
        assert announced and len(announced.group(1)) > 10, line  # says what it installs
        assert line.index(announced.group(0)) < line.index(" install -q "), line
        assert f'echo "make venv [{k}/5] done in $(( $(date +%s) - s )) s"' in line, line


def test_no_deps_installs_come_last(tmp_path: Path) -> None:
    installs = [line for line in _venv_recipe(tmp_path) if " -m pip " in line]
    no_deps = [i for i, line in enumerate(installs) if "--no-deps" in line]
    assert no_deps and any("lerobot==0.3.3" in installs[i] for i in no_deps)
    assert no_deps == list(range(len(installs) - len(no_deps), len(installs))), installs


def test_every_test_target_reports_its_slowest_tests(tmp_path: Path) -> None:
    for target in ("test", "test-fast", "test-all"):
        runs = [line for line in _recipe(tmp_path, target) if " -m pytest" in line]
        assert runs and all("--durations=25" in line for line in runs), (target, runs)


def test_lint_runs_mypy_on_the_files_pyproject_names(tmp_path: Path) -> None:
    """Issue 88 item 3: mypy is a gate of `make lint`, over `[tool.mypy] files` (the step chain and the storage room
    at least; tests/ingest/test_step_chain_types.py runs mypy on the same list)."""
    assert any(line.endswith("-m mypy") for line in _recipe(tmp_path, "lint"))
    files = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]["files"]
    for part in ("ingest/steps.py", "jobs/ingest/worker.py", "adapters/storage/root.py"):  # named, or its folder
        assert any(part == f or part.startswith(f"{f}/") for f in files), (part, files)
