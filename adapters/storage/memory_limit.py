"""A memory limit the operating system enforces on every task that touches a source's raw bytes (issue 58 item 1).

The reading budget (`bounds.py`) bounds what a file declares and the inflates eidata does itself; a library that
inflates or parses on its own (numcodecs' GZip/Zstd/Blosc under zarr, HDF5's deflate filter, a PNG in OpenCV,
`json.loads` of a 249 MB document, pyarrow materialising 4e8 rows) is bounded here instead: `task_memory(mib)` sets the
process's `RLIMIT_DATA` (its private writable memory: the heap and anonymous mappings, every allocator's source on Linux
since 4.7) to what it holds now plus `mib`. An allocation past it fails in the library that made it: Python raises
`MemoryError`, numpy "Unable to allocate", pyarrow `ArrowMemoryError`, HDF5's filter "returned failure during read"
(h5py `OSError`), never a 3 GB process.

Why in the worker and not a child process per task: a Ray worker runs one task at a time, a soft limit is put back
when the task ends, and it costs two `setrlimit` calls and a read of `/proc/self/status` (about 30 us a task,
BENCHMARKS.md "Hostile input"), where a process per episode would fork a 260 MB worker. A Ray worker holds about
410 MB of its own data once the pipeline is imported (260 MB resident), so the limit is what one task may add: the
default, 640 MiB, is the reading budget (256 MiB) twice plus working room, and keeps a worker's resident peak under
1 GiB.

What the limit counts is mapped memory, and allocators keep what a task freed mapped for the next: glibc's malloc
raises its mmap threshold to the largest block freed (up to 32 MiB), after which freed blocks stay in its heap, and
pyarrow's mimalloc maps a 1 GiB arena at its first buffer, so a later task would reuse that memory unseen (a worker
that had freed 400 MiB of 1 MiB arrays allocated 384 MiB under a 128 MiB limit; pyarrow 384 MiB in a fresh one). So
the allocators are settled before a task runs (`settle_allocators`, or from a Ray worker's start, `allocator_env`):
glibc's thresholds fixed at 128 KiB (a larger block mapped for itself, unmapped when freed), pyarrow allocating through
glibc; what glibc still holds free (`mallinfo2`) is taken off the base, so a task may add `mib` whatever was freed
before it. The price: a block mapped afresh is faulted in a page at a time (a 1080p frame decoded to RGB took 8.7 ms of
CPU against 5.1), so a worker also gets glibc's transparent huge pages for its mappings (`glibc.malloc.hugetlb=1`,
glibc 2.35+, where the kernel's THP mode is `madvise` or `always`): 6.8 ms (BENCHMARKS.md "Hostile input").
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import re
import resource
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

MIB = 1 << 20
DEFAULT_MIB = 640
SPEC_FIELD = "parallelism.task_memory_mib"
_STATUS = "/proc/self/status"
_PAGE = resource.getpagesize()
# what a library that is not Python says of an allocation refused (OpenCV's cv::OutOfMemoryError text, C++'s
# std::bad_alloc, glibc's ENOMEM): under a task's limit, the limit's
_ALLOCATION = re.compile(
    r"(?i)insufficient memory|failed to allocate|unable to allocate|bad_alloc|cannot allocate memory"
)
_active: list[Limit] = []  # the limits in force in this process, innermost last
_settled = False
# glibc's mallopt parameters (malloc.h: M_TRIM_THRESHOLD -1, M_MMAP_THRESHOLD -3); 128 KiB is glibc's own starting
# value of both, kept fixed (setting either turns off glibc's raising them)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
THRESHOLD = 128 << 10
HUGE_PAGES = "glibc.malloc.hugetlb=1"  # malloc's mappings advised for transparent huge pages (glibc 2.35+)


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
    }


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks")
    ] + [("keepcost", ctypes.c_size_t)]


def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc with `mallinfo2` (2.33+), else None (musl, macOS: nothing to settle)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallinfo2.restype = _Mallinfo2
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
    if _LIBC is not None:
        _LIBC.mallopt(_M_MMAP_THRESHOLD, THRESHOLD)
        _LIBC.mallopt(_M_TRIM_THRESHOLD, THRESHOLD)
    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())


FLOOR_MIB = 64  # what a task may always map anew, whatever the holes it may reuse (`task_memory`)


def _free_held() -> int:
    """Bytes glibc holds free in its heaps (free chunks and top), which a task reuses unmapped; 0 where not glibc."""
    return 0 if _LIBC is None else int(_LIBC.mallinfo2().fordblks)


def _status(*keys: str) -> dict[str, int]:
    """`/proc/self/status` sizes in bytes (`VmData`, `VmHWM`, `VmRSS`), read once; empty off Linux."""
    out: dict[str, int] = {}
    try:
        with open(_STATUS, encoding="ascii") as f:
            for line in f:
                key = line.split(":", 1)[0]
                if key in keys:
                    out[key] = int(line.split()[1]) * 1024
    except OSError:
        return {}
    return out


def _statm() -> tuple[int, int] | None:
    """(private data and stack, resident) bytes from `/proc/self/statm`, a cheaper read than `status` (about 10 us
    against 90 on a loaded host); None off Linux. The stack (a few hundred KiB) rides on the base, never on the task."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            fields = f.read().split()
    except OSError:
        return None
    return int(fields[5]) * _PAGE, int(fields[1]) * _PAGE


