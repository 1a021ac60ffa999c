"""A real multi-node Ray cluster on this machine (`ray.cluster_utils.Cluster`: a head and worker nodes, each its own
raylet and object store with its own CPUs), the demo's raw corpus, and its embedded-Ray ingest as the reference."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.demo.corpus import write_demo_spec, write_raw_corpus
from jobs.ingest import run_ingest
from jobs.spec import load_spec

REPO = Path(__file__).resolve().parents[3]
NODE_MEMORY = 80 * 1024**2  # object store per node: the demo's results are a few KiB each
# every node's workers import the test hooks (`tests.jobs.ingest_hooks`) as a real cluster imports the installed code
NODE_ENV = {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
ENV = {**os.environ, **NODE_ENV, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}


def start_cluster(workers: int = 2, attempts: int = 3) -> tuple[object, list[object]]:
    """A head (1 CPU) and `workers` worker nodes (1 CPU each); the test process is not connected to it.

    Ray gives a starting raylet 30 s to register (hard-coded): on a machine loaded far past its cores that can pass,
    so a cluster that failed to start is torn down and started again."""
    from unittest import mock

    from ray.cluster_utils import Cluster

    for attempt in range(attempts):
        cluster = Cluster()
        try:
            # Cluster would record its address in /tmp/ray/ray_current_cluster, where any `ray.init()` without an
            # address on this machine (other test processes' embedded Ray) would find and join it
            with mock.patch("ray._private.utils.write_ray_address"):
                head = {"num_cpus": 1, "object_store_memory": NODE_MEMORY, "include_dashboard": False,
                        "env_vars": NODE_ENV}  # fmt: skip
                cluster.add_node(**head)
                nodes = [cluster.add_node(num_cpus=1, object_store_memory=NODE_MEMORY, env_vars=NODE_ENV)
                         for _ in range(workers)]  # fmt: skip
                cluster.wait_for_nodes()
            return cluster, nodes
        except Exception:
            cluster.shutdown()
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def cluster() -> Iterator[object]:
    """Shared by the tests that leave it as they found it (no node removed)."""
    c, _ = start_cluster()
    yield c
    c.shutdown()


def hashes(corpus: Path) -> dict[str, str]:
    """Every file of every dataset (what training reads): the job's own state and the catalog are left out."""
    base = corpus / "datasets"
    return {
        str(p.relative_to(base)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(base.rglob("*"))
        if p.is_file() and ".eidata" not in p.parts
    }


@pytest.fixture(scope="session")
def raw(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_raw_corpus(tmp_path_factory.mktemp("raw"))


def demo_spec(tmp: Path, raw: dict[str, Path], name: str = "corpus", **parallelism: int) -> Path:
    return write_demo_spec(tmp / f"{name}.yaml", raw, tmp / name, **{"num_cpus": 2, **parallelism})


@pytest.fixture(scope="session")
def reference(raw: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo corpus ingested on embedded Ray (one node)."""
    tmp = tmp_path_factory.mktemp("ref")
    run_ingest(load_spec(demo_spec(tmp, raw)), progress=False)
    return tmp / "corpus"
