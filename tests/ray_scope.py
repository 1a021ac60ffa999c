"""One embedded Ray for the tests that may share it (a plugin of `tests/conftest.py`).

Starting embedded Ray and shutting it down costs 12-20 s here (seven processes start one after another: GCS,
monitor, dashboard, log monitor, raylet, its two agents), and nearly every job test used to pay it once or more. A
test marked `shared_ray` runs with one Ray that stays up until a test without the mark comes: the jobs find it running
(`jobs.runtime.ray_pool.init_ray` joins a running Ray) and leave it up. Every other test gets no Ray at all, as
before, so tests that start their own (clusters, a worker environment of their own, asserting that no Ray runs) see
exactly what they saw; pytest runs a module's tests together, so Ray restarts a few times per session.

Only tests whose outcome does not depend on the Ray they run on take the mark: not those setting `EIDATA_*` for the
workers (a running Ray's workers keep the environment it started with) or loading code the workers must import
from outside the repository.
"""

from __future__ import annotations

import pytest

MARK = "shared_ray"
NUM_CPUS, OBJECT_STORE_MB = 2, 512  # this machine's cores; ParallelismSpec's default object store
_started = False


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARK}: may run on the session's embedded Ray (tests/ray_scope.py)")


def _stop() -> None:
    global _started
    if _started:
        import ray

        ray.shutdown()
        _started = False


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before any fixture of the test is set up, module-scoped corpus builders included."""
    global _started
    if item.get_closest_marker(MARK) is None:
        _stop()
    elif not _started:
        from jobs.runtime.ray_pool import init_ray

        _started = init_ray(None, NUM_CPUS, OBJECT_STORE_MB, env={"SVT_LOG": "1"})


def pytest_sessionfinish(session: pytest.Session) -> None:
    _stop()
