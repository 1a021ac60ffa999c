"""The step chain is typed so a type checker sees it (issue 77 item 3): mypy (with the pydantic plugin, the project's
`[tool.mypy]`) finds no error in `ingest/steps.py`, and refuses a chain whose step takes what the one before does
not answer (judging a raw episode before canonicalizing it) or that does not end where `CHAIN` says. One mypy run
checks both, so the test cannot pass by mypy seeing nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

PLANTED = """\
from ingest.steps import Chain, Written, canonicalize, judge, read

OUT_OF_ORDER = Chain[None, None](()).then("read", read).then("judge", judge)
SHORT: Chain[None, Written] = Chain[None, None](()).then("read", read).then("canonicalize", canonicalize)
"""


@pytest.mark.timeout(300)
def test_mypy_sees_each_step_take_what_the_one_before_answers(tmp_path: Path) -> None:
    planted = tmp_path / "planted_chain.py"
    planted.write_text(PLANTED, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache"), "ingest/steps.py", str(planted)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=280,
    )
    errors = [line for line in run.stdout.splitlines() if ": error:" in line]
    assert not [e for e in errors if e.startswith("ingest/")], run.stdout
    planted_lines = sorted({int(e.split(":")[1]) for e in errors if "planted_chain.py" in e})
    assert planted_lines == [3, 4], run.stdout + run.stderr
