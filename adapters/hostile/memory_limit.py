"""A memory limit the operating system enforces on every task that touches a source's raw bytes (issue 58 item 1).

The reading budget (`bounds.py`) bounds what a file declares and the inflates eidata does itself; a library that
inflates or parses on its own (numcodecs' GZip/Zstd/Blosc under zarr, HDF5's deflate filter, a PNG in OpenCV,
`json.loads` of a 249 MB document, pyarrow materialising 4e8 rows) is bounded here instead: `task_memory(mib)` lets the
task use `mib` of resident memory on top of what the process uses now. The kernel enforces it through `RLIMIT_DATA`
(private writable mappings: the heap and anonymous mappings, every allocator's source on Linux since 4.7), set to what
is mapped plus what the task may still use and kept there by a thread as use changes (`memory_use`, issue 75: reserved
but untouched address space, a library's arenas and thread stacks, is not use). An allocation past it fails in the
library that made it: Python raises `MemoryError`, numpy "Unable to allocate", pyarrow `ArrowMemoryError`, HDF5's filter
"returned failure during read" (h5py `OSError`), never a 3 GB process.

Why in the worker and not a child process per task: a Ray worker runs one task at a time, a soft limit is put back
when the task ends, and it costs two `setrlimit` calls and a read of `/proc/self/statm` (about 30 us a task,
BENCHMARKS.md "Hostile input"), where a process per episode would fork a 260 MB worker. A Ray worker holds about
410 MB of its own data once the pipeline is imported (260 MB resident), so the limit is what one task may add: the
default, 640 MiB, is the reading budget (256 MiB) twice plus working room, and keeps a worker's resident peak under
1 GiB.

Allocators keep what a task freed for the next: glibc's malloc raises its mmap threshold to the largest block freed (up
to 32 MiB), after which freed blocks stay in its heap, and pyarrow's mimalloc maps a 1 GiB arena at its first buffer, so
a later task would reuse that memory unseen (a worker that had freed 400 MiB of 1 MiB arrays allocated 384 MiB under a
128 MiB limit; pyarrow 384 MiB in a fresh one). So the allocators are settled before a task runs (`settle_allocators`,
or from a Ray worker's start, `allocator_env`): glibc's thresholds fixed at 128 KiB (a larger block mapped for itself,
unmapped when freed), pyarrow allocating through glibc; what glibc still holds free is given back when a task starts
(`malloc_trim`: unmapped, or no longer resident), so reused it is the task's use again. The price: a block mapped afresh
is faulted in a page at a time (a 1080p frame decoded to RGB took 8.7 ms of CPU against 5.1), so a worker also gets
glibc's transparent huge pages for its mappings (`glibc.malloc.hugetlb=1`, glibc 2.35+, where the kernel's THP mode is
`madvise` or `always`): 6.8 ms (BENCHMARKS.md "Hostile input").

A library in Rust cannot refuse every allocation cleanly: pydantic-core turns a failed `PyObject` allocation into a
pyo3 panic, and a panic under `RUST_BACKTRACE=1` walks the loaded libraries for the backtrace (`dl_iterate_phdr`),
allocating as it goes; refused there, Rust's alloc-error handler waited forever on a lock the walk held (measured: 1 of
5 runs of a 16 MiB `model_validate` under a 100 MiB limit; the 100k dry run under 480 MiB sat 10-16 minutes, its
GIL waiters' wake-ups enough CPU to defeat the supervisor's no-progress bound). So a settled process asks Rust for no
backtrace (`RUST_BACKTRACE=0`, read at the first panic): such an allocation then aborts the process, which the
supervisor says as the memory limit's refusal (`jobs.runtime.supervisor`).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import re
import resource
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from adapters.hostile.memory_use import FOLLOWER, reset_peak, resident_peak, statm

MIB = 1 << 20
DEFAULT_MIB = 640
SLACK = 16 * MIB  # how far the cap may lag the room it follows and still be the room (`Limit.refused_here`)
SPEC_FIELD = "parallelism.task_memory_mib"
# what a library that is not Python says of an allocation refused (OpenCV's cv::OutOfMemoryError text, C++'s
# std::bad_alloc, glibc's ENOMEM): under a task's limit, the limit's
_ALLOCATION = re.compile(
    r"(?i)insufficient memory|failed to allocate|unable to allocate|bad_alloc|cannot allocate memory"
)
_UNITS = {"b": 1, "bytes": 1, "kb": 1e3, "kib": 1 << 10, "mb": 1e6, "mib": MIB, "gb": 1e9, "gib": 1 << 30}
_SIZE = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s*(bytes|B|KiB|KB|MiB|MB|GiB|GB)\b")
_BARE = re.compile(r"(?i)(?:of size|allocate)\s+(\d+)\b(?!\s*(?:bytes|B|KiB|KB|MiB|MB|GiB|GB)\b)")
_active: list[Limit] = []  # the limits in force in this process, innermost last
_settled = False
# glibc's mallopt parameters (malloc.h: M_TRIM_THRESHOLD -1, M_MMAP_THRESHOLD -3); 128 KiB is glibc's own starting
# value of both, kept fixed (setting either turns off glibc's raising them)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
THRESHOLD = 128 << 10
HUGE_PAGES = "glibc.malloc.hugetlb=1"  # malloc's mappings advised for transparent huge pages (glibc 2.35+)


def failure(e: BaseException) -> bool:
    """Whether `e` is the work's failure, said or quarantined as any `Exception` is: an `Exception`, or a Rust
    library's panic. pyo3's `PanicException` derives from `BaseException` so that `except Exception` lets it through
    (pyo3's guide, "Panics"; one such class per extension module, so it is known by name), and pydantic-core panics
    "PyObject pointer is null" where the limit refused a `PyObject` (tests/jobs/runtime/test_supervisor_aborts.py: 1 of
    3 CI runs). `KeyboardInterrupt` (a stop: `jobs.runtime.stops`), `SystemExit` and `GeneratorExit` are not."""
    return isinstance(e, Exception) or any(c.__name__ == "PanicException" for c in type(e).__mro__)


def allocator_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment that settles a process's allocators from its start, as `settle_allocators` does later, with huge
    pages, which only a start can ask for; an operator's own `GLIBC_TUNABLES` kept before ours."""
    own = environ.get("GLIBC_TUNABLES", "")
    tunables = own if HUGE_PAGES in own else ":".join(t for t in (own, HUGE_PAGES) if t)
    return {
        "MALLOC_MMAP_THRESHOLD_": str(THRESHOLD),
        "MALLOC_TRIM_THRESHOLD_": str(THRESHOLD),
        "ARROW_DEFAULT_MEMORY_POOL": "system",
        "GLIBC_TUNABLES": tunables,
        "RUST_BACKTRACE": "0",  # a panic's backtrace under the limit can deadlock (the module's docstring)
    }


def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (`mallopt`, `malloc_trim`), else None (musl, macOS: nothing to settle)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        libc.malloc_trim.argtypes = (ctypes.c_size_t,)
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _glibc()


def settle_allocators() -> None:
    """Large blocks mapped and unmapped for themselves, pyarrow allocating through glibc (the module's docstring)."""
    global _settled
    import pyarrow as pa

    _settled = True
    os.environ["RUST_BACKTRACE"] = "0"  # read by Rust at its first panic: no backtrace walk under the limit
    if _LIBC is not None:
        _LIBC.mallopt(_M_MMAP_THRESHOLD, THRESHOLD)
        _LIBC.mallopt(_M_TRIM_THRESHOLD, THRESHOLD)
    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())


