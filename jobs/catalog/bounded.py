"""User SQL (`eidata query`, `eidata curate --where`) run within a memory limit, a thread limit and a wall-clock
deadline, in a child process the caller can always stop.

DuckDB's own bounds come first (`memory_limit`, `threads`, no temp directory: a query that would spill fails and writes
nothing; `interrupt()` from a timer at the deadline). They are not enough alone (measured on DuckDB 2.0.1, reliability
review 5, 3d-3e): `printf('%2000000000d', 1)` allocates outside the buffer manager and reached 2 GiB under a 1 GiB
`memory_limit`, and `lpad(tier, 2000000000, 'x')` or `string_split(lpad('', 300000000, ','), ',')` never look at the
interrupt flag inside one call and ran past 40 s after it was set. So the statement runs in a child whose memory the
operating system bounds (`adapters.hostile.limits`: a cgroup where the machine gives one, else `RLIMIT_AS`, entered once
its views are open), which the kernel ends `GRACE_S` after the deadline (SIGALRM at its default action: no thread
has to run for it), and which the parent kills (SIGKILL) then if it has not answered.

The child is a fresh interpreter (`python -c child_main()`), never a fork of the caller: forked from a large process
with many threads (pytest after three thousand tests: 1.6 GiB, Ray's, Arrow's and DuckDB's pools), `range(1e12)` under
a 2 s deadline ran 165 s and `levenshtein` 55 s. What to run crosses as a pickle on its stdin; the deadline starts once
the child has opened the views (`READY`: under load that took seconds, which a short deadline must not count); the
result or error and the child's peak RSS come back through a pipe of its own (its stdout goes to the caller's stderr:
the caller's stdout is data). Starting the interpreter costs about 0.5 s a statement (0.8 s against 0.3 s forked,
`SELECT count(*)` on a small catalog).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import duckdb
import pyarrow as pa

from adapters.hostile.limits import MIB, Cage, cage, mechanism
from jobs.runtime.options import Arg

T = TypeVar("T")
GRACE_S = 1.0  # after the deadline, how long a child may take to stop on DuckDB's interrupt before it is killed
MIN_SHARE = 4  # past the interpreter's own size, a statement still gets memory_mib / MIN_SHARE
SETUP_S = 60.0  # a child may take this long to open the catalog's views before its deadline starts
POLL_S = 0.1  # the parent looks at the child's peak RSS this often while it waits
READY = b"R"  # the child's first byte: its views are open, the statement's deadline starts
ALIGN = 64  # bytes: where each of the answer's Arrow buffers starts, as Arrow aligns its own allocations
MAX_DEADLINE_S = 86_400.0  # a day: past it a statement over the catalog is a mistake (and setitimer overflows at 1e300)


@dataclass(frozen=True)
class SqlLimits:
    """What one user statement may take: `memory_mib` of memory (DuckDB's `memory_limit`, and the address space its
    process may add), `threads` (DuckDB's and Arrow's thread pools), `deadline_s` of wall-clock time (finite: `inf`
    crashed the child's timer, review 6 N42) and `output_mib` of formatted result (`eidata query`: the caller holds it,
    review 6 N35)."""

    memory_mib: int = 1024
    threads: int = 2
    deadline_s: float = 120.0
    output_mib: int = 256

    def __post_init__(self) -> None:
        wrong = [
            f"{flag} must be {rule}, got {value!r}"
            for flag, value, ok, rule in (
                ("--sql-memory-mib", self.memory_mib, self.memory_mib >= 64, "at least 64"),
                ("--sql-threads", self.threads, self.threads >= 1, "at least 1"),
                (
                    "--sql-deadline-s",
                    self.deadline_s,
                    0 < self.deadline_s <= MAX_DEADLINE_S,
                    f"in (0, {MAX_DEADLINE_S:g}]",
                ),
                ("--sql-output-mib", self.output_mib, self.output_mib >= 1, "at least 1"),
            )
            if not ok  # NaN fails the deadline's comparison too
        ]
        if wrong:
            raise ValueError("SQL limits: " + "; ".join(wrong))

    @classmethod
    def of(cls, args: Any) -> SqlLimits:
        """The limits an `eidata query` / `curate` command line gives (`OPTIONS`), the defaults for those it lacks; a
        value given is kept as given, so 0 is refused by name rather than read as "not given"."""
        given = {f: getattr(args, f"sql_{f}", None) for f in ("memory_mib", "threads", "deadline_s", "output_mib")}
        return cls(**{f: v for f, v in given.items() if v is not None})

    def settings(self) -> list[str]:
        """DuckDB settings applying these limits to a connection (before its configuration is locked)."""
        return [
            f"SET memory_limit = '{self.memory_mib}MiB'",
            f"SET threads = {self.threads}",
            "SET temp_directory = ''",  # no spilling: past the memory limit a query fails, and it writes no file
            "SET enable_progress_bar = false",  # DuckDB drew one on the child's stdout past 2 s
        ]


# `eidata query` / `curate`: the flags that raise the limits (`--sql-memory-mib` ...), named by SqlLimitError's messages
OPTIONS = tuple(
    Arg(
        f"--sql-{name.replace('_', '-')}",
        type=kind,
        default=None,
        metavar=var,
        help=f"{text} (default {getattr(SqlLimits(), name):g})",
    )
    for name, kind, var, text in (
        ("memory_mib", int, "MIB", "memory the process running the SQL may use"),
        ("threads", int, "N", "threads the SQL may use"),
        ("deadline_s", float, "S", "seconds the SQL may run before it is stopped"),
        ("output_mib", int, "MIB", "size of the printed result, csv or json"),
    )
)


class SqlLimitError(RuntimeError):
    """A statement stopped at one of its `SqlLimits`; the message names the limit and the flag that raises it."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit  # "memory" | "deadline" | "output"

    def __reduce__(self) -> tuple[type, tuple[str, str]]:  # raised in the child, it crosses back as a pickle
        return (SqlLimitError, (self.limit, str(self)))


