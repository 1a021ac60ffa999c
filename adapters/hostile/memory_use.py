"""What a task really uses, and the address-space cap that follows it (issue 75 item 1).

`RLIMIT_DATA` counts address space, not use: a library's reserved but untouched mappings (DuckDB's jemalloc arenas,
Arrow's, every thread's 8 MiB stack) count as if used. Measured on 134 real episodes (the G1 teleoperation set, the
GR00T sample, Bridge, an SO-101 v3.0 set): `eidata catalog` mapped 1,687 MiB of private memory while 151 MiB of it
was ever resident, and `eidata report` 1,810 MiB for 204 MiB, so a fixed 640 MiB cap on the mapping refused
DuckDB's allocations ("Failed to allocate block of 16 bytes") and the Arrow I/O pool's first worker thread (its stack)
at a fifth of the budget.

Here the cap moves with use: a thread samples the process's anonymous resident memory (`statm` resident minus its
file-backed part) every `PERIOD_S` while a limit is active and sets the soft `RLIMIT_DATA` to what is mapped now plus
what the task has left to use. Reserved address space is then free, a new mapping is refused exactly when real use
plus its size would pass the budget (a 3 GB allocation at once, as before), and a mapping touched page by page is
seen within one period (`memory_limit.task_memory` keeps each task's sampled peak: its `taken`).
"""

from __future__ import annotations

import contextlib
import os
import resource
import threading
import time
from collections.abc import Callable

PERIOD_S = 0.01  # how often the cap follows use while a limit is active (a read of statm and a setrlimit: ~20 us)
_PAGE = resource.getpagesize()


def statm() -> tuple[int, int] | None:
    """(private data and stack mapped, anonymous resident) bytes of this process from `/proc/self/statm` (`data`;
    `resident - shared`, shared being the file-backed and shmem pages); None off Linux."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            fields = f.read().split()
    except OSError:
        return None
    return int(fields[5]) * _PAGE, (int(fields[1]) - int(fields[2])) * _PAGE


def resident_peak() -> int | None:
    """This process's resident peak (`VmHWM`, file-backed pages included) in bytes; None off Linux."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            return next((int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:")), None)
    except OSError:
        return None


def reset_peak() -> int | None:
    """Reset the resident peak to what is resident now (the kernel's `clear_refs` 5), so a later `resident_peak` is a
    block's own even where no sample ran (a C call holding the GIL); the resident bytes now, None where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        return None
    return resident_peak()


class Follower:
    """One thread per process that keeps the soft `RLIMIT_DATA` at `mapped + room(used)` while `room` is set (the
    bytes the tasks in force may still add given `used`, the anonymous resident bytes now; None: no cap)."""

    def __init__(self) -> None:
        self._room: Callable[[int], int | None] | None = None
        self._ceiling = resource.RLIM_INFINITY  # a soft limit set before any task (the operator's): never raised
        self._lock = threading.Condition()  # held while a cap is set: a task's end never races a late sample
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (before any cap is set: a thread's stack is a mapping the cap could refuse)."""
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="eidata-memory-follower", daemon=True)
            self._thread.start()

    def watch(self, room: Callable[[int], int | None] | None, ceiling: int) -> None:
        """Follow `room` from now on, never past `ceiling`; None stops (the caller then puts its own cap back)."""
        with self._lock:
            self._room, self._ceiling = room, ceiling
            self._lock.notify()

    def step(self) -> None:
        """One sample: the cap set to what is mapped plus the room left, never past the hard limit."""
        with self._lock:
            now = statm()
            if self._room is None or now is None:
                return
            mapped, used = now
            left = self._room(used)
            if left is None:
                return
            hard = resource.getrlimit(resource.RLIMIT_DATA)[1]
            cap = mapped + max(left, 0)
            for outer in (hard, self._ceiling):
                cap = cap if outer == resource.RLIM_INFINITY else min(cap, outer)
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))

    def _run(self) -> None:
        while True:
            with self._lock:
                while self._room is None:
                    self._lock.wait()
            self.step()
            time.sleep(PERIOD_S)


FOLLOWER = Follower()
if hasattr(os, "register_at_fork"):  # a forked child has no thread: it starts its own when it sets a limit
    os.register_at_fork(after_in_child=lambda: setattr(FOLLOWER, "_thread", None))
