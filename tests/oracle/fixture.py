"""The `run_oracle` fixture: run `lerobot_oracle.py` (the real lerobot 0.3.3) in a subprocess, return its JSON answer.

A pytest plugin, registered for every test by `pytest_plugins` in `tests/conftest.py`: a test asks for `run_oracle`
by name and imports nothing. lerobot needs the torchvision shim in `shim/`, which must never be importable in the
pytest process itself (it breaks transformers: docker/README.md): the shim is put on the child's PYTHONPATH
only. Without an importable lerobot the tests that use the fixture skip, or fail under `CI=true` (`tests/needs.py`).
One oracle process serves the session's calls (`tests/oracle/oracle_serve.py`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.needs import tool_missing
from tests.oracle.oracle_serve import OracleFailed, OracleProcess

HERE = Path(__file__).resolve().parent
ORACLE = HERE / "lerobot_oracle.py"
SHIM = HERE / "shim"
TIMEOUT_S = 120


def oracle_env(cache_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(SHIM),  # the shim and nothing of ours: lerobot must read what is on disk
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        HF_DATASETS_CACHE=str(cache_dir),  # `load_dataset("parquet")` caches arrow files; keep them out of $HOME
        SVT_LOG="1",
    )
    return env


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _check_lerobot_importable(env: dict[str, str]) -> None:
    probe = subprocess.run(
        [sys.executable, "-c", "import lerobot"], env=env, capture_output=True, text=True, timeout=TIMEOUT_S
    )
    if probe.returncode != 0:
        tool_missing("lerobot (the test oracle)", f"it cannot be imported in a subprocess: {_tail(probe.stderr, 1)}")


@pytest.fixture(scope="session")
def run_oracle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., dict[str, Any]]]:
    """`run_oracle("load", root, "--items", "0,5")` -> the JSON object the oracle printed last."""
    cache = tmp_path_factory.mktemp("hf_datasets_cache")
    env = oracle_env(cache)
    _check_lerobot_importable(env)
    oracle = OracleProcess("oracle", [sys.executable, str(ORACLE)], env, cache.parent / f"{cache.name}-oracle.log")

    def run(*args: Any, timeout: float = TIMEOUT_S) -> dict[str, Any]:
        try:
            return oracle.run(args, timeout)
        except OracleFailed as e:
            pytest.fail(str(e))

    yield run
    oracle.stop()
