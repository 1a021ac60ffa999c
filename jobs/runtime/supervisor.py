"""Every `eidata` command run as its own process is watched by a parent that nothing it calls can block (issue 75
item 2, issue 84 item 3): SIGTERM or Ctrl-C ends it within `GRACE_S` plus a second, and nothing it started is left.

A signal's Python handler runs only when the main thread returns to the interpreter. `eidata report` once waited
forever inside DuckDB's scan of an Arrow dataset on an Arrow future no thread would complete, so `timeout`'s SIGTERM
never ended it; an h5py read holds the interpreter's lock, so no watchdog thread of the same process can run either.
So `supervise` forks the command (before any of its imports: the parent is the small `jobs.cli` module) into a
process group of its own and watches it from the parent, which waits in `sigtimedwait` and nothing else:

- A stop (SIGTERM, SIGINT; a group's signal reaches only the parent) is passed on to the command once, which ends as
  `jobs.runtime.stops` ends it (its `finally`s run: one line, 143 / 130). If it has not ended after `GRACE_S`, or a
  second stop comes, its threads' stacks are printed (`faulthandler` on SIGUSR1, a C-level handler that needs no
  interpreter lock) and every process it started is killed: what was committed stays, as after a `kill -9`, which
  the output protocol is built for.
- However it ends, nothing it started is left: the parent is the child subreaper of everything below it
  (`PR_SET_CHILD_SUBREAPER`), so a helper orphaned by the command's death (a Ray raylet, a DuckDB child) is its own
  to kill. The exit status is the command's, or 128 + the signal that ended it (an abort is SIGABRT's 134, as a shell
  says it).
- The parent itself killed (`kill -9` of the eidata the user ran) kills the command (`PR_SET_PDEATHSIG`); what the
  command's embedded Ray started then is ended by `jobs.runtime.sentinel`, the one thing no parent can do once dead.
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import os
import signal
import sys
import time

from jobs.runtime.sentinel import descendants

GRACE_S = 3.5  # after a stop is passed on, how long the command has to end by itself before it is killed
POLL_S = 0.1
STACKS_S = 0.3  # how long the command is given to print its stacks before it is killed
SIGNALS = {signal.SIGTERM, signal.SIGINT}
WAKE = {*SIGNALS, signal.SIGCHLD}  # the parent wakes for a stop and for the command's end
_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_PDEATHSIG = 1


def wanted() -> bool:
    """Whether this process should watch its command (Linux: /proc and prctl)."""
    return sys.platform == "linux"


def supervise(command: str) -> None:
    """Fork: in the child (the command's process) return at once; in the parent watch the child and end this process
    with the command's exit status, never returning."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    signal.pthread_sigmask(signal.SIG_BLOCK, WAKE)  # from here taken by sigtimedwait, never by a handler
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        # the watcher killed (`kill -9` of the eidata the user ran) kills the command: it keeps SIGTERM blocked until
        # `stops.armed`, so an orphan stuck before that outlived every SIGTERM (found: planted hangs alive an hour on)
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the watcher died before the request took
            os._exit(128 + signal.SIGKILL)
        os.setpgid(0, 0)  # its own group: a terminal's or `timeout`'s signal to the parent's group is passed on once
        # a stop stays pending until `stops.armed` has its handlers in place (it unblocks them): one that came during
        # the imports was a KeyboardInterrupt traceback, or SIGTERM's default death without the line
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        faulthandler.register(signal.SIGUSR1, all_threads=True)  # the stacks, printed before a kill
        return
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)
    os._exit(Watch(pid, command).run())


class Watch:
    """The parent's side: the command's process `pid`, watched until it ends, its exit status then."""

    def __init__(self, pid: int, command: str) -> None:
        self.pid, self.command = pid, command

    def run(self) -> int:
        stop: int | None = None
        killed_at = float("inf")
        while (status := _reaped(self.pid)) is None:
            info = signal.sigtimedwait(WAKE, POLL_S)
            if info is not None and info.si_signo in SIGNALS:
                if stop is not None:  # a second signal: no more waiting
                    return self._kill(stop, "a second signal")
                stop, killed_at = info.si_signo, time.monotonic() + GRACE_S
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, stop)
            if stop is not None and time.monotonic() >= killed_at:
                return self._kill(stop, f"it did not end {GRACE_S:g} s after it")
        _end_all()
        return 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)

    def _kill(self, sig: int, why: str) -> int:
        """The command's stacks printed, everything below this process killed; the stop's line and status."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGUSR1)
        time.sleep(STACKS_S)
        _end_all()
        print(
            f"eidata {self.command}: stopped by {signal.Signals(sig).name} (exit {128 + sig}); {why}, killed (its "
            "stacks above); what was committed stays and nothing is half-written: rerun the same command to resume",
            file=sys.stderr,
        )
        return 128 + sig


def _reaped(pid: int) -> int | None:
    """The command's wait status once it has ended (every other child that ended reaped on the way), else None."""
    while True:
        try:
            got, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return 0
        if got == 0:
            return None
        if got == pid:
            return status


def _end_all() -> None:
    """Kill every process below this one and reap them: none is left behind, whatever the command did."""
    for _ in range(3):  # a process may start another while its siblings are being killed
        pids = list(descendants(os.getpid()))
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and list(descendants(os.getpid())):
            _reap_all()
            time.sleep(0.02)
        _reap_all()


def _reap_all() -> None:
    """Reap every child that has ended (orphans adopted included)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
