"""The one boundary: every parse of a source's bytes runs in a process of its own under the operating system's memory
limit (issue 84; `jobs.runtime.limits`), and its answer comes back pickled.

`answer(fn, *args, mib=...)` forks the caller (which has the pipeline imported: a fork costs milliseconds, an import
seconds; what a parse imports is imported in the caller too, for the next fork), puts the child in a cage of `mib`
MiB, runs `fn` there, and returns its value or raises what it raised, its causes linked again (they say whose fault
an error is: `adapters.storage.faults`). A child that dies instead, by the cage's out-of-memory killer, a signal (a
library's abort, a deadline's SIGKILL) or an exit with no answer, is a `Killed` naming the limit, the signal, the
cage's peak and the source file it opened last (an audit hook on "open" and on the storage room's event for files
handed to libraries, written to a page both processes share). The child dies with its parent (`PR_SET_PDEATHSIG`)
and leaves by `os._exit`, never returning into the caller's code.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import io
import itertools
import mmap
import os
import pickle
import select
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from adapters.storage.declared import EVENT
from jobs.runtime.limits import Cage, cage, mechanism

T = TypeVar("T")
PAGE = 4096
# what a library opens for itself, never the input: the kernel's files, the system's data, the interpreter's own
_LIBRARY = ("/proc/", "/sys/", "/dev/", "/usr/", "/etc/", f"{sys.prefix}/", f"{sys.base_prefix}/")
_WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_DIRECTORY
_page: mmap.mmap | None = None  # in a parse process: where its last opened source file is kept
PEAKS: list[float] = []  # each answered parse's peak under a cgroup, MiB, in order (the last 1,000: benchmarks, tests)


@dataclass(eq=False)
class Killed(Exception):
    """The parse process died before it answered: `oom` by its cage's limit, else by `signum` (None: it exited with
    `status` and no answer), `reading` the file it opened last, `peak` its cage's peak (MiB) where measured."""

    what: str
    mib: int | None
    oom: bool
    signum: int | None
    status: int
    reading: str | None
    peak: float | None

    def describe(self) -> str:
        how = f"ended by {signal.Signals(self.signum).name}" if self.signum else f"exited {self.status} with no answer"
        how = f"killed by the memory limit of {self.mib} MiB ({mechanism()})" if self.oom else how
        where = f" reading {self.reading}" if self.reading else ""
        peak = f" (its peak {self.peak:,.0f} MiB)" if self.peak is not None else ""
        return f"{self.what}: its parse process was {how}{where}{peak}"

    __str__ = describe


def answer(fn: Callable[..., T], *args: Any, mib: int | None, what: str, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` run in a child process under a limit of `mib` MiB (None: none), its value returned (see
    the module); `what` names the work in a `Killed`."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    held: Cage | None = cage(mib) if mib is not None else None
    page, (r, w), pid = mmap.mmap(-1, PAGE), os.pipe(), 0
    try:
        # the caller's objects out of the collector's sight: a collection in the child wrote every object's header,
        # copying the caller's whole heap (a fork of a 2 GB pytest was killed at 640 MiB so)
        gc.freeze()
        try:
            parent, pid = os.getpid(), os.fork()
        finally:
            if pid != 0:
                gc.unfreeze()
        if pid == 0:  # pragma: no cover (the child's side: it never returns)
            _child(w, parent, held, page, lambda: fn(*args, **kwargs))
        os.close(w)
        w = -1  # closed: never again (the number may be another thread's by now)
        data, status = _collect(r, pid)
        pid = 0  # reaped
        if data:
            ok, value, imported = pickle.loads(data)
            _import(imported)
            if not ok:
                raise _linked(value)
            return value
        signum = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + (signum or 0)
        oom, peak = (held.killed(), held.peak_mib()) if held is not None else (False, None)
        raise Killed(what, mib, oom=oom, signum=signum, status=code, reading=_read(page), peak=peak)
    finally:
        if pid > 0:  # left on the way out (a stop raised in the wait): the parse ends with its caller's wait
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        for fd in (r, w):
            if fd >= 0:
                os.close(fd)
        page.close()
        if held is not None and (peak := held.peak_mib()) is not None:
            PEAKS[:] = [*PEAKS[-999:], peak]
        if held is not None:
            held.close()


def _child(w: int, parent: int, held: Cage | None, page: mmap.mmap, work: Callable[[], Any]) -> None:
    global _page
    status = 70
    try:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the request took
            os._exit(128 + signal.SIGKILL)
        for s in (signal.SIGTERM, signal.SIGINT):  # a stop is the parent's to handle: the child dies with it
            signal.signal(s, signal.SIG_DFL)
        if held is not None:
            held.enter()
        _page = page
        sys.addaudithook(_noting(page))
        before = set(sys.modules)
        try:
            data = _dumps((True, work(), sorted(set(sys.modules) - before)))
        except BaseException as e:  # every error goes back, with its causes, each pickled alone
            chain: list[tuple[BaseException, bool]] = []
            while e is not None and len(chain) < 16:
                chain.append((_portable(e), e.__cause__ is not None))
                e = e.__cause__ or (None if e.__suppress_context__ else e.__context__)
            data = _dumps((False, chain, sorted(set(sys.modules) - before)))
        with os.fdopen(w, "wb") as pipe:
            pipe.write(data)
        status = 0
    finally:
        for stream in (sys.stdout, sys.stderr):  # what it printed (`eidata inspect`'s summary) is out before it ends
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(status)


def _import(names: list[str]) -> None:
    """The modules a parse imported, imported here too, so the next fork has them: each parse process imported the
    adapter, pandas (pyarrow's pandas metadata), PyAV and MuJoCo anew, 418 modules and about 1 s of CPU an episode
    (issue 84's 10k rerun: ingest 2.0x the CPU of 00f20645). Code, never a source's bytes: nothing untrusted runs."""
    for name in names:
        if name not in sys.modules:
            with contextlib.suppress(Exception):
                importlib.import_module(name)


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
            page.seek(0)
            page.write(path.encode(errors="replace")[: PAGE - 1] + b"\0")

    return hook


def _collect(r: int, pid: int) -> tuple[bytes, int]:
    """What the child wrote to `r` and its wait status, read until it has ended: a grandchild holding the pipe open
    keeps no one waiting."""
    chunks: list[bytes] = []
    os.set_blocking(r, False)
    while True:
        select.select([r], [], [], 0.05)
        at_end = _drain(r, chunks)
        got, status = os.waitpid(pid, 0 if at_end else os.WNOHANG)
        if got:
            _drain(r, chunks)
            return b"".join(chunks), status


def _drain(r: int, chunks: list[bytes]) -> bool:
    """What `r` holds now appended to `chunks`; whether the pipe's end was reached."""
    try:
        while chunk := os.read(r, 1 << 20):
            chunks.append(chunk)
    except BlockingIOError:
        return False
    return True