def _sizes(text: str) -> list[int]:
    """The sizes in bytes an allocation failure's text names ("Unable to allocate 2.79 GiB", "malloc of size 402653184
    failed", "Failed to allocate block of 2097152 bytes")."""
    out = [int(float(n.replace(",", "")) * _UNITS[u.lower()]) for n, u in _SIZE.findall(text)]
    return out + [int(n) for n in _BARE.findall(text)]


@dataclass
class Limit:
    """One task's memory limit: `mib` of anonymous resident memory on top of the `used` bytes the process held at its
    start (`memory_use`: reserved address space is not use)."""

    mib: int
    used: int  # anonymous resident bytes at the start
    before: int = resource.RLIM_INFINITY  # the soft limit the block found, put back on its way out
    peak: int = 0  # the most anonymous resident bytes seen in the block (sampled every `memory_use.PERIOD_S`)
    rss: int | None = None  # all resident bytes at the start, when the kernel's peak was reset then (else None)
    knob: str = SPEC_FIELD  # what sets the limit, named by the refusal

    def room(self, used: int) -> int:
        """The bytes the task may still add when the process uses `used`; the peak kept."""
        self.peak = max(self.peak, used)
        return self.used + self.mib * MIB - used

    def left(self) -> int | None:
        """The bytes the task may still add now (None off Linux)."""
        now = statm()
        return None if now is None else self.used + self.mib * MIB - now[1]

    def taken(self) -> int | None:
        """The task's peak of resident memory above what the process held at its start, bytes (None: not known, off
        Linux): the follower's samples of anonymous memory, and the kernel's peak where a sample could not run (a C
        call holding the GIL, as json's parser does)."""
        now = statm()
        if now is None:
            return None
        hwm = resident_peak() if self.rss is not None else None
        kernel = 0 if hwm is None or self.rss is None else hwm - self.rss
        return max(max(self.peak, now[1], self.used) - self.used, kernel)

    def refused_here(self) -> bool:
        """Whether the cap in force now is the room the tasks had left (to `SLACK`): an allocation it refused asked for
        more than that room, and was not refused for address space reserved since the follower's last sample."""
        now = statm()
        if now is None:
            return False
        mapped, used = now
        room = _room(used)
        return room is not None and resource.getrlimit(resource.RLIMIT_DATA)[0] - mapped >= room - SLACK

    def reached(self, e: BaseException) -> bool:
        """Whether the failure `e` is this limit's: an allocation refused (a `MemoryError`, or a library's own words
        for it, along its chain) while the task really was near the limit: past half of it, or asking for more than
        it had left (a size the failure names, or the cap in force being that room: `refused_here`). A library's
        allocation failure at a fifth of the budget under a cap that lagged its reservations is its own, not the
        limit's (issue 75: DuckDB's "Failed to allocate block of 16 bytes" at 218 of 640 MiB). Or a peak past half
        the limit alone (HDF5's deflate filter, which doubles its buffer, only says "filter returned failure")."""
        taken = self.taken()
        if taken is None:
            return False
        near = taken * 2 >= self.mib * MIB
        seen: set[int] = set()
        cause: BaseException | None = e
        while cause is not None and id(cause) not in seen:
            seen.add(id(cause))
            if isinstance(cause, MemoryError) or _ALLOCATION.search(str(cause)):
                asked = any(size > self.mib * MIB - taken for size in _sizes(str(cause)))
                return near or asked or self.refused_here()
            cause = cause.__cause__ or cause.__context__
        return near

    def explain(self, e: BaseException, file: str | None) -> str:
        """The reason a quarantine row keeps when the limit stopped reading `file`."""
        taken = self.taken()
        took = f" after taking {taken / MIB:,.0f} MiB" if taken is not None else ""
        text = " ".join(str(e).split())[:300]
        what = f"{type(e).__name__}: {text}" if text else type(e).__name__
        where = f" reading {file}" if file else ""
        return f"memory limit of {self.mib} MiB per task ({self.knob}) reached{where}{took}: {what}"


