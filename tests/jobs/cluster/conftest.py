"""A real multi-node Ray cluster on this machine (`ray.cluster_utils.Cluster`: a head and worker nodes, each its own
raylet and object store with its own CPUs); the demo corpus and its reference ingest are `tests/conftest.py`'s."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
NODE_MEMORY = 80 * 1024**2  # object store per node: the demo's results are a few KiB each
# every node's workers import the test workers (`tests.jobs.ingest.crash_hooks`) as a real cluster imports the
# installed code
NODE_ENV = {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
ENV = {**os.environ, **NODE_ENV, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here runs with no Ray in the test process (`tests/ray_scope.py`): its jobs join the cluster."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.own_ray)


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
                head = {
                    "num_cpus": 1,
                    "object_store_memory": NODE_MEMORY,
                    "include_dashboard": False,
                    "env_vars": NODE_ENV,
                }
                cluster.add_node(**head)
                nodes = [
                    cluster.add_node(num_cpus=1, object_store_memory=NODE_MEMORY, env_vars=NODE_ENV)
                    for _ in range(workers)
                ]
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
