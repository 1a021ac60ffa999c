"""Hold an episode task to the CPUs it books from Ray, so that N tasks on N cores do not oversubscribe them.

Ray books a task's `num_cpus` but does not confine it. An ingest task with one encoder thread per camera still keeps
up to ~2 cores busy: SVT-AV1 runs its pipeline in its own threads even at `lp=1`, so a task feeding three cameras
runs three pipelines at once (1.9 cores measured here, 1.0 for one camera; BENCHMARKS.md, "Codec settings"). SVT-AV1
4.1 has no `pin` parameter left (it is not in the library's option table), so the task pins itself: it takes free
CPU slots of its node, each an flock on a file in a per-user folder of the node's temp dir (the kernel drops the
lock when the worker dies), and sets the affinity of every thread of its worker process to those CPUs. Threads
started inside the block (the encoders' pools, decoders) inherit it; the previous affinity comes back at the end.
With no free slot (more tasks than CPUs, e.g. other jobs on the node) the task runs unpinned and says so in the log.
One task per process at a time, as Ray runs them: the whole process follows the holder.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)


def _set_process_affinity(cpus: list[int]) -> None:
    """Every thread of this process, not only the caller's: pools a library started on first use in an earlier task
    (OpenCV's, pyarrow's) live on in the worker and must follow it to the CPU it holds now."""
    for tid in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            os.sched_setaffinity(int(tid), cpus)


@contextlib.contextmanager
def held_to_cpus(n: int, folder: Path | None = None) -> Iterator[list[int] | None]:
    """Run the block on `n` CPUs of this thread's allowed set that no other pinned task holds; yields them (None when
    the block runs unpinned: `n` covers every allowed CPU, or too few are free)."""
    allowed = sorted(os.sched_getaffinity(0))
    if n >= len(allowed):
        yield None
        return
    folder = folder or Path(tempfile.gettempdir()) / f"eidata-cpu-slots-{os.getuid()}"
    folder.mkdir(parents=True, exist_ok=True)
    held: list[tuple[int, int]] = []
    start = os.getpid() % len(allowed)  # workers start their search at different CPUs: fewer failed tries
    try:
        for cpu in allowed[start:] + allowed[:start]:
            fd = os.open(folder / f"cpu{cpu}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            held.append((cpu, fd))
            if len(held) == n:
                break
        if len(held) < n:
            log.info("no %d free CPU slots of %s in %s: task runs unpinned", n, allowed, folder)
            yield None
            return
        cpus = sorted(c for c, _ in held)
        _set_process_affinity(cpus)
        try:
            yield cpus
        finally:
            _set_process_affinity(allowed)
    finally:
        for _, fd in held:
            os.close(fd)  # closing the descriptor drops its flock
