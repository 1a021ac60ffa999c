"""The shared-Ray plugin (`tests/ray_scope.py`) does what the job tests rely on: a `shared_ray` test finds Ray
running and a job started there leaves it up; an `own_ray` test finds none."""

from __future__ import annotations

import pytest


@pytest.mark.shared_ray
def test_a_shared_ray_test_runs_on_the_sessions_ray() -> None:
    import ray

    from jobs.runtime.ray_pool import init_ray

    assert ray.is_initialized()
    assert init_ray(None, 1, 64) is False  # a job joins it and will not shut it down


@pytest.mark.own_ray
def test_an_own_ray_test_finds_no_ray() -> None:
    import ray

    assert not ray.is_initialized()