def _memory_error(limits: SqlLimits, detail: str) -> SqlLimitError:
    return SqlLimitError(
        "memory",
        f"the SQL needs more than its memory limit of {limits.memory_mib} MiB and was stopped ({detail}); "
        "--sql-memory-mib raises it",
    )


@dataclass
class Usage:
    """What one bounded run took, for the caller's report and the tests: wall-clock seconds, the child's peak RSS (its
    own: a fresh interpreter, whatever the caller's size), how it ended."""

    wall_s: float = 0.0
    setup_s: float = 0.0  # of wall_s, until the child had its views open (the deadline counts from there)
    peak_rss_mib: float = 0.0
    outcome: str = ""


def _statm(field: int) -> int:
    """Field `field` of this process's /proc/self/statm now, in bytes (1: resident)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[field]) * os.sysconf("SC_PAGE_SIZE")


def _room(limits: SqlLimits) -> int:
    """MiB of the memory limit left past this process's resident size now, at least `memory_mib / MIN_SHARE`. The
    size is rounded up: rounded down, the room let the process's peak reach up to a MiB past the limit (1024.06)."""
    return max(limits.memory_mib - -(-_statm(1) // MIB), limits.memory_mib // MIN_SHARE)


def _hwm_mib(pid: int | str = "self") -> float:
    """Process `pid`'s peak RSS (VmHWM) in MiB, 0 once it is gone. Its own mm's: `wait4`'s ru_maxrss carries the high
    mark of the process it was started from across fork and exec (the caller's gigabytes)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return next((int(x.split()[1]) / 1024 for x in f if x.startswith("VmHWM:")), 0.0)
    except OSError:
        return 0.0


def _child(
    w: int,
    cage: Cage,
    limits: SqlLimits,
    open_: Callable[[SqlLimits], duckdb.DuckDBPyConnection],
    work: Callable[[duckdb.DuckDBPyConnection], T],
) -> None:
    """In the child: connect with what is left of the memory limit, cap its memory, run `work` until the
    deadline, send back ("ok", result) | ("memory", detail) | ("deadline", None) | ("error", exception)."""
    fired = threading.Event()
    try:
        pa.set_cpu_count(limits.threads)
        pa.set_io_thread_count(limits.threads)
        con = open_(limits=replace(limits, memory_mib=_room(limits)))
        _warm(con)
        cage.enter(_room(limits))  # the operating system's limit on what it adds from here, the views open and warm

        def stop() -> None:
            fired.set()
            con.interrupt()

        timer = threading.Timer(limits.deadline_s, stop)
        timer.daemon = True
        timer.start()
        # and the kernel's: SIGALRM left at its default action ends the process `GRACE_S` after the deadline, needing
        # no thread of its own to run (the timer above did not get to run under a caller with eight busy threads on
        # two cores; nor did the parent's kill, and `range(1e12)` ran its 100 s)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.setitimer(signal.ITIMER_REAL, limits.deadline_s + GRACE_S)
        os.write(w, READY)  # the parent's clock starts with this one
        reply: tuple[str, Any] = ("ok", work(con))
        signal.setitimer(signal.ITIMER_REAL, 0)  # done: the answer is sent whatever the clock says now
    except duckdb.InterruptException as e:
        reply = ("deadline", None) if fired.is_set() else ("error", e)
    except (duckdb.OutOfMemoryException, MemoryError) as e:
        reply = ("memory", str(e).splitlines()[0][:200] or type(e).__name__)
    except BaseException as e:  # every error goes back to the parent, which raises it
        reply = ("error", e)
    peak = _hwm_mib()
    buffers: list[pickle.PickleBuffer] = []
    try:  # Arrow's buffers out of band: written as they are, not copied into the pickle
        head = pickle.dumps((reply, peak), protocol=5, buffer_callback=buffers.append)
    except MemoryError:
        head, buffers = pickle.dumps((("memory", "its result does not fit beside it"), peak)), []
    except Exception as e:  # an error that does not pickle is sent as its text
        text = RuntimeError(f"{type(reply[1]).__name__}: {reply[1]} ({e})")
        head, buffers = pickle.dumps((("error", text), peak)), []
    raws = [b.raw() for b in buffers]
    frame = pickle.dumps((len(head), [r.nbytes for r in raws]))
    with os.fdopen(w, "wb") as out:
        out.write(len(frame).to_bytes(8, "little"))
        out.write(frame)
        out.write(head)
        at = 8 + len(frame) + len(head)
        for r in raws:  # each where `_answer` looks for it: at a multiple of ALIGN
            out.write(bytes(-at % ALIGN))
            out.write(r)
            at += -at % ALIGN + r.nbytes


def _answer(data: bytes | bytearray) -> tuple[tuple[str | None, Any], float]:
    """The child's ((kind, value), peak RSS) from what it wrote (`_child`): a frame saying the pickle's length and its
    out-of-band buffers' sizes, the pickle, the buffers, each at a multiple of `ALIGN` (Arrow's arrays are read in
    place: an int64 buffer after a string's odd-length data was misaligned, and Acero warned of it)."""
    if not data:
        return (None, None), 0.0
    view = memoryview(data)
    n = int.from_bytes(view[:8], "little")
    size, sizes = pickle.loads(view[8 : 8 + n])
    at = 8 + n + size
    buffers = []
    for k in sizes:
        at += -at % ALIGN
        buffers.append(view[at : at + k])
        at += k
    return pickle.loads(view[8 + n : 8 + n + size], buffers=buffers)


def _warm(con: duckdb.DuckDBPyConnection) -> None:
    """A scan of each view, before the address space is capped: DuckDB's and Arrow's worker threads start here, each
    reserving its stack and a malloc arena (64 MiB of address space, and under contention glibc adds arenas), which
    started under the cap failed a third of ordinary `curate` calls in the full suite ("Failed to launch worker
    thread: Resource temporarily unavailable"). With `MALLOC_ARENA_MAX` (`_start`) a query then adds about 50 MiB of
    address space to what it had mapped, against 300 MiB and more without either.

    `SELECT 1`, not `SELECT *`: DuckDB then asks Arrow for one column, and the scan decodes one row group of it. The
    first row of every column decoded a row group of all 114 (261 MiB at 122,880 rows), and with Arrow's default
    readahead every row group: a million-episode catalog took the child to 2.9 GiB and 19 s before the statement ran,
    outside the cap, and left `curate` a quarter of its limit (issue 99). Measured at 1,000,042 episodes: this warm-up
    78 MiB and 0.2 s, the same 17 threads started as `SELECT *`'s."""
    for (name,) in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall():
        con.sql(f'SELECT 1 FROM "{name}" LIMIT 1').fetchall()


def child_main() -> None:
    """The child's entry (`run_bounded` starts it): (write fd in argv, limits, open_, work pickled on stdin)."""
    w = int(sys.argv[1])
    cage, limits, open_, work = pickle.load(sys.stdin.buffer)
    code = 0
    try:
        _child(w, cage, limits, open_, work)
    except BaseException:  # whatever happens, the child exits here; its parent says it died without an answer
        code = 70
    finally:
        os._exit(code)


def _start(w: int, payload: bytes) -> subprocess.Popen:
    """A fresh interpreter running `child_main` with the write end `w` of the answer pipe; `payload` on its stdin. It
    imports what the caller can (the caller's `sys.path`)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "MALLOC_ARENA_MAX": "2"}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from jobs.catalog.bounded import child_main; child_main()", str(w)],
        stdin=subprocess.PIPE,
        stdout=sys.stderr.fileno() if _has_fileno(sys.stderr) else subprocess.DEVNULL,  # the caller's stdout is data
        pass_fds=(w,),
        env=env,
    )
    assert proc.stdin is not None
    with contextlib.suppress(BrokenPipeError), proc.stdin:  # a child that died at once is said below
        proc.stdin.write(payload)
    return proc


def _has_fileno(stream: Any) -> bool:
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):  # pytest's capture, a notebook's stream
        return False
    return True


def run_bounded(
    open_: Callable[..., duckdb.DuckDBPyConnection],
    work: Callable[[duckdb.DuckDBPyConnection], T],
    limits: SqlLimits,
    usage: Usage | None = None,
) -> T:
    """`work(open_(limits=child_limits))` in a child process within `limits` (`child_limits`: the memory left to the
    statement once the child's own size is counted); its result, or the error it raised (raised here), or
    SqlLimitError for a limit it hit. `open_` and `work` must pickle (module-level functions, `functools.partial`s of
    them): they cross to a fresh interpreter. `usage`, when given, is filled with what the run took."""
    usage = usage if usage is not None else Usage()
    start = time.monotonic()
    held = cage(limits.memory_mib)  # what the child may add once its views are open: set again there (`_child`)
    payload = pickle.dumps((held, limits, open_, work), protocol=pickle.HIGHEST_PROTOCOL)
    r, w = os.pipe()
    try:
        proc = _start(w, payload)
    except BaseException:
        os.close(r)
        held.close()
        raise
    finally:
        os.close(w)
    pid = proc.pid
    answer = bytearray()  # grown in place (realloc): no second copy of a large result, as joining chunks made
    killed = finished = ready = False
    until = start + SETUP_S  # until the child is ready, then its deadline and the grace
    try:
        while True:
            left = until - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                killed = True
                break
            usage.peak_rss_mib = max(usage.peak_rss_mib, _hwm_mib(pid))  # the last seen, for a child that dies
            if select.select([r], [], [], min(left, POLL_S))[0]:
                chunk = os.read(r, 1 << 20)
                if not chunk:
                    finished = True
                    break
                if not ready:  # the first bytes: READY, and maybe more
                    ready = True
                    usage.setup_s = time.monotonic() - start
                    until = start + usage.setup_s + limits.deadline_s + GRACE_S
                    chunk = chunk.removeprefix(READY)
                answer += chunk
    finally:
        os.close(r)
        if not (killed or finished):  # an interrupted wait (Ctrl-C): the child goes with it
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        usage.wall_s = time.monotonic() - start
        oom, cage_peak = held.killed(), held.peak_mib()
        held.close()
    usage.peak_rss_mib = max(usage.peak_rss_mib, cage_peak or 0.0)
    if oom:  # the cgroup's out-of-memory killer ended it
        raise _memory_error(limits, f"killed by the operating system's limit ({mechanism()})")
    (kind, value), peak = _answer(answer)
    usage.peak_rss_mib = max(usage.peak_rss_mib, peak)
    usage.outcome = kind or ("killed at the deadline" if killed else f"died ({_status(status)})")
    if kind == "ok":
        return value
    if kind == "error":
        raise value
    if killed and not ready:
        raise SqlLimitError("deadline", f"the catalog's views were not open after {SETUP_S:g} s; nothing ran")
    if kind == "deadline" or killed or (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGALRM):
        raise SqlLimitError(
            "deadline",
            f"the SQL ran past its deadline of {limits.deadline_s:g} s and was stopped; --sql-deadline-s raises it",
        )
    if kind == "memory":
        raise _memory_error(limits, value)
    # no answer: the child died on its own, most often at its address-space cap (a C++ allocation failure that
    # aborts) since nothing else kills it
    raise _memory_error(limits, f"its process {_status(status)} at a peak of {usage.peak_rss_mib:.0f} MiB")


def _status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"ended by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited {os.WEXITSTATUS(status)} without an answer"
