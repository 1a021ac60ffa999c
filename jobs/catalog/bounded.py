"""User SQL (`eidata query`, `eidata curate --where`) run within a memory limit, a thread limit and a wall-clock
deadline, in a child process the caller can always stop.

DuckDB's own bounds come first: `memory_limit`, `threads` and no temp directory (a query that would spill fails instead:
nothing is written), set before the configuration is locked (`jobs.catalog.query.connect`), and `interrupt()` from a
timer at the deadline. They are not enough alone (measured on DuckDB 2.0.1, reliability review 5, 3d-3e): a scalar
function allocates its result outside the buffer manager, so `printf('%2000000000d', 1)` reached 2 GiB under a 1 GiB
`memory_limit`, and `lpad(tier, 2000000000, 'x')` or `string_split(lpad('', 300000000, ','), ',')` never look at the
interrupt flag inside one call and ran past 40 s after it was set. So the statement runs in a forked child whose
address space is capped (`RLIMIT_AS`: what it had mapped once connected, plus what is left of the memory limit), and
the parent kills it (SIGKILL) `GRACE_S` after the deadline if it has not answered. The deadline starts once the child
has opened the views (it says so with `READY`): under load, importing Arrow's dataset module and reading the parts'
schemas took seconds, which a short deadline must not count. The child sends back its result, or its error,
pickled through a pipe; a limit hit becomes `SqlLimitError`, naming the limit and the flag that raises it.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import resource
import select
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import duckdb
import pyarrow as pa

from jobs.runtime.options import Arg

T = TypeVar("T")
MIB = 2**20
GRACE_S = 1.0  # after the deadline, how long a child may take to stop on DuckDB's interrupt before it is killed
MIN_SHARE = 4  # a child started from a large process still gets memory_mib / MIN_SHARE for the statement
SETUP_S = 60.0  # a child may take this long to open the catalog's views before its deadline starts
READY = b"R"  # the child's first byte: its views are open, the statement's deadline starts


@dataclass(frozen=True)
class SqlLimits:
    """What one user statement may take: `memory_mib` of memory (DuckDB's `memory_limit`, and the address space its
    process may add), `threads` (DuckDB's and Arrow's thread pools) and `deadline_s` of wall-clock time."""

    memory_mib: int = 1024
    threads: int = 2
    deadline_s: float = 120.0

    def __post_init__(self) -> None:
        if self.memory_mib < 64 or self.threads < 1 or not self.deadline_s > 0:
            raise ValueError(
                f"SQL limits must be at least 64 MiB, 1 thread and a positive deadline, got {self.memory_mib} MiB, "
                f"{self.threads} threads, {self.deadline_s} s"
            )

    @classmethod
    def of(cls, args: Any) -> SqlLimits:
        """The limits an `eidata query` / `curate` command line gives (`OPTIONS`), the defaults for those it lacks."""
        d = cls()
        return cls(
            memory_mib=getattr(args, "sql_memory_mib", None) or d.memory_mib,
            threads=getattr(args, "sql_threads", None) or d.threads,
            deadline_s=getattr(args, "sql_deadline_s", None) or d.deadline_s,
        )

    def settings(self) -> list[str]:
        """DuckDB settings applying these limits to a connection (before its configuration is locked)."""
        return [
            f"SET memory_limit = '{self.memory_mib}MiB'",
            f"SET threads = {self.threads}",
            "SET temp_directory = ''",  # no spilling: past the memory limit a query fails, and it writes no file
        ]


# `eidata query` / `curate`: the flags that raise the limits, named by SqlLimitError's messages
OPTIONS = (
    Arg(
        ("--sql-memory-mib",),
        {
            "type": int,
            "default": None,
            "metavar": "MIB",
            "help": f"memory the process running the SQL may use (default {SqlLimits().memory_mib})",
        },
    ),
    Arg(
        ("--sql-threads",),
        {
            "type": int,
            "default": None,
            "metavar": "N",
            "help": f"threads the SQL may use (default {SqlLimits().threads})",
        },
    ),
    Arg(
        ("--sql-deadline-s",),
        {
            "type": float,
            "default": None,
            "metavar": "S",
            "help": f"seconds the SQL may run before it is stopped (default {SqlLimits().deadline_s:g})",
        },
    ),
)


class SqlLimitError(RuntimeError):
    """A statement stopped at one of its `SqlLimits`; the message names the limit and the flag that raises it."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit  # "memory" | "deadline"


def _deadline_error(limits: SqlLimits) -> SqlLimitError:
    return SqlLimitError(
        "deadline",
        f"the SQL ran past its deadline of {limits.deadline_s:g} s and was stopped; --sql-deadline-s raises it",
    )


def _memory_error(limits: SqlLimits, detail: str) -> SqlLimitError:
    return SqlLimitError(
        "memory",
        f"the SQL needs more than its memory limit of {limits.memory_mib} MiB and was stopped ({detail}); "
        "--sql-memory-mib raises it",
    )


