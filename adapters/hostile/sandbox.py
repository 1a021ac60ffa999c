"""The one boundary: every parse of a source's bytes runs in a process of its own under the operating system's memory
limit (issue 84; `adapters.hostile.limits`), and its answer comes back pickled.

`answer(fn, *args, mib=...)` forks the caller (a fork costs milliseconds, an import seconds), puts the child in a cage
of `mib` MiB, runs `fn` there and returns its value, or raises what it raised with its causes (they say whose fault an
error is: `schemas.faults`). A child that dies instead (the cage's out-of-memory killer, a library's abort, a
deadline's SIGKILL, an exit with no answer) is a `Killed` naming the limit, the signal, the cage's peak and the source
file it opened last (`adapters.hostile.isolated.parse_process`: the one tracker, writing it to a page both processes
share). The child dies with its parent (`PR_SET_PDEATHSIG`) and leaves by `os._exit`, never returning into the caller's
code. With its answer come the modules it imported and what its memos learnt of the source's files
(`adapters.hostile.memos`), taken in here for the next fork.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import mmap
import os
import pickle
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from adapters.hostile import memos
from adapters.hostile.isolated import PAGE, again, parse_process
from adapters.hostile.limits import cage, mechanism

T = TypeVar("T")


@dataclass(eq=False)
class Killed(Exception):
    """The parse process died before it answered: `oom` by its cage's limit, else by `signum` (None: it exited with
    `status` and no answer), `reading` the file it opened last (the one `adapters.hostile.isolated.again` refuses),
    `peak` its cage's peak (MiB) where measured."""

    what: str
    mib: int | None
    oom: bool
    signum: int | None
    status: int
    reading: str | None
    peak: float | None

    def __str__(self) -> str:
        how = f"ended by {signal.Signals(self.signum).name}" if self.signum else f"exited {self.status} with no answer"
        how = f"killed by the memory limit of {self.mib} MiB ({mechanism()})" if self.oom else how
        where = f" reading {self.reading}" if self.reading else ""
        peak = f" (its peak {self.peak:,.0f} MiB)" if self.peak is not None else ""
        return f"{self.what}: its parse process was {how}{where}{peak}"

    def __reduce__(self) -> tuple[type[Killed], tuple[Any, ...]]:
        """Pickled with its fields (a Ray task's answer: `jobs.runtime.ray_map`); a dataclass exception's default
        pickle calls it again with no argument."""
        return Killed, (self.what, self.mib, self.oom, self.signum, self.status, self.reading, self.peak)

    @property
    def unparsed(self) -> tuple[str, str] | None:
        return None if self.reading is None else (self.reading, str(self))


def answer(fn: Callable[..., T], *args: Any, mib: int | None, what: str, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` run in a child process under a limit of `mib` MiB (None: none), its value returned (see
    the module); `what` names the work in a `Killed`."""
    _flush()
    held = cage(mib) if mib is not None else None
    page, out, pid = mmap.mmap(-1, PAGE), os.memfd_create("eidata-answer"), 0  # the answer: a file in memory
    try:
        gc.freeze()  # the caller's heap out of the collector's sight: a collection in the child copied all of it
        try:
            parent, pid = os.getpid(), os.fork()
        finally:
            if pid != 0:
                gc.unfreeze()
        if pid == 0:  # pragma: no cover (the child's side: it never returns)
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
                parse_process(page)
                before, known = set(sys.modules), memos.marks()
                with open(out, "wb", closefd=False) as f:  # pickled straight to it: no second copy in memory
                    try:
                        value = fn(*args, **kwargs)
                        _Pickler(f, pickle.HIGHEST_PROTOCOL).dump((True, value, _new(before), memos.since(known)))
                    except BaseException as e:  # every error goes back, with its causes
                        f.seek(0)
                        f.truncate()
                        _Pickler(f, pickle.HIGHEST_PROTOCOL).dump((False, e, _new(before), memos.since(known)))
                status = 0
            finally:
                _flush()  # what it printed (`eidata inspect`'s summary) is out before it ends
                os._exit(status)
        status = os.waitpid(pid, 0)[1]  # a stop raised here ends the child on the way out
        pid = 0  # reaped
        if status == 0 and (data := os.pread(out, os.fstat(out).st_size, 0)):  # exit 0: its whole answer written
            ok, value, imported, learnt = pickle.loads(data)
            for name in imported:  # imported here too, for the next fork: code, never a source's bytes
                with contextlib.suppress(Exception):
                    importlib.import_module(name)
            memos.learn(learnt)  # and what it learnt of the files (`adapters.hostile.memos`)
            if not ok:
                raise value
            return value  # type: ignore[no-any-return]
        signum = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + (signum or 0)
        oom, peak = (held.killed(), held.peak_mib()) if held is not None else (False, None)
        reading = page[:PAGE].split(b"\0", 1)[0].decode(errors="replace") or None  # `parse_process`'s page
        raise Killed(what, mib, oom=oom, signum=signum, status=code, reading=reading, peak=peak)
    finally:
        if pid > 0:  # left on the way out (a stop raised in the wait): the parse ends with its caller's wait
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        os.close(out)
        page.close()
        if held is not None:
            held.close()


def answer_refusing(fn: Callable[..., T], *args: Any, mib: int | None, what: str, **kwargs: Any) -> T:
    """`answer`, asked again with the file each failed or dead parse process names refused at its open
    (`adapters.hostile.isolated.again`, the one loop)."""
    return again(lambda: answer(fn, *args, mib=mib, what=what, **kwargs), what)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()


def _rebuilt(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any], *chain: Any) -> BaseException:
    """An exception made again from its class, arguments and attributes, its `__init__` not called (one taking
    keyword-only arguments, `AdapterError`'s, cannot be called with its `args`), its cause and context linked again."""
    e = cls.__new__(cls, *args)
    e.args, (e.__cause__, e.__context__) = args, chain
    e.__dict__.update(state)
    return e


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        """An exception with its causes; one that does not pickle crosses as a RuntimeError with its class and text."""
        if not isinstance(obj, BaseException):
            return NotImplemented
        chain = (obj.__cause__, None if obj.__suppress_context__ else obj.__context__)
        try:
            pickle.dumps((type(obj), obj.args, vars(obj)))
        except Exception as why:
            obj = RuntimeError(f"{type(obj).__name__}: {obj} (not pickled: {why})")
        return _rebuilt, (type(obj), obj.args, vars(obj), *chain)


def _new(before: set[str]) -> list[str]:
    """The modules imported since `before`: the caller imports them too, for its next fork."""
    return sorted(set(sys.modules) - before)
