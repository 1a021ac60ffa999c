"""`jobs.runtime.progress`: what counts as work over a window. Waking threads are not work however many there are
(their sum is: 8 waiters at 0.25 % each reach the 2 % bar together), one busy thread is; bytes through a device or a
socket are; a thread the machine's load starves (wanting a CPU most of the window, running long slices) is, a
waiter's many short slices are not. The sample reads a real child's threads from /proc."""

from __future__ import annotations

import subprocess
import sys
import time

from jobs.runtime import progress
from jobs.runtime.progress import Work

SPAN_S = 4.0


def _work(cpu: dict[int, float], ready: dict[int, tuple[float, int]] | None = None, moved: int = 0) -> Work:
    return Work(
        {(1, tid): s for tid, s in cpu.items()},
        {(1, tid): r for tid, r in (ready or {}).items()},
        {(1, 0): moved},
    )


IDLE = _work({t: 0.0 for t in range(1, 9)}, {t: (0.0, 0) for t in range(1, 9)})


def test_waking_threads_are_not_work_and_one_busy_thread_is() -> None:
    waking = _work({t: 0.01 for t in range(1, 9)}, {t: (0.012, 400) for t in range(1, 9)})  # 0.25 % each
    assert sum(waking.cpu.values()) >= progress.SHARE * SPAN_S  # a total over the tree would call it work
    assert not progress.working(IDLE, waking, SPAN_S)
    busy = _work({1: 0.1, **{t: 0.0 for t in range(2, 9)}})  # one thread 2.5 % of a core
    assert progress.working(IDLE, busy, SPAN_S) and progress.busiest(IDLE, busy) == (0.1, (1, 1))


def test_bytes_moved_are_work_above_the_rate() -> None:
    assert progress.working(IDLE, _work({}, moved=int(progress.MOVED_PER_S * SPAN_S)), SPAN_S)
    assert not progress.working(IDLE, _work({}, moved=int(progress.MOVED_PER_S * SPAN_S) - 1), SPAN_S)


def test_a_starved_thread_is_work_and_a_waiters_short_slices_are_not() -> None:
    starved = _work({1: 0.003}, {1: (3.0, 10)})  # wanted 3 of 4 s, 300 us a slice when it ran
    assert progress.starved(IDLE, starved, SPAN_S) and progress.working(IDLE, starved, SPAN_S)
    waiter = _work({1: 0.003}, {1: (3.0, 300)})  # the same time wanted in 10 us slices: woke to wait
    assert not progress.starved(IDLE, waiter, SPAN_S) and not progress.working(IDLE, waiter, SPAN_S)


def test_a_sample_reads_a_real_childs_threads() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import time\nend = time.time() + 30\nwhile time.time() < end: pass"]
    )
    try:
        before = progress.sample([child.pid])
        time.sleep(1.0)
        after = progress.sample([child.pid])
        used, (pid, tid) = progress.busiest(before, after)
        assert pid == child.pid and tid == child.pid and used > progress.SHARE * 1.0, (used, pid, tid)
        assert progress.working(before, after, 1.0)
    finally:
        child.kill()
        child.wait()
