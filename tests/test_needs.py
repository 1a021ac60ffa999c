"""A test whose outside tool is missing skips, but fails under `CI=true`, naming the tool (`tests/needs.py`).

Each case runs pytest in a subprocess on a tiny test file, with the tool hidden from it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

TINY_ANY = "from tests.needs import tool_missing\n\n\ndef test_it():\n    tool_missing('frobnicator', 'hidden')\n"
TINY_CHROMIUM = "from tests.needs import chromium\n\n\ndef test_it():\n    chromium()\n"
TINY_ORACLE = "import os\n\nos.environ['PYTHONHOME'] = '/nonexistent'\n\n\ndef test_it(run_oracle):\n    pass\n"
CASES = {  # (tiny test file, what its failure must say)
    "any tool": (TINY_ANY, "frobnicator is missing: hidden"),
    # the lookup the report test renders with (`chromium`), with an empty PATH
    "chromium": (TINY_CHROMIUM, "chromium is missing: not on PATH"),
    # the oracle fixture itself, whose subprocess cannot start Python (so cannot import lerobot): a broken install
    "lerobot": (TINY_ORACLE, "lerobot (the test oracle) is missing: it cannot be imported"),
}


def _pytest(tmp_path: Path, source: str, ci: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_tiny.py").write_text(source)
    (tmp_path / "bin").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update(PATH=str(tmp_path / "bin"), PYTHONPATH=str(REPO), **({"CI": ci} if ci is not None else {}))
    # No installed pytest plugins in the tiny run: the hypothesis plugin imports all of hypothesis at its summary and
    # pytest rewrites the asserts of every module of a plugin's package (uncached under PYTHONDONTWRITEBYTECODE): 2-3 s
    # a run, 19 s under a full run's load, for nothing the tiny test uses. Our plugin is named with -p below.
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-rfEs",
        "-p",
        "no:cacheprovider",
        "-p",
        "tests.oracle.fixture",
        "test_tiny.py",
    ]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("case", CASES)
def test_a_missing_tool_fails_under_ci(tmp_path: Path, case: str) -> None:
    source, message = CASES[case]
    run = _pytest(tmp_path, source, "true")
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-2000:]
    assert "skipped" not in run.stdout and ("1 failed" in run.stdout or "1 error" in run.stdout), run.stdout[-3000:]
    assert f"CI=true and {message}" in run.stdout, run.stdout[-3000:]


def test_a_missing_tool_skips_off_ci(tmp_path: Path) -> None:
    source, message = CASES["any tool"]
    run = _pytest(tmp_path, source, None)
    assert run.returncode == 0 and "1 skipped" in run.stdout, run.stdout[-3000:]
    assert message in run.stdout and "CI=true" not in run.stdout
