"""The benchmarks' smoke runs, started in the background as soon as the session knows which it will check.

Each is `python -m benchmarks.<name> --smoke` in a subprocess from the repository root, as `make bench` runs it. They
start when collection ends (`tests/benchmarks/conftest.py`), one at a time, beside the rest of the suite, and their
tests come last: most tests run on one core, so the runs take the idle one instead of holding the suite up.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from tests.processes import run_group

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = sorted(p.stem for p in (REPO / "benchmarks").glob("*.py") if not p.stem.startswith("_"))
# a bound on a hang, under pytest's 600 s a test: kill_resume (three ingests, 55 s alone) ran past 240 s beside the
# long tier
TIMEOUT_S = 540
TEST_NAME = "test_benchmark_runs"
FIRST = ("latents", "ingest", "adapters")  # the longest first, so that the short ones are not the last to finish

_pool: ThreadPoolExecutor | None = None
_runs: dict[str, Future[subprocess.CompletedProcess[str]]] = {}


def lerobot_v30_missing() -> bool:
    """lerobot 0.6.1's own venv, which the writer benchmark's lerobot contestants run in (`make oracle-v30`)."""
    venv = Path(os.environ.get("EIDATA_ORACLE_V30_VENV", REPO / ".venv-oracle-v30"))
    return not (venv / "bin" / "python").exists()


# tests/benchmarks/test_latents.py's run: the model part alone, under `-X importtime` (the modules it imported)
MODEL_PART = "latents --parts model"


def run(name: str, *flags: str, python: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SVT_LOG": "1", "HF_HUB_OFFLINE": "1", "RAY_USAGE_STATS_ENABLED": "0"}
    cmd = [sys.executable, *python, "-m", f"benchmarks.{name}", "--smoke", *flags]
    # its own session, and the whole group killed on every way out: a run past TIMEOUT_S used to leave its children
    # behind (a SeaweedFS server of train_bucket's spinning at 90 % of a core for the rest of the suite)
    return run_group(cmd, TIMEOUT_S, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _run_key(key: str) -> subprocess.CompletedProcess[str]:
    if key == MODEL_PART:
        return run("latents", "--parts", "model", python=("-X", "importtime"))
    return run(key)


def start(names: set[str]) -> dict[str, Future[subprocess.CompletedProcess[str]]]:
    """Queue the smoke run of each of `names` (a benchmark, or `MODEL_PART`) not queued yet (once per session), the
    longest first."""
    global _pool
    if lerobot_v30_missing():
        names = names - {"writer"}  # its test skips (or fails under CI) without running it
    new = [n for n in FIRST if n in names] + sorted(names - set(FIRST))
    new = [n for n in new if n not in _runs]
    if new and _pool is None:
        _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smoke")
    for name in new:
        _runs[name] = _pool.submit(_run_key, name)
    return _runs


def stop() -> None:
    """Drop the runs not started; the one running ends by itself (its own timeout)."""
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)
