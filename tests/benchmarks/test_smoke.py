"""Every benchmark still runs: `python -m benchmarks.<name> --smoke` in a subprocess from the repository root, as
`make bench` runs it, at sizes that take seconds. The figures are not checked, only that a run ends with its JSON line.

A benchmark is every module in `benchmarks/` whose name does not start with `_`; each must have a `--smoke` run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = sorted(p.stem for p in (REPO / "benchmarks").glob("*.py") if not p.stem.startswith("_"))
TIMEOUT_S = 180
MARKS = {"writer": [pytest.mark.oracle]}  # lerobot 0.3.3 is one of its contestants
GPU_RUNS = {"latents": ["--device", "cuda"]}  # train_step times lda-1b by itself when CUDA is there


def _run(name: str, *flags: str) -> dict:
    if name == "writer" and importlib.util.find_spec("lerobot") is None:
        pytest.skip("lerobot 0.3.3 is not installed: the writer benchmark's lerobot contestant cannot run")
    env = {**os.environ, "SVT_LOG": "1", "HF_HUB_OFFLINE": "1", "RAY_USAGE_STATS_ENABLED": "0"}
    cmd = [sys.executable, "-m", f"benchmarks.{name}", "--smoke", *flags]
    try:
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{' '.join(cmd[1:])} ran past {TIMEOUT_S} s; stderr:\n{str(e.stderr or '')[-3000:]}")
    assert proc.returncode == 0, f"{' '.join(cmd[1:])} exited {proc.returncode}; stderr:\n{proc.stderr[-3000:]}"
    lines = proc.stdout.strip().splitlines()
    assert lines, f"{name} printed nothing; stderr:\n{proc.stderr[-3000:]}"
    return json.loads(lines[-1])


@pytest.mark.parametrize("name", [pytest.param(n, marks=MARKS.get(n, [])) for n in BENCHMARKS])
def test_benchmark_runs(name: str) -> None:
    assert isinstance(_run(name), dict)


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(GPU_RUNS))
def test_benchmark_runs_on_the_gpu(name: str) -> None:
    assert isinstance(_run(name, *GPU_RUNS[name]), dict)


def test_make_bench_runs_benchmarks_as_modules() -> None:
    """`python benchmarks/x.py` would put benchmarks/ first on sys.path, where `ingest.py` hides the package."""
    recipe = (REPO / "Makefile").read_text().split("\nbench:", 1)[1].split("\n\n", 1)[0]
    commands = [line.strip() for line in recipe.splitlines()[1:] if line.strip()]
    assert commands and all(" -m benchmarks." in c for c in commands), commands
    assert {c.split(" -m benchmarks.", 1)[1].split()[0] for c in commands} <= set(BENCHMARKS)
