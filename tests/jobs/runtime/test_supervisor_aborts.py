"""`jobs.runtime.supervisor` with `adapters.hostile.memory_limit`: an allocation the per-task memory limit refuses
ends the command within seconds with the limit's one line naming `EIDATA_TASK_MEMORY_MIB`, wherever it was refused.

The 100k-episode `export --dry-run` under `EIDATA_TASK_MEMORY_MIB=480` had pydantic-core's `model_validate` refused:
pyo3 panicked, the panic's backtrace (`RUST_BACKTRACE=1`) was refused in turn, and Rust's alloc-error handler waited
forever on a lock the backtrace held (10-16 minutes, till SIGTERM; the no-progress bound did not trip). Here each
library's refusal runs in a supervised child as the command `probe` of `jobs.cli._run`: a Python exception (or a Rust
library's panic) said by `bounded.refusal`, an abort by the supervisor."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobs.runtime.bounded import ENV, EXIT_LIMIT
from tests import processes
from tests.jobs.runtime.test_supervisor import _in_session

REPO = Path(__file__).resolve().parents[3]
COMMAND = """
import argparse, sys
from jobs.runtime import supervisor
supervisor.supervise("probe")
from jobs import cli
{setup}
def probe(args):
    for left in reversed(range({tries})):  # a library's refusal may differ run to run: tried till it is not MemoryError
        try:
            {work}
        except MemoryError:
            if not left:
                raise
    return 0
cli.COMMANDS["probe"] = cli.Command(help="", run=probe)
sys.exit(cli._run(argparse.Namespace(command="probe")))
"""
PYDANTIC = """
from pydantic import BaseModel
class Ep(BaseModel):
    a: int
    b: str
    c: list[float]
class Doc(BaseModel):
    eps: list[Ep]
doc = {"eps": [{"a": i, "b": "x" * 40, "c": [1.0, 2.0, 3.0]} for i in range(200000)]}
"""
CASES = {
    # a refused PyObject: MemoryError, or a pyo3 panic (a BaseException: `except Exception` missed it, 1 of 3 CI runs)
    # whose backtrace deadlocked (1 of 5 runs before RUST_BACKTRACE=0)
    "pydantic-core": (PYDANTIC, 8, "kept = [Doc.model_validate(doc) for _ in range(20)]"),
    "numpy": ("import numpy as np", 1, "kept = np.ones(1 << 28)"),  # 2 GiB in C
    "pyarrow": (
        "import pyarrow as pa, pyarrow.compute",
        1,
        "kept = pa.compute.add(pa.nulls(1 << 26, pa.int64()).fill_null(1), 1)",
    ),
    # pydantic-core's panic where the refused PyObject was no MemoryError, deterministic: pyo3's class by its recipe
    "pyo3-panic": (
        'Panic = type("PanicException", (BaseException,), {"__module__": "pyo3_runtime"})',
        1,
        'kept = bytearray(64 << 20); raise Panic("PyObject pointer is null")',
    ),
    # a C library's allocation it cannot fail cleanly: the process aborts (before: 134 and no line)
    "abort": ("", 1, "os.abort()"),
}


def _run(setup: str, tries: int, work: str) -> tuple[subprocess.CompletedProcess[str], float]:
    script = COMMAND.format(setup="import os\n" + setup, tries=tries, work=work)
    env = {**os.environ, "PYTHONPATH": str(REPO), ENV: "96", "RUST_BACKTRACE": "1"}
    t0 = time.monotonic()
    proc = processes.start([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=90)
    finally:
        for pid in _in_session(proc.pid):  # a command that hung (before: pydantic-core's panic), in its own group
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    took = time.monotonic() - t0
    return subprocess.CompletedProcess(proc.args, proc.returncode, out.decode(), err.decode()), took


@pytest.mark.parametrize("case", list(CASES))
def test_a_refused_allocation_ends_the_command_with_the_limits_line(case: str) -> None:
    done, took = _run(*CASES[case])
    line = (done.stderr.strip().splitlines() or [""])[-1]
    assert done.returncode == EXIT_LIMIT, done.stderr[-2000:]
    assert line.startswith("eidata probe: ") and ENV in line and "96 MiB" in line, line
    assert took < 60, took
