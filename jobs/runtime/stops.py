"""Clean stops: SIGTERM and Ctrl-C (SIGINT) end a job with one line and the shell's exit status for the signal (143,
130), its output left resumable (issue 38 item 6).

While `eidata` runs a command (`armed()`), a signal raises `Stopped` in the main thread wherever it waits, so every
`finally` of the job runs on the way out (committers released, quarantine written, Ray shut down, lock and lease
released); what was committed stays, as after a kill -9. A second signal gets the default action: the process ends.

`Stopped` is a `KeyboardInterrupt` (a `BaseException`: no `except Exception` takes it for an episode's error) because
C extensions that check for signals while they wait handle that class only: Ray's `check_signals` (ray 2.60
`python/ray/_raylet.pyx`, called by `CoreWorker.wait` and `get`) turns a KeyboardInterrupt into its own, and left any
other exception set, which Python reports as `SystemError: <cyfunction CoreWorker.wait> returned a result with an
exception set` (issue 59: Ctrl-C then exited 1 with that traceback). The signal received is kept, so whichever way a
stop comes up (`stopped`) it is one line and 130 / 143.

Ray's core worker installs its own SIGTERM handler when `ray.init` starts it in this process (it prints a stack dump
and aborts: the review saw exit -6), so `jobs.runtime.ray_pool.init_ray` calls `rearm()` after it.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, NoReturn

SIGNALS = (signal.SIGTERM, signal.SIGINT)
AGAIN_S = 0.01  # a stop Python dropped is signalled again this much later (`_dropped`)
_armed = False
_received: int | None = None  # the signal that stopped the job armed last
_inside = False  # within `armed()`: a dropped stop is signalled again only there (after it, the default would kill)


class Stopped(KeyboardInterrupt):
    """A job ended by a signal; `status` is the shell's exit status for it (128 + the signal's number)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.status = 128 + signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")


def _stop(signum: int, frame: FrameType | None) -> None:
    global _armed, _received
    if _in_hook(frame):  # raised here it is dropped for good ("Exception ignored in sys.unraisablehook"): sent again
        _again(signum)
        return
    _armed, _received = False, signum
    for s in SIGNALS:  # a second signal ends the process at once
        signal.signal(s, signal.SIG_DFL)
    raise Stopped(signum)


def _dropped(unraisable: Any) -> None:
    """`sys.unraisablehook` while armed: a stop raised where Python drops exceptions (a weakref callback, a `__del__`:
    "Exception ignored in ...", and `eidata report` went on until it was killed) is raised again at the main
    thread's next safe point, as if the signal had come again; anything else goes to the hook before it."""
    stop = _in_chain(unraisable.exc_value)
    if stop is None or _received is None:
        _previous_hook(unraisable)
        return
    signal.signal(stop.signum, _stop)
    _again(stop.signum)


def _again(signum: int) -> None:
    """`signum` sent to the main thread from another thread `AGAIN_S` from now, while armed. Its handler may still
    find the main thread inside the unraisable hook (the hook waits in `Thread.start` for the timer's thread, as long
    as a loaded machine takes to run it: 1 run in 4 of test_stops under load lost the stop so): it then sends it again
    (`_in_hook`), until it comes where it can be raised."""
    main = threading.main_thread().ident
    assert main is not None
    timer = threading.Timer(AGAIN_S, lambda: _inside and signal.pthread_kill(main, signum))
    timer.daemon = True
    timer.start()


def _in_hook(frame: FrameType | None) -> bool:
    """Whether the main thread was stopped at `frame` inside the unraisable hook, where what a handler raises is
    dropped without the hook seeing it again."""
    while frame is not None:
        if frame.f_code is _dropped.__code__:
            return True
        frame = frame.f_back
    return False


_previous_hook = sys.unraisablehook


@contextmanager
def armed() -> Iterator[None]:
    """SIGTERM and SIGINT raise `Stopped` inside the block (main thread only: Python runs handlers there); the
    handlers before it are back after it (a test calling `jobs.cli.main` keeps its own)."""
    global _armed, _received
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    global _previous_hook, _inside
    before = {s: signal.getsignal(s) for s in SIGNALS}
    for s in SIGNALS:
        signal.signal(s, _stop)
    _previous_hook, sys.unraisablehook = sys.unraisablehook, _dropped
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)  # a stop held pending until now (`supervisor`) comes here
    _armed, _received, _inside = True, None, True
    try:
        yield
    finally:
        sys.unraisablehook = _previous_hook
        _armed = _inside = False
        for s, handler in before.items():  # None: a handler not set from Python, which cannot be put back
            signal.signal(s, signal.SIG_DFL if handler is None else handler)


def rearm() -> None:
    """Install the handlers again inside `armed()` (after something else, Ray's core worker, replaced them)."""
    if _armed and threading.current_thread() is threading.main_thread():
        for s in SIGNALS:
            signal.signal(s, _stop)


def _in_chain(e: BaseException | None) -> Stopped | None:
    """The stop `e` is or holds in its cause or context: a `Stopped`, or a KeyboardInterrupt raised in its place."""
    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, Stopped):
            return e
        if isinstance(e, KeyboardInterrupt):
            return Stopped(_received or signal.SIGINT)
        e = e.__cause__ or e.__context__
    return None


def stopped(e: BaseException | None) -> Stopped | None:
    """The stop `e` is or comes from, else None: a `Stopped`; a KeyboardInterrupt raised in its place (by an extension
    that caught ours, or Python's own handler) as the stop by the signal received (SIGINT if none was); an error
    whose cause or context holds either (a SystemError a C call raised over it); any error once a stop was received
    in the last armed block: an extension may turn our stop into its own error with no chain (DuckDB raised
    `RuntimeError: Query interrupted` from `register` in a report sent SIGTERM: exit 1 and a traceback)."""
    if (stop := _in_chain(e)) is not None:
        return stop
    return Stopped(_received) if e is not None and _received is not None else None


def exit_process(status: int) -> NoReturn:
    """End this process at once with `status`, what it printed and logged flushed first: for `eidata` run as the
    process's own command once a stop is said. The job's `finally`s have run (locks released, Ray shut down); the
    interpreter's teardown is skipped, where the driver's Ray core worker, whose raylet the same Ctrl-C to the group
    ended, crashed it now and then: exit -11 after the stop's line (2 of 9 Ctrl-Cs 7 s into the demo ingest)."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)


def finish_process(status: int) -> NoReturn:
    """End this process with `status` once its command has finished: its exit hooks run as at an ordinary exit, then
    it ends before the libraries' C++ teardown, where a thread of theirs still alive (Arrow's, DuckDB's or PyAV's
    pools) aborted `eidata inspect` after its whole output: "terminate called without an active exception", exit 134
    (issue 86 item 3)."""
    with contextlib.suppress(Exception):
        atexit._run_exitfuncs()
    exit_process(status)


def message(command: str, e: Stopped) -> str:
    """The one line a stopped command prints."""
    return (
        f"{command}: {e} (exit {e.status}); what was committed stays and nothing is half-written: rerun the same"
        " command to resume"
    )


def fail(status: int, line: object) -> int:
    """`line` said on stderr; `status`, the exit status a command returns with it."""
    print(line, file=sys.stderr)
    return status
