"""Clean stops: SIGTERM and Ctrl-C end a command with one line and the shell's status for the signal (143, 130), its
output left resumable (issue 38 item 6); a command its stop cannot reach is ended by `adapters.hostile.watcher`.

Inside `armed()` a signal raises `Stopped` in the main thread wherever it waits, so every `finally` runs on the way
out; a second signal gets the default action. Before it (`hold()`: the imports) a stop ends the process at once with
the same line. `Stopped` is a `KeyboardInterrupt` because C extensions that check for signals handle that class only:
with any other Ray's `check_signals` (ray 2.60 `python/ray/_raylet.pyx`) said `SystemError: <cyfunction
CoreWorker.wait> returned a result with an exception set` (issue 59). Ray's core worker puts its own SIGTERM handler
in place as `ray.init` starts it: `jobs.runtime.ray_pool` calls `rearm()` after it.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.machinery import ExtensionFileLoader
from types import FrameType
from typing import Any

from jobs.runtime.exits import say_and_exit

SIGNALS = (signal.SIGTERM, signal.SIGINT)
AGAIN_S = 0.01  # a stop Python dropped is signalled again this much later (`_dropped`)
NATIVE_S = 1.0  # how long a stop waits for a C extension's module init to end before it is raised there anyway
_received: int | None = None  # the signal that stopped the command armed last
_held_since: float | None = None  # when a stop first found a module init on the stack (`_unsafe`)
_inside = False  # within `armed()`


class Stopped(KeyboardInterrupt):
    """A job ended by a signal; `status` is the shell's exit status for it (128 + the signal's number)."""

    def __init__(self, signum: int) -> None:
        self.signum, self.status = signum, 128 + signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")


def message(command: str, e: Stopped) -> str:
    """The one line a stopped command prints."""
    return (
        f"{command}: {e} (exit {e.status}); what was committed stays and nothing is half-written: rerun the same"
        " command to resume"
    )


def hold(command: str) -> None:
    """Until `armed()` (the imports, the arguments: no work begun), a stop ends the process at once with its line."""
    for s in SIGNALS:
        signal.signal(s, lambda signum, _: say_and_exit(message(command, Stopped(signum)), 128 + signum))


def _stop(signum: int, frame: FrameType | None) -> None:
    global _received, _held_since
    if (where := _unsafe(frame)) == "hook":
        return _again(signum)
    if where == "init" and time.monotonic() - (_held_since := _held_since or time.monotonic()) < NATIVE_S:
        return _again(signum)
    _held_since = None
    _received = signum
    for s in SIGNALS:  # a second signal ends the process at once
        signal.signal(s, signal.SIG_DFL)
    raise Stopped(signum)


def _unsafe(frame: FrameType | None) -> str | None:
    """Where a stop raised would be lost or fatal, so it is sent again (`_again`) until the main thread is past it:
    "hook", the unraisable hook, where what it raised is dropped for good; "init", a C extension's module init
    (`ExtensionFileLoader.exec_module`), where an exception raised in the Python it calls aborts the process:
    `import duckdb` makes its enums through `enum` from nanobind's C++, and SIGTERM there ended `eidata export` with
    SIGABRT and no line (`nanobind::detail::enum_create("ExplainType")`, the long tier's SIGTERM test). An init is
    waited for `NATIVE_S` at most (duckdb's takes ~0.3 s), so that a stop still ends the command within its bound."""
    init = False
    while frame is not None:
        code = frame.f_code
        if code is _dropped.__code__:
            return "hook"
        init = init or (code.co_name == "exec_module" and isinstance(frame.f_locals.get("self"), ExtensionFileLoader))
        frame = frame.f_back
    return "init" if init else None


def _dropped(unraisable: Any) -> None:
    """`sys.unraisablehook` while armed: a stop raised where Python drops exceptions (a weakref callback, a `__del__`:
    `eidata report` went on until it was killed) is sent again, as if the signal had come again."""
    if (stop := _in_chain(unraisable.exc_value)) is None or _received is None:
        return _previous_hook(unraisable)
    signal.signal(stop.signum, _stop)
    _again(stop.signum)


def _again(signum: int) -> None:
    """`signum` sent to the main thread `AGAIN_S` from now, from another thread; sent again while it finds the main
    thread still inside the unraisable hook (a loaded machine lost the stop so, 1 run in 4)."""
    main = threading.main_thread().ident
    timer = threading.Timer(AGAIN_S, lambda: None if not (_inside and main) else signal.pthread_kill(main, signum))
    timer.daemon = True
    timer.start()


_previous_hook = sys.unraisablehook


@contextmanager
def armed() -> Iterator[None]:
    """SIGTERM and SIGINT raise `Stopped` inside the block (main thread only); the handlers before it are back after
    it (a test calling `jobs.cli.main` keeps its own)."""
    global _previous_hook, _received, _inside
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {s: signal.getsignal(s) for s in SIGNALS}
    _received, _inside = None, True
    for s in SIGNALS:
        signal.signal(s, _stop)
    _previous_hook, sys.unraisablehook = sys.unraisablehook, _dropped
    try:
        yield
    finally:
        sys.unraisablehook, _inside = _previous_hook, False
        for s, handler in before.items():  # None: a handler not set from Python, which cannot be put back
            signal.signal(s, signal.SIG_DFL if handler is None else handler)


def rearm() -> None:
    """The handlers again inside `armed()` (after something else, Ray's core worker, replaced them)."""
    if _inside and _received is None and threading.current_thread() is threading.main_thread():
        for s in SIGNALS:
            signal.signal(s, _stop)


def _in_chain(e: BaseException | None) -> Stopped | None:
    """The stop `e` is or holds in its cause or context: a `Stopped`, or a KeyboardInterrupt raised in its place."""
    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, KeyboardInterrupt):
            return e if isinstance(e, Stopped) else Stopped(_received or signal.SIGINT)
        e = e.__cause__ or e.__context__
    return None


def stopped(e: BaseException | None) -> Stopped | None:
    """The stop `e` is or comes from, else None: one in its chain (a KeyboardInterrupt an extension raised in its
    place, a SystemError a C call raised over it), or any error once a stop was received: an extension may turn our
    stop into its own error with no chain (DuckDB's `RuntimeError: Query interrupted` from `register`)."""
    if (stop := _in_chain(e)) is not None:
        return stop
    return Stopped(_received) if e is not None and _received is not None else None