def _reset_peak() -> bool:
    """Reset this process's resident peak (`VmHWM`), so it is the task's own; False where the kernel does not allow."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


@dataclass
class Limit:
    """One task's memory limit: `mib` on top of the `base` bytes of private data the process held at its start."""

    mib: int
    base: int  # private data (and stack) at the start, bytes
    rss: int  # VmRSS at the start, bytes
    peak_known: bool  # the resident peak was reset at the start, so `taken` is this task's
    soft: int  # the soft RLIMIT_DATA set for the block, bytes (`base + mib`, never under the mapping's floor)
    before: int = resource.RLIM_INFINITY  # the soft limit the block found, put back on its way out

    def taken(self) -> int | None:
        """The task's resident peak above what the process held at its start, bytes (None: not known)."""
        hwm = _status("VmHWM").get("VmHWM")
        return None if hwm is None or not self.peak_known else max(hwm - self.rss, 0)

    def reached(self, e: BaseException) -> bool:
        """Whether the failure `e` is this limit's: a `MemoryError` or an allocation refused in a library's own words
        along its chain, or a peak past half the limit (HDF5's deflate filter, which doubles its buffer, only says
        "filter returned failure", at between half and all of it)."""
        seen: set[int] = set()
        cause: BaseException | None = e
        while cause is not None and id(cause) not in seen:
            seen.add(id(cause))
            if isinstance(cause, MemoryError) or _ALLOCATION.search(str(cause)):
                return True
            cause = cause.__cause__ or cause.__context__
        taken = self.taken()
        return taken is not None and taken * 2 >= self.mib * MIB

    def explain(self, e: BaseException, file: str | None) -> str:
        """The reason a quarantine row keeps when the limit stopped reading `file`."""
        taken = self.taken()
        took = f" after taking {taken / MIB:,.0f} MiB" if taken is not None else ""
        text = " ".join(str(e).split())[:300]
        what = f"{type(e).__name__}: {text}" if text else type(e).__name__
        where = f" reading {file}" if file else ""
        return f"memory limit of {self.mib} MiB per task ({SPEC_FIELD}) reached{where}{took}: {what}"


@contextlib.contextmanager
def lifted() -> Iterator[None]:
    """The block under the soft limit the outermost task found, so the processes it starts (Ray's raylet and workers,
    which inherit the limit's absolute bytes, not the task's share) start without it; put back on the way out."""
    if not _active:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    resource.setrlimit(resource.RLIMIT_DATA, (_active[0].before, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


def active() -> Limit | None:
    """The limit in force in this process (the innermost), None outside any task."""
    return _active[-1] if _active else None


@contextlib.contextmanager
def task_memory(mib: int | None) -> Iterator[Limit | None]:
    """The block under a limit of `mib` MiB of private memory on top of what the process holds now (None: no limit,
    yields None). The previous soft limit is put back on the way out, whatever the block raised."""
    if mib is None:
        yield None
        return
    if not _settled:
        settle_allocators()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)  # the heap's free top given back first, so what stays free is only holes
    now = _statm()
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if now is None:  # no /proc: the limit cannot be relative to the process, so none is set
        yield None
        return
    mapped, rss = now
    base = mapped - _free_held()  # what the allocator holds free counts against the task when reused (the docstring)
    # never below what is mapped plus a floor: with holes past `mib`, a limit under the mapping would refuse every new
    # map, a thread's stack included, and Thread.start then waits forever for a thread that never ran (a deadline
    # watchdog hung a test process that had 1 GB free in holes)
    want = max(base + mib * MIB, mapped + min(mib, FLOOR_MIB) * MIB)
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    if soft != resource.RLIM_INFINITY:
        want = min(want, soft)  # an outer limit (a nested task, the operator's ulimit) is never raised
    limit = Limit(mib, base, rss, _reset_peak(), want, soft)
    resource.setrlimit(resource.RLIMIT_DATA, (want, hard))
    _active.append(limit)
    try:
        yield limit
    finally:
        _active.remove(limit)
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
