"""Every `eidata` command run as its own process is watched by a parent that nothing it calls can block (issue 75
item 2): SIGTERM or Ctrl-C ends it within `GRACE_S` plus a second, and a command that makes no progress for `stall_s`
ends naming where it stopped.

A signal's Python handler runs only when the main thread returns to the interpreter. `eidata report` once waited
forever inside DuckDB's scan of an Arrow dataset on an Arrow future no thread would complete (the memory cap had
refused the I/O pool's thread: `adapters.hostile.memory_use`), so `timeout`'s SIGTERM never ended it; an h5py read
holds the interpreter's lock, so no watchdog thread of the same process can run either. So `supervise` forks the
command (before any of its imports: the parent is the small `jobs.cli` module) into a process group of its own and
watches it from the parent, which waits in `sigtimedwait` and nothing else:

- A stop (SIGTERM, SIGINT; a group's signal reaches only the parent) is passed on to the command once, which ends as
  `jobs.runtime.stops` ends it (its `finally`s run: one line, 143 / 130). If it has not ended after `GRACE_S`, its
  threads' stacks are dumped (`faulthandler`, a C-level handler that needs no interpreter lock) and every process it
  started is killed: what was committed stays, as after a `kill -9`, which the output protocol is built for.
- No progress: over the last `stall_s` (`EIDATA_STALL_S`, default `STALL_S`; 0 turns it off) no thread of the
  command's processes worked and they moved next to no byte (`jobs.runtime.progress.working`, read every
  `STALL_POLL_S`): its stacks dumped, it is killed, and the line names the innermost frame of its main thread; exit 75
  (the environment's, as a store that stopped answering). Any CPU tick or byte counted once, and a hung command whose
  threads only wake to wait still ticks: the 100k export dry run, deadlocked in Rust's alloc-error handler holding the
  interpreter's lock, sat 10-16 minutes while its GIL waiters' 5 ms timed waits used a little CPU each poll. Now a
  thread must run 2 % of a core, or be starved by load, or the tree move 64 KiB/s through a device or TCP: planted
  hangs (8-32 threads in `Condition.wait(timeout=0.005)` loops or waiting for the interpreter's lock, a hung embedded
  Ray) use 0.03-0.8 % and trip; real commands' slowest 4 s windows did not (`progress`'s docstring; figures and
  commands in benchmarks/COMMAND_SURFACE.md "The no-progress bound").
- A library's abort (SIGABRT, SIGSEGV, SIGBUS, no stop sent): under the per-task memory limit an allocation refused
  where the library cannot raise (Rust's alloc-error handler, as pydantic-core's `model_validate` met it on the 100k
  dry run under 480 MiB; a C library's unchecked `malloc`) ends the process so, and the line names the limit and
  `EIDATA_TASK_MEMORY_MIB`, exit 1 as the limit's refusal in Python (`jobs.runtime.bounded`).
- However it ends, nothing it started is left: the parent is the child subreaper of everything below it
  (`PR_SET_CHILD_SUBREAPER`), so a helper orphaned by the command's death (a Ray raylet, a DuckDB child) is its own
  to kill.
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import os
import re
import signal
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

from jobs.runtime.progress import MOVED_PER_S, SHARE, sample, working

GRACE_S = 3.5  # after a stop is passed on, how long the command has to end by itself before it is killed
STALL_S = 600.0  # the default time without work after which a command is stopped as hung
POLL_S = 0.1
STALL_POLL_S = 2.0  # how often the command's processes' counters are read
STALL_ENV = "EIDATA_STALL_S"
OFF_ENV = "EIDATA_UNSUPERVISED"  # set: the command runs in this process, unwatched (a debugger, a profiler)
EXIT_STALLED = 75
SIGNALS = {signal.SIGTERM, signal.SIGINT}
WAKE = {*SIGNALS, signal.SIGCHLD}  # the parent wakes for a stop and for the command's end
ABORTS = {signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS}  # a library's own end (an allocation it could not refuse)
_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_PDEATHSIG = 1
_FRAME = re.compile(r'File "([^"]+)", line (\d+) in (\S+)')


def wanted() -> bool:
    """Whether this process should watch its command (Linux, and not turned off)."""
    return sys.platform == "linux" and not os.environ.get(OFF_ENV)


def stall_s() -> float:
    """Seconds without progress before a command is stopped (`EIDATA_STALL_S`; 0: never)."""
    try:
        return max(float(os.environ.get(STALL_ENV, STALL_S)), 0.0)
    except ValueError:
        return STALL_S


def supervise(command: str) -> None:
    """Fork: in the child (the command's process) return at once; in the parent watch the child and end this process
    with the command's exit status, never returning."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    stacks = tempfile.TemporaryFile()  # noqa: SIM115 (the child writes its stacks here; gone with both processes)
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
        faulthandler.register(signal.SIGUSR1, file=stacks, all_threads=True)
        return
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)
    os._exit(Watch(pid, command, stacks).run())


