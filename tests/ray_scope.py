"""One embedded Ray shared by the tests (a plugin of `tests/conftest.py`).

Starting embedded Ray and shutting it down costs 12-20 s here (seven processes start one after another: GCS,
monitor, dashboard, log monitor, raylet, its two agents), and nearly every job test paid it once or more. The first
test marked `shared_ray` starts one Ray and it stays up, through the tests that follow, until a test marked `own_ray`
comes: the jobs find it running (`jobs.runtime.ray_pool.init_ray` joins the Ray its process runs, whatever address
it is given, so a cluster test must not find one) and leave it up.

`own_ray` is for the tests that must not run on it: those starting their own Ray or cluster (every test under
`tests/jobs/cluster/`), those giving the workers an environment of their own (a running Ray's workers keep the one it
started with) and those asserting that no Ray runs. An unmarked test that runs a job uses the shared Ray when it is
up and starts its own when it is not; either way is the same job.
"""

from __future__ import annotations

import pytest

MARK, OWN = "shared_ray", "own_ray"
NUM_CPUS, OBJECT_STORE_MB = 2, 512  # this machine's cores; ParallelismSpec's default object store
_started = False


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARK}: runs on the session's embedded Ray (tests/ray_scope.py)")
    config.addinivalue_line("markers", f"{OWN}: runs with no Ray started in the test process (tests/ray_scope.py)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The `own_ray` tests after all others (a stable sort; tests/benchmarks/conftest.py puts its folder after them),
    so that the shared Ray starts once and stops once. Where they fell (tests/jobs/cluster/ mid-session), each stop
    was followed by a restart at the next `shared_ray` test (4-5 s idle, 12-20 s loaded), and the demo `reference`,
    first asked for by the cluster test, was ingested on an embedded Ray of its own (tests/conftest.py)."""
    items.sort(key=lambda item: item.get_closest_marker(OWN) is not None)


def _stop() -> None:
    global _started
    if _started:
        import ray

        ray.shutdown()
        _started = False


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before any fixture of the test is set up, module-scoped corpus builders included. A test that will be
    skipped (`slow` without --runslow, `gpu` without CUDA: tests/conftest.py marks them `skip`) changes nothing: a
    skipped `own_ray` test stopped the shared Ray for nothing, and the next `shared_ray` test started it again."""
    global _started
    if item.get_closest_marker("skip") is not None:
        return
    if item.get_closest_marker(OWN) is not None:
        _stop()
    elif item.get_closest_marker(MARK) is not None and not _started:
        from jobs.runtime.ray_pool import init_ray

        _started = init_ray(None, NUM_CPUS, OBJECT_STORE_MB, env={"SVT_LOG": "1"})


def pytest_sessionfinish(session: pytest.Session) -> None:
    _stop()
