"""Holding a task to the CPUs it books: distinct free CPUs per holder, inherited by threads started inside, the old
affinity back afterwards, unpinned when none is free. Real affinity and real flocks (this machine has >= 2 CPUs)."""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
from multiprocessing.connection import Connection
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


def test_a_holder_runs_on_its_cpu_with_every_thread_of_its_process(tmp_path: Path) -> None:
    before = os.sched_getaffinity(0)
    seen: list[set[int]] = []
    go, done = threading.Event(), threading.Event()

    def pool_thread() -> None:  # a library's pool, started before the task (e.g. on a worker's first task)
        while not done.is_set():
            go.wait()
            go.clear()
            seen.append(os.sched_getaffinity(0))

    t = threading.Thread(target=pool_thread)
    t.start()
    with held_to_cpus(1, tmp_path) as cpus:
        assert cpus is not None and len(cpus) == 1 and set(cpus) <= before
        assert os.sched_getaffinity(0) == set(cpus)
        assert _in_thread(lambda: os.sched_getaffinity(0)) == set(cpus)  # an encoder's pool, started inside
        go.set()
        while not seen:
            threading.Event().wait(0.01)
    done.set()
    go.set()
    t.join()
    assert seen[0] == set(cpus)
    assert os.sched_getaffinity(0) == before


def _hold(folder: Path, conn: Connection) -> None:  # one Ray worker's task: holds a slot until told to finish
    with held_to_cpus(1, folder) as cpus:
        conn.send(cpus)
        conn.recv()


def test_holders_get_distinct_cpus_and_one_more_runs_unpinned(tmp_path: Path) -> None:
    """Each holder in its own process, as tasks in their own workers: every allowed CPU once, then none."""
    allowed = sorted(os.sched_getaffinity(0))
    ctx = mp.get_context("fork")
    pipes = [ctx.Pipe() for _ in allowed]
    procs = [ctx.Process(target=_hold, args=(tmp_path, child)) for _, child in pipes]
    for p in procs:
        p.start()
    try:
        got = [parent.recv() for parent, _ in pipes]
        assert sorted(c[0] for c in got if c) == allowed
        with held_to_cpus(1, tmp_path) as none_left:
            assert none_left is None and os.sched_getaffinity(0) == set(allowed)
    finally:
        for parent, _ in pipes:
            parent.send("done")
        for p in procs:
            p.join()
    with held_to_cpus(1, tmp_path) as again:  # the slots are free again once their holders are done
        assert again is not None


def test_a_task_booking_every_cpu_is_not_pinned(tmp_path: Path) -> None:
    with held_to_cpus(len(os.sched_getaffinity(0)), tmp_path) as cpus:
        assert cpus is None
    assert not list(tmp_path.iterdir())