@dataclass
class Usage:
    """What one bounded run took, for the caller's report and the tests: wall-clock seconds, the child's peak RSS and
    its RSS when it started (a forked child starts with its parent's pages), how it ended."""

    wall_s: float = 0.0
    setup_s: float = 0.0  # of wall_s, until the child had its views open (the deadline counts from there)
    peak_rss_mib: float = 0.0
    start_rss_mib: float = 0.0
    outcome: str = ""


def _mapped_bytes() -> int:
    """This process's address space now (VmSize)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MIB


def _child(
    w: int,
    limits: SqlLimits,
    open_: Callable[[SqlLimits], duckdb.DuckDBPyConnection],
    work: Callable[[duckdb.DuckDBPyConnection], T],
) -> None:
    """In the forked child: connect with what is left of the memory limit, cap the address space, run `work` until the
    deadline, send back ("ok", result) | ("memory", detail) | ("deadline", None) | ("error", exception)."""
    fired = threading.Event()
    try:
        pa.set_cpu_count(limits.threads)
        pa.set_io_thread_count(limits.threads)
        left = max(limits.memory_mib - int(_rss_mib()), limits.memory_mib // MIN_SHARE)
        con = open_(replace(limits, memory_mib=left))
        room = max(limits.memory_mib - int(_rss_mib()), limits.memory_mib // MIN_SHARE)  # once connected
        cap = _mapped_bytes() + room * MIB
        resource.setrlimit(resource.RLIMIT_AS, (cap, resource.getrlimit(resource.RLIMIT_AS)[1]))

        def stop() -> None:
            fired.set()
            con.interrupt()

        timer = threading.Timer(limits.deadline_s, stop)
        timer.daemon = True
        timer.start()
        os.write(w, READY)  # the parent's clock starts with this one
        reply: tuple[str, Any] = ("ok", work(con))
    except duckdb.InterruptException as e:
        reply = ("deadline", None) if fired.is_set() else ("error", e)
    except (duckdb.OutOfMemoryException, MemoryError) as e:
        reply = ("memory", str(e).splitlines()[0][:200] or type(e).__name__)
    except BaseException as e:  # every error goes back to the parent, which raises it
        reply = ("error", e)
    try:
        data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        data = pickle.dumps(("memory", "its result does not fit beside it"))
    except Exception as e:  # an error that does not pickle is sent as its text
        data = pickle.dumps(("error", RuntimeError(f"{type(reply[1]).__name__}: {reply[1]} ({e})")))
    with os.fdopen(w, "wb") as out:
        out.write(data)


def run_bounded(
    open_: Callable[[SqlLimits], duckdb.DuckDBPyConnection],
    work: Callable[[duckdb.DuckDBPyConnection], T],
    limits: SqlLimits,
    usage: Usage | None = None,
) -> T:
    """`work(open_(child_limits))` in a forked child within `limits` (`child_limits`: the memory left to the statement
    once the child's own size is counted); its result, or the error it raised (raised here), or SqlLimitError for a
    limit it hit. `usage`, when given, is filled with what the run took."""
    usage = usage if usage is not None else Usage()
    start = time.monotonic()
    usage.start_rss_mib = _rss_mib()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child never returns into the caller's code
        code = 0
        try:
            os.close(r)
            _child(w, limits, open_, work)
        except BaseException:  # whatever happens, the child exits here
            code = 70
        finally:
            os._exit(code)
    os.close(w)
    chunks: list[bytes] = []
    killed = finished = False
    until = start + SETUP_S  # until the child is ready, then its deadline and the grace
    try:
        while True:
            left = until - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                killed = True
                break
            if select.select([r], [], [], left)[0]:
                chunk = os.read(r, 1 << 20)
                if not chunk:
                    finished = True
                    break
                if not chunks:  # the first bytes: READY, and maybe more
                    usage.setup_s = time.monotonic() - start
                    until = start + usage.setup_s + limits.deadline_s + GRACE_S
                    chunk = chunk.removeprefix(READY)
                chunks.append(chunk)
    finally:
        os.close(r)
        if not (killed or finished):  # an interrupted wait (Ctrl-C): the child goes with it
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _, status, rusage = os.wait4(pid, 0)
        usage.wall_s = time.monotonic() - start
        usage.peak_rss_mib = rusage.ru_maxrss / 1024  # kB on Linux
    data = b"".join(chunks)
    kind, value = pickle.loads(data) if data else (None, None)
    usage.outcome = kind or ("killed at the deadline" if killed else f"died ({_status(status)})")
    if kind == "ok":
        return value
    if kind == "error":
        raise value
    if killed and not chunks:
        raise SqlLimitError("deadline", f"the catalog's views were not open after {SETUP_S:g} s; nothing ran")
    if kind == "deadline" or killed:
        raise _deadline_error(limits)
    if kind == "memory":
        raise _memory_error(limits, value)
    # no answer: the child died on its own, most often at its address-space cap (a C++ allocation failure that
    # aborts) since nothing else kills it
    raise _memory_error(limits, f"its process {_status(status)} at a peak of {usage.peak_rss_mib:.0f} MiB")


def _status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"ended by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited {os.WEXITSTATUS(status)} without an answer"