def _room(used: int) -> int | None:
    """What the tasks in force may still add (the least of theirs), None when none is."""
    return min((limit.room(used) for limit in _active), default=None)


def _follow() -> None:
    """The follower on the tasks in force, under the soft limit the outermost found (the operator's), or stopped."""
    FOLLOWER.watch(_room if _active else None, _active[0].before if _active else resource.RLIM_INFINITY)


@contextlib.contextmanager
def lifted() -> Iterator[None]:
    """The block under the soft limit the outermost task found, so the processes it starts (Ray's raylet and workers,
    which inherit the limit's absolute bytes, not the task's share) start without it; put back on the way out."""
    if not _active:
        yield
        return
    FOLLOWER.watch(None, resource.RLIM_INFINITY)
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    resource.setrlimit(resource.RLIMIT_DATA, (_active[0].before, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))
        _follow()


def active() -> Limit | None:
    """The limit in force in this process (the innermost), None outside any task."""
    return _active[-1] if _active else None


@contextlib.contextmanager
def task_memory(mib: int | None, knob: str = SPEC_FIELD) -> Iterator[Limit | None]:
    """The block under a limit of `mib` MiB of memory really used on top of what the process uses now (None: no
    limit, yields None): the soft `RLIMIT_DATA` follows use (`memory_use`); `knob` is what sets it, which a refusal
    names. The previous soft limit is put back on the way out, whatever the block raised."""
    if mib is None:
        yield None
        return
    if not _settled:
        settle_allocators()
    FOLLOWER.start()  # before any cap: its stack is a mapping
    if _LIBC is not None:
        _LIBC.malloc_trim(0)  # what glibc holds free given back (unmapped or made non-resident): reused, it counts
    now = statm()
    if now is None:  # no /proc: the limit cannot be relative to the process, so none is set
        yield None
        return
    mapped, used = now
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    want = mapped + mib * MIB
    for outer in (hard, soft):  # an outer limit (a nested task, the operator's ulimit) is never raised
        want = want if outer == resource.RLIM_INFINITY else min(want, outer)
    limit = Limit(mib, used, before=soft, peak=used, rss=reset_peak(), knob=knob)
    resource.setrlimit(resource.RLIMIT_DATA, (want, hard))
    _active.append(limit)
    _follow()
    try:
        yield limit
    finally:
        _active.remove(limit)
        _follow()
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


def parsed_json(read: Callable[[], bytes | str], where: str, mib: int | None = None) -> Any:
    """The JSON document `read()` returns, read and parsed by Python's json under a task's limit of `mib` (issue 67
    item 3): for a command that runs without one (`train`, `eval`, `curate`'s summary), as every bounded command
    parses a user's meta file; pydantic's Rust parser, given a document the limit refuses, aborts the process. A
    document past the limit (default `DEFAULT_MIB`), nested past Python's recursion or not JSON is a ValueError
    naming `where`."""
    with task_memory(mib or DEFAULT_MIB) as limit:
        try:
            return json.loads(read())
        except (MemoryError, RecursionError) as e:
            why = limit.explain(e, where) if limit is not None and limit.reached(e) else f"{where}: nested too deep"
            raise ValueError(f"{why}: not read") from None
        except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
            raise ValueError(f"{where}: not valid JSON ({e})") from None
