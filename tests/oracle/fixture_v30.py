"""The `run_oracle_v30` fixture: `lerobot_v30_oracle.py` run by lerobot 0.6.1's own venv, its JSON answer returned.

lerobot 0.6.1 needs Python >= 3.12 and its own torch, so it lives in `.venv-oracle-v30` (`make oracle-v30`, the
Makefile), never in the project venv. Without that venv the tests that use the fixture skip, or fail under `CI=true`
(`tests/needs.py`). Registered for every test by `pytest_plugins` in `tests/conftest.py`. One oracle process serves
the session's calls (`tests/oracle/oracle_serve.py`).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.needs import tool_missing
from tests.oracle.oracle_serve import OracleFailed, OracleProcess

REPO = Path(__file__).resolve().parents[2]
ORACLE_V30 = Path(__file__).resolve().parent / "lerobot_v30_oracle.py"
VENV_V30 = Path(os.environ.get("EIDATA_ORACLE_V30_VENV", REPO / ".venv-oracle-v30"))
TIMEOUT_S = 300


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


@pytest.fixture(scope="session")
def run_oracle_v30(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., dict[str, Any]]]:
    """`run_oracle_v30("check", root, "--dump", d)` -> the JSON object lerobot 0.6.1's oracle printed last."""
    python = VENV_V30 / "bin" / "python"
    if not python.exists():
        tool_missing("lerobot 0.6.1 (the v3.0 oracle)", f"no {python}; run `make oracle-v30`")
    cache = tmp_path_factory.mktemp("hf_cache_v30")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        HF_DATASETS_CACHE=str(cache),
        HF_HOME=str(cache),
        HF_LEROBOT_HOME=str(cache / "lerobot"),
        SVT_LOG="1",
    )
    # a cheap probe (the oracle's own `probe` imports lerobot.datasets and torch: 5 s): the package is there
    probe = subprocess.run(
        [str(python), "-c", "import lerobot"], env=env, capture_output=True, text=True, timeout=TIMEOUT_S
    )
    if probe.returncode != 0:
        tool_missing("lerobot 0.6.1 (the v3.0 oracle)", f"it does not run: {_tail(probe.stderr, 3)}")

    oracle = OracleProcess("v3.0 oracle", [str(python), str(ORACLE_V30)], env, cache / "oracle.log")

    def run(*args: Any, timeout: float = TIMEOUT_S) -> dict[str, Any]:
        try:
            return oracle.run(args, timeout)
        except OracleFailed as e:
            pytest.fail(str(e))

    yield run
    oracle.stop()
