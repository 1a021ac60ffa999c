"""The one boundary: every parse of a source's bytes runs in a process of its own under the operating system's memory
limit (issue 84; `jobs.runtime.limits`), and what it answers comes back pickled.

`answer(fn, *args, mib=...)` forks the caller, puts the child in a cage of `mib` MiB, runs `fn(*args)` there and
returns its value, or raises what it raised (the exception pickled back; one that does not pickle comes back as a
`RuntimeError` with its class and text). When the child dies instead, by the cage's out-of-memory killer, a signal
(an abort of a library that could not allocate, a deadline's SIGKILL) or an exit without an answer, the call raises
`Killed`: the limit, the mechanism, the signal, the cage's peak where it is measured, and the last source file the
child opened (an audit hook on Python's "open" and on the storage room's own event for files handed to libraries,
written to a page both processes share), which is the file whose parse killed it.

A fork and not a fresh interpreter: the caller (a Ray worker, the command's own process) has the pipeline imported,
and a fork costs milliseconds where an import costs seconds. The child dies with its parent (`PR_SET_PDEATHSIG`), runs
nothing of its parent's threads, and never returns into the caller's code: it leaves by `os._exit`.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import io
import itertools
import mmap
import os
import pickle
import select
import signal
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from adapters.storage.declared import EVENT
from jobs.runtime.limits import Cage, cage, mechanism

T = TypeVar("T")
PAGE = 4096
_PR_SET_PDEATHSIG = 1
# what a library opens for itself, never the input: the kernel's files, the system's data, the interpreter's own
_LIBRARY = ("/proc/", "/sys/", "/dev/", "/usr/", "/etc/", f"{sys.prefix}/", f"{sys.base_prefix}/")
_WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_DIRECTORY
_page: mmap.mmap | None = None  # in a parse process: where its last opened source file is kept


class Killed(Exception):
    """The parse process died before it answered: `oom` by its cage's memory limit, else by `signum` (None: it exited
    with `status` and no answer)."""

    def __init__(
        self,
        what: str,
        mib: int | None,
        *,
        oom: bool,
        signum: int | None,
        status: int,
        reading: str | None,
        peak: float | None,
    ) -> None:
        self.what, self.mib, self.oom, self.signum, self.status = what, mib, oom, signum, status
        self.reading, self.peak = reading, peak
        super().__init__(self.describe())

    @property
    def limit(self) -> str:
        return f"the memory limit of {self.mib} MiB ({mechanism()})"

    def describe(self) -> str:
        how = (
            f"killed by {self.limit}"
            if self.oom
            else f"ended by {signal.Signals(self.signum).name}"
            if self.signum
            else f"exited {self.status} with no answer"
        )
        where = f" reading {self.reading}" if self.reading else ""
        peak = f" (its peak {self.peak:,.0f} MiB)" if self.peak is not None else ""
        return f"{self.what}: its parse process was {how}{where}{peak}"


PEAKS: list[float] = []  # each answered parse's peak under a cgroup, MiB, in order (what benchmarks and tests read)


def answer(fn: Callable[..., T], *args: Any, mib: int | None, what: str, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` run in a child process under a memory limit of `mib` MiB (None: no limit), its value
    returned (see the module); `what` names the work in a `Killed`. Its cage's peak, where measured, is appended to
    `PEAKS` (the last 1,000 kept)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    held: Cage | None = cage(mib) if mib is not None else None
    page = mmap.mmap(-1, PAGE)
    r, w = os.pipe()
    pid = 0
    try:
        parent = os.getpid()
        # the caller's objects out of the collector's sight first: a collection in the child wrote every object's
        # header, copying the caller's whole heap into the child's memory (a fork of a 2 GB pytest was killed at 640
        # MiB so); the pages it only reads stay shared
        gc.freeze()
        try:
            pid = os.fork()
        except BaseException:
            gc.unfreeze()
            raise
        if pid != 0:
            gc.unfreeze()
        if pid == 0:  # pragma: no cover (the child's side: it never returns)
            os.close(r)
            _child(w, parent, held, page, lambda: fn(*args, **kwargs))
        os.close(w)
        w = -1
        data, status = _collect(r, pid)
        pid = 0  # reaped
        if data:
            ok, value = pickle.loads(data)
            if ok:
                return value
            raise _linked(value)
        reading = _read(page)
        oom = held is not None and held.killed()
        peak = held.peak_mib() if held is not None else None
        signum = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + (signum or 0)
        raise Killed(what, mib, oom=oom, signum=signum, status=code, reading=reading, peak=peak)
    finally:
        if pid > 0:  # left on the way out (a stop raised in the wait): the parse ends with its caller's wait
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        os.close(r)
        if w >= 0:
            os.close(w)
        page.close()
        if held is not None:
            if (peak := held.peak_mib()) is not None:
                PEAKS.append(peak)
                del PEAKS[:-1000]
            held.close()


def _child(w: int, parent: int, held: Cage | None, page: mmap.mmap, work: Callable[[], Any]) -> None:
    status = 70
    try:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request took
            os._exit(128 + signal.SIGKILL)
        for s in (signal.SIGTERM, signal.SIGINT):  # a stop is the parent's to handle: the child dies with it
            signal.signal(s, signal.SIG_DFL)
        if held is not None:
            held.enter()
        global _page
        _page = page
        sys.addaudithook(_noting(page))
        try:
            data = _dumps((True, work()))
        except BaseException as e:  # every error goes back to the parent, which raises it, with its causes
            data = _dumps((False, _chain(e)))
        view = memoryview(data)
        while view:
            view = view[os.write(w, view) :]
        status = 0
    finally:
        for stream in (sys.stdout, sys.stderr):  # what it printed (`eidata inspect`'s summary) is out before it ends
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(status)


def _rebuilt(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any] | None) -> BaseException:
    """An exception made again from its class, arguments and attributes, its `__init__` not called (one taking
    keyword-only arguments, `AdapterError`'s, cannot be called again with its `args`)."""
    e = cls.__new__(cls, *args)
    e.args = args
    e.__dict__.update(state or {})
    return e


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, BaseException):
            return _rebuilt, (type(obj), obj.args, getattr(obj, "__dict__", None))
        return NotImplemented


