"""Shared test configuration: markers for slow and GPU checks, quiet third-party libraries, the lerobot oracle
fixture (`run_oracle`, a plugin), and the real third-party samples (`realdata`, `shared_realdata`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["tests.oracle.fixture", "tests.oracle.fixture_v30", "tests.ray_scope"]

os.environ.setdefault("SVT_LOG", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

REPO = Path(__file__).resolve().parents[1]
REALDATA = REPO / "tests" / "data" / "real"  # redistributable samples, in the repository (see its README)
SHARED_REALDATA = REPO.parent / "shared" / "realdata"  # samples without a licence to redistribute them


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow")
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "slow" in item.keywords and not config.getoption("--runslow"):
            item.add_marker(skip_slow)
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """One torch thread: two on a shared two-core machine make small matmuls up to 10x slower (OpenMP spin-waits)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def realdata() -> Path:
    """The real samples kept in the repository (`tests/data/real/`): there on every clone, never skipped."""
    return REALDATA


@pytest.fixture(scope="session")
def shared_realdata() -> Path:
    """Real samples whose licence does not allow redistribution: only on this team's machines (`../shared/`)."""
    if not SHARED_REALDATA.is_dir():
        pytest.skip(
            f"this real sample has no licence to redistribute it, so it is not in the repository; it is read from "
            f"{SHARED_REALDATA}, which this machine lacks (CI has no shared/ folder, so it skips there too)"
        )
    return SHARED_REALDATA
