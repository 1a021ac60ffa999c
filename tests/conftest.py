"""Shared test configuration: markers for slow and GPU checks, quiet third-party libraries, the lerobot oracle
fixture (`run_oracle`, a plugin), and the local runs that the job tests and their bucket twins (tests/s3) both read:
the demo's raw corpus and its reference ingest (`raw`, `reference`), the quarantine scenario's (`quarantine_local`).
The real third-party samples are read with `tests.realdata.realdata`."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from schemas.settings import ENV, Settings, current
from tests import tiering

if TYPE_CHECKING:
    from jobs.ingest.report import IngestReport

pytest_plugins = ["tests.oracle.fixture", "tests.oracle.fixture_v30", "tests.ray_scope", "tests.timing"]

os.environ.setdefault("SVT_LOG", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

REPO = Path(__file__).resolve().parents[1]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")


# The fast tier (`make test-fast`: `-m "not scenario and not slow"`) leaves out what runs a whole system: a Ray job, a
# cluster, an oracle or object-store server subprocess, a SIGKILL run, a benchmark smoke run, a demo. These are marked
# `scenario` here, by folder, by file, by the fixtures and markers that start such systems, so a test gets the mark
# without an edit of its own; `make test` runs everything either way.
SCENARIO_DIRS = ("benchmarks", "jobs/cluster", "s3", "gcs", "scenarios", "oracle")
SCENARIO_FILES = (
    "jobs/test_quarantine_classes.py",  # one corpus through the ingest job, a class of broken episode each
    "jobs/test_validate_corpus.py",  # the QA corpus through ingest and validate
    "jobs/test_one_action.py",  # five robots through eidata train, lerobot-train, GR00T's and LDA's loaders
    "jobs/test_command_surface.py",  # four real samples through eidata ingest and every everyday command
    "jobs/demo/test_pipeline.py",  # `eidata demo`: generate, ingest, query, curate (test_corpus/test_robot: units)
    "adapters/test_one_module_source.py",  # a new source run through run_ingest
    "ingest/lerobot/test_crash.py",  # the writer SIGKILLed in a subprocess
)
SCENARIO_FIXTURES = {"run_oracle", "run_oracle_v30", "s3", "gcs"}
SCENARIO_MARKERS = ("shared_ray", "own_ray", "oracle")
# the runners of the makers' own code in their oracle venv (`make oracle-mano`): a module that imports one is a
# scenario whether or not it says `pytestmark = pytest.mark.oracle` (hot3d's and oakink2's did not, and failed the unit
# tier under CI=true without the venv)
ORACLE_RUNNERS = ("tests.oracle.fixture_mano", "tests.oracle.fixture_hand_makers")


def is_scenario(item: pytest.Item) -> bool:
    tests = REPO / "tests"
    rel = item.path.relative_to(tests).as_posix() if item.path.is_relative_to(tests) else ""
    return (
        rel.startswith(tuple(d + "/" for d in SCENARIO_DIRS))
        or rel in SCENARIO_FILES
        or not SCENARIO_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))
        or any(item.get_closest_marker(m) is not None for m in SCENARIO_MARKERS)
        or any(getattr(v, "__module__", None) in ORACLE_RUNNERS for v in _imported(item))
    )


def _imported(item: pytest.Item) -> list[object]:
    """What the item's test module holds, imports included (none for an item without a module)."""
    module = getattr(item, "module", None)
    return list(vars(module).values()) if module is not None else []


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects, and before tests/benchmarks starts its smoke runs
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    long = set(tiering.listed())  # `make test` leaves these modules out, `make test-long` runs them (tests/tiering.py)
    for item in items:
        if is_scenario(item):
            item.add_marker(pytest.mark.scenario)
        if item.nodeid.split("::", 1)[0] in long:
            item.add_marker(pytest.mark.long)
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


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Settings]:
    """`settings(field=value)`: the settings (`schemas.settings`) of this test and of the processes it starts."""

    def use(**fields: Any) -> Settings:
        monkeypatch.setenv(ENV, (s := Settings(**{**current().model_dump(), **fields})).model_dump_json())
        return s

    return use


@pytest.fixture(scope="session")
def raw(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo's raw corpus, its corrupt episodes included (`jobs.demo.corpus.write_raw_corpus`): only read."""
    from jobs.demo.corpus import write_raw_corpus

    return write_raw_corpus(tmp_path_factory.mktemp("raw"))


@pytest.fixture(scope="session")
def reference(raw: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo corpus ingested on embedded Ray (one node); its spec is `corpus.yaml` beside it. Only read: a test
    that writes into a corpus copies it first (`tests/jobs/demo_reference.py`)."""
    from jobs.ingest.job import run_ingest
    from jobs.spec import load_spec
    from tests.jobs.demo_reference import demo_spec

    tmp = tmp_path_factory.mktemp("ref")
    run_ingest(load_spec(demo_spec(tmp, raw)), progress=False)
    return tmp / "corpus"


@dataclass(frozen=True)
class LocalRun:
    """The quarantine scenario ingested from disk to disk: its raw corpus, spec file, output and the job's report."""

    raw: Path
    spec: Path
    corpus: Path
    report: IngestReport


@pytest.fixture(scope="session")
def quarantine_local(tmp_path_factory: pytest.TempPathFactory) -> LocalRun:
    """The quarantine scenario's raw corpus (`tests/jobs/quarantine_corpus.py`) under `raw/` (nothing else in it: the
    bucket twin uploads that folder), ingested into `local/` with the spec `local.yaml`, once for the local checks
    (tests/jobs/test_quarantine_classes.py) and the bucket twin's comparison with them
    (tests/s3/test_quarantine_bucket.py): only read. Its users are marked `shared_ray`, so it runs on that Ray."""
    import yaml

    from jobs.ingest.job import run_ingest
    from jobs.spec import load_spec
    from tests.jobs.quarantine_corpus import corrupt_spec, write_corrupt_corpus

    tmp = tmp_path_factory.mktemp("quarantine")
    raw = (tmp / "raw").resolve()
    roots = write_corrupt_corpus(raw)
    spec = tmp / "local.yaml"
    spec.write_text(yaml.safe_dump(corrupt_spec(roots, tmp / "local"), sort_keys=False))
    return LocalRun(raw, spec, tmp / "local", run_ingest(load_spec(spec), progress=False))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The parse cages of processes the tests killed (a worker SIGKILLed before it could remove its own) removed: a
    cgroup left under the run's own keeps that one from being removed (`adapters.hostile.limits.sweep`)."""
    from adapters.hostile.limits import sweep

    sweep()