def _dumps(obj: Any) -> bytes:
    buf = io.BytesIO()
    _Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buf.getvalue()


def _portable(e: BaseException) -> BaseException:
    """`e` if it crosses (pickled and made again), else a `RuntimeError` with its class and text."""
    try:
        pickle.loads(_dumps(e))
    except Exception as why:
        return RuntimeError(f"{type(e).__name__}: {e} (not pickled: {why})")
    return e


def _chain(e: BaseException) -> list[tuple[BaseException, bool]]:
    """`e` and its causes (or contexts), each pickled alone: a pickle keeps an exception's arguments, not its chain,
    and the chain says whose fault an error is (`adapters.storage.faults.environment_fault`)."""
    out: list[tuple[BaseException, bool]] = []
    cur: BaseException | None = e
    while cur is not None and len(out) < 16:
        out.append((_portable(cur), cur.__cause__ is not None))
        cur = cur.__cause__ or (None if cur.__suppress_context__ else cur.__context__)
    return out


def _linked(chain: list[tuple[BaseException, bool]]) -> BaseException:
    """The first error of `chain` with the others as its causes (or contexts) again."""
    for (e, caused), (nxt, _) in itertools.pairwise(chain):
        if caused:
            e.__cause__ = nxt
        else:
            e.__context__ = nxt
    return chain[0][0]


def _read(page: mmap.mmap) -> str | None:
    return page[:PAGE].split(b"\0", 1)[0].decode(errors="replace") or None


def last_opened() -> str | None:
    """In a parse process, the source file it opened last (the one whose parse failed), else None."""
    return None if _page is None else _read(_page)


def _noting(page: mmap.mmap) -> Callable[[str, tuple[Any, ...]], None]:
    """An audit hook that keeps the source file the process opened last in `page`."""

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event != "open" and event != EVENT:
            return
        path = args[0] if args else None
        if event == "open" and len(args) > 2 and isinstance(args[2], int) and args[2] & _WRITES:
            return
        if isinstance(path, str) and not path.startswith(_LIBRARY) and not path.endswith((".py", ".pyc")):
            raw = path.encode(errors="replace")[: PAGE - 1] + b"\0"
            page.seek(0)
            page.write(raw)

    return hook


def _collect(r: int, pid: int) -> tuple[bytes, int]:
    """Everything the child wrote to `r`, and its wait status, read until it has ended: a grandchild holding the pipe
    open does not keep the caller waiting."""
    chunks: list[bytes] = []
    status: int | None = None
    while status is None:
        ready, _, _ = select.select([r], [], [], 0.05)
        chunk = os.read(r, 1 << 20) if ready else None
        if chunk:
            chunks.append(chunk)
            continue
        got, st = os.waitpid(pid, 0 if chunk == b"" else os.WNOHANG)  # at the end of the pipe: it is ending
        if got:
            status = st
    with contextlib.suppress(BlockingIOError):
        os.set_blocking(r, False)
        while chunk := os.read(r, 1 << 20):
            chunks.append(chunk)
    return b"".join(chunks), status
