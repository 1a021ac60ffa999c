"""Every benchmark still runs: `python -m benchmarks.<name> --smoke` in a subprocess from the repository root, as
`make bench` runs it, at sizes that take seconds. The figures are not checked, only that a run ends with its JSON line.

A benchmark is every module in `benchmarks/` whose name does not start with `_`; each must have a `--smoke` run.
The selected runs start together when the first of these tests does, two at a time: most of a smoke run is process
start-up (imports, Ray), which leaves a core idle. The two that start Ray never overlap.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path

import pytest

from tests.needs import tool_missing

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = sorted(p.stem for p in (REPO / "benchmarks").glob("*.py") if not p.stem.startswith("_"))
TIMEOUT_S = 240
MARKS = {"writer": [pytest.mark.oracle]}  # lerobot 0.3.3 is one of its contestants
GPU_RUNS = {"latents": ["--device", "cuda"]}  # train_step times lda-1b by itself when CUDA is there
RAY = {"ingest", "latents", "commit", "discovery"}  # each starts a Ray cluster of its own
FIRST = ("latents", "ingest")  # the longest, so that the short ones fill the other core meanwhile
_ray_lock = threading.Lock()


def _lerobot_missing() -> bool:
    return importlib.util.find_spec("lerobot") is None


def _run(name: str, *flags: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SVT_LOG": "1", "HF_HUB_OFFLINE": "1", "RAY_USAGE_STATS_ENABLED": "0"}
    cmd = [sys.executable, "-m", f"benchmarks.{name}", "--smoke", *flags]
    with _ray_lock if name in RAY else nullcontext():
        return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)


def _check(name: str, run: Callable[[], subprocess.CompletedProcess[str]]) -> dict:
    try:
        proc = run()
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"benchmarks.{name} --smoke ran past {TIMEOUT_S} s; stderr:\n{str(e.stderr or '')[-3000:]}")
    assert proc.returncode == 0, f"benchmarks.{name} --smoke exited {proc.returncode}; stderr:\n{proc.stderr[-3000:]}"
    lines = proc.stdout.strip().splitlines()
    assert lines, f"{name} printed nothing; stderr:\n{proc.stderr[-3000:]}"
    return json.loads(lines[-1])


@pytest.fixture(scope="module")
def smoke_runs(request: pytest.FixtureRequest) -> Iterator[dict[str, Future[subprocess.CompletedProcess[str]]]]:
    """The smoke run of every benchmark selected in this session, started at once, two at a time."""
    names = {
        item.callspec.params["name"]
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_benchmark_runs"
    }
    if _lerobot_missing():
        names.discard("writer")
    order = [n for n in FIRST if n in names] + sorted(names - set(FIRST))
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="smoke")
    yield {name: pool.submit(_run, name) for name in order}
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("name", [pytest.param(n, marks=MARKS.get(n, [])) for n in BENCHMARKS])
def test_benchmark_runs(name: str, smoke_runs: dict[str, Future[subprocess.CompletedProcess[str]]]) -> None:
    if name == "writer" and _lerobot_missing():
        tool_missing("lerobot 0.3.3", "the writer benchmark runs it (pip install --no-deps lerobot==0.3.3)")
    assert isinstance(_check(name, smoke_runs[name].result), dict)


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(GPU_RUNS))
def test_benchmark_runs_on_the_gpu(name: str) -> None:
    assert isinstance(_check(name, lambda: _run(name, *GPU_RUNS[name])), dict)


def test_make_bench_runs_benchmarks_as_modules() -> None:
    """`python benchmarks/x.py` would put benchmarks/ first on sys.path, where `ingest.py` hides the package."""
    recipe = (REPO / "Makefile").read_text().split("\nbench:", 1)[1].split("\n\n", 1)[0]
    commands = [line.strip() for line in recipe.splitlines()[1:] if line.strip()]
    assert commands and all(" -m benchmarks." in c for c in commands), commands
    assert {c.split(" -m benchmarks.", 1)[1].split()[0] for c in commands} <= set(BENCHMARKS)
