"""The step chain is typed so a type checker sees it (issue 77 item 3), built and run (issue 88 item 3): mypy (with the
pydantic plugin, the project's `[tool.mypy]`) finds no error in the files `make lint` checks (the chain, the worker that
runs it, the storage room), and refuses a chain whose step takes what the one before does not answer (judging a raw
episode before canonicalizing it), one that does not end where `CHAIN` says, and a walk started from what its first
step does not take. One mypy run checks all, so the test cannot pass by mypy seeing nothing."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

PLANTED = """\
from typing import cast
from ingest.steps import JUDGED, Chain, Guard, Run, Written, canonicalize, judge, read, start

OUT_OF_ORDER = start().then("read", read).then("judge", judge)
SHORT: Chain[None, Written] = start().then("read", read).then("canonicalize", canonicalize)
FROM_A_RAW_FILE = JUDGED.walk(cast(Run, None), "episode.mp4", cast(Guard, None))
"""
FILES = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]["files"]


@pytest.mark.timeout(600)
def test_mypy_sees_each_step_take_what_the_one_before_answers(tmp_path: Path) -> None:
    planted = tmp_path / "planted_chain.py"
    planted.write_text(PLANTED, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "mypy", *FILES, str(planted)],  # `make lint`'s cache: a cold run takes minutes
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=580,
    )
    errors = [line for line in run.stdout.splitlines() if ": error:" in line]
    assert not [e for e in errors if "planted_chain.py" not in e], run.stdout
    planted_lines = sorted({int(e.split(":")[1]) for e in errors if "planted_chain.py" in e})
    assert planted_lines == [4, 5, 6], run.stdout + run.stderr
