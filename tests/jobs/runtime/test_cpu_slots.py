"""Holding a task to the CPUs it books: distinct free CPUs per holder, inherited by threads started inside, the old
affinity back afterwards, unpinned when none is free. Real affinity and real flocks (this machine has >= 2 CPUs)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from jobs.runtime.cpu_slots import held_to_cpus

pytestmark = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 CPUs to pin one")


def _in_thread(fn):  # type: ignore[no-untyped-def]
    out: list[object] = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    t.join()
    return out[0]


def test_a_holder_runs_on_its_cpu_and_threads_it_starts_inherit_it(tmp_path: Path) -> None:
    before = os.sched_getaffinity(0)
    with held_to_cpus(1, tmp_path) as cpus:
        assert cpus is not None and len(cpus) == 1 and set(cpus) <= before
        assert os.sched_getaffinity(0) == set(cpus)
        assert _in_thread(lambda: os.sched_getaffinity(0)) == set(cpus)  # an encoder's pool, started inside
    assert os.sched_getaffinity(0) == before


def test_holders_get_distinct_cpus_and_one_more_runs_unpinned(tmp_path: Path) -> None:
    """Each holder in its own thread, as tasks in their own workers: every allowed CPU once, then none."""
    allowed = sorted(os.sched_getaffinity(0))
    got: list[list[int] | None] = []
    entered, release = threading.Barrier(len(allowed) + 1), threading.Event()

    def hold() -> None:
        with held_to_cpus(1, tmp_path) as cpus:
            got.append(cpus)
            entered.wait()
            release.wait()

    threads = [threading.Thread(target=hold) for _ in allowed]
    for t in threads:
        t.start()
    entered.wait()
    try:
        assert sorted(c[0] for c in got if c) == allowed
        with held_to_cpus(1, tmp_path) as none_left:
            assert none_left is None and os.sched_getaffinity(0) == set(allowed)
    finally:
        release.set()
        for t in threads:
            t.join()
    with held_to_cpus(1, tmp_path) as again:  # the slots are free again once their holders are done
        assert again is not None


def test_a_task_booking_every_cpu_is_not_pinned(tmp_path: Path) -> None:
    with held_to_cpus(len(os.sched_getaffinity(0)), tmp_path) as cpus:
        assert cpus is None
    assert not list(tmp_path.iterdir())