class Watch:
    """The parent's side: the command's process `pid`, watched until it ends, its exit status then."""

    def __init__(self, pid: int, command: str, stacks: object) -> None:
        self.pid, self.command, self.stacks = pid, command, stacks
        self.stall = stall_s()

    def run(self) -> int:
        stop: int | None = None
        killed_at: float | None = None
        samples, next_count = deque([(time.monotonic(), sample(_descendants()))]), time.monotonic() + STALL_POLL_S
        while (status := _reaped(self.pid)) is None:
            info = signal.sigtimedwait(WAKE, POLL_S)
            now = time.monotonic()
            if info is not None and info.si_signo in SIGNALS:
                if stop is not None:  # a second signal: no more waiting
                    return self._kill(stop, "a second signal")
                stop, killed_at = info.si_signo, now + GRACE_S
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, stop)
            if killed_at is not None and now >= killed_at:
                return self._kill(stop or signal.SIGTERM, f"it did not end {GRACE_S:g} s after it")
            if self.stall and stop is None and now >= next_count:
                next_count = now + STALL_POLL_S
                samples.append((now, sample(_descendants())))
                while len(samples) > 1 and now - samples[1][0] >= self.stall:
                    samples.popleft()  # the window: from the newest sample at least `stall` old
                since, old = samples[0]
                if now - since >= self.stall and not working(old, samples[-1][1], now - since):
                    return self._stalled(now - since)
        _end_all()
        if os.WIFSIGNALED(status) and stop is None and os.WTERMSIG(status) in ABORTS:
            return self._aborted(os.WTERMSIG(status))
        if os.WIFSIGNALED(status):
            return 128 + os.WTERMSIG(status)
        return os.WEXITSTATUS(status)

    def _where(self) -> str:
        """The innermost frame of the command's main thread, from its stacks dumped now ("" if none came)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGUSR1)
        time.sleep(0.3)
        try:
            self.stacks.seek(0)  # type: ignore[attr-defined]
            text = self.stacks.read().decode(errors="replace")  # type: ignore[attr-defined]
        except (OSError, ValueError):
            return ""
        sys.stderr.write(text)
        main = text.split("Current thread", 1)[-1] if "Current thread" in text else text.rsplit("Thread 0x", 1)[-1]
        frames = _FRAME.findall(main)
        return f"{frames[0][2]} ({frames[0][0]}:{frames[0][1]})" if frames else ""

    def _kill(self, sig: int, why: str) -> int:
        where = self._where()
        _end_all()
        at = f", killed in {where}" if where else ", killed"
        print(
            f"eidata {self.command}: stopped by {signal.Signals(sig).name} (exit {128 + sig}); {why}{at}; what was "
            "committed stays and nothing is half-written: rerun the same command to resume",
            file=sys.stderr,
        )
        return 128 + sig

    def _aborted(self, sig: int) -> int:
        from jobs.runtime.bounded import ENV, EXIT_LIMIT, command_mib

        try:
            mib = f"{command_mib()} MiB"
        except ValueError:
            mib = "the"
        print(
            f"eidata {self.command}: its process ended by {signal.Signals(sig).name}: a library aborted, as one does "
            f"when the memory limit of {mib} per task (${ENV}) refuses an allocation it cannot refuse cleanly "
            f"(pydantic-core, a C library); raise ${ENV} or give it less at once; exit {EXIT_LIMIT}",
            file=sys.stderr,
        )
        return EXIT_LIMIT

    def _stalled(self, quiet_s: float) -> int:
        where = self._where() or "an unknown place (no stack came back)"
        _end_all()
        print(
            f"eidata {self.command}: no progress for {quiet_s:.0f} s (no thread of its processes ran {SHARE:.0%} of a "
            f"core or was starved of one, and they moved under {MOVED_PER_S >> 10} KiB/s), stopped in {where}; "
            f"${STALL_ENV} sets this time (0: never); exit {EXIT_STALLED}",
            file=sys.stderr,
        )
        return EXIT_STALLED


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


def _descendants() -> list[int]:
    """Every process below this one (its children, theirs, and orphans it adopted as subreaper)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                parents.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    out, todo = [], [os.getpid()]
    while todo:
        kids = parents.get(todo.pop(), [])
        out += kids
        todo += kids
    return out


def _end_all() -> None:
    """Kill every process below this one and reap them: none is left behind, whatever the command did."""
    for _ in range(3):  # a process may start another while its siblings are being killed
        pids = _descendants()
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and _descendants():
            _reap_all()
            time.sleep(0.02)
        _reap_all()


def _reap_all() -> None:
    """Reap every child that has ended (orphans adopted included)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
