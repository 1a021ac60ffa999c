"""The one owner of a command's process tree (issue 84 item 3): a watcher that ends what the command started once it
has ended, and ends the command itself when a stop does not.

`start` runs this file in a fresh interpreter (`-I`, the standard library only) in a session of its own, so the
terminal's Ctrl-C is the command's alone. It reads a pipe whose other end is the command's wakeup fd: Python's C-level
handler writes each signal's number there as it arrives, whatever the main thread is in (a Python handler runs only
once the main thread is back in the interpreter: `eidata report` once waited forever in DuckDB's Arrow scan, issue
75). Every `SCAN_S` it notes the command's descendants (pid and start time by parent links in /proc: a reused pid is
another process, left alone). A stop gives the command `GRACE_S` to end by itself (`jobs.runtime.stops`); then, or at
a second stop, its stacks are printed (`faulthandler` on SIGUSR1) and it is killed with all it started (137: what was
committed stays, as after a `kill -9`). Once the command has ended, however, what it started is ended (review 6:
Ray's workers outlived a killed driver by minutes). Where the command moved into a cgroup v2 leaf of its own
(`hostile.limits.command_cgroup`), what that cgroup holds is ended too: its members are exactly what the command
started and left there, where the scan misses a process orphaned between two of its looks.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time

SCAN_S = 0.5  # how often descendants are noted (2 ms of CPU at 112 processes); one orphaned within it is missed
GRACE_S = 3.5  # after a stop, how long the command has to end by itself
STACKS_S = 0.3  # how long its stacks are given to print before the kill
STOPS = (signal.SIGTERM, signal.SIGINT)


_pipe: int | None = None  # this process's end of its watcher's pipe, once started


def start(stops: bool = True, cgroup: str | os.PathLike[str] | None = None) -> None:
    """The calling process's watcher, started once; with `stops` (main thread) its signals are written to the
    watcher's pipe from now on, else (a library's embedded Ray: `jobs.runtime.ray_pool`) it only ends what this
    process started once it has ended; `cgroup`: the cgroup v2 folder that holds the command alone (see the module)."""
    global _pipe
    if _pipe is not None:
        return
    r, _pipe = os.pipe()
    os.set_blocking(_pipe, False)
    argv = [sys.executable, "-I", __file__, str(os.getpid()), *([os.fspath(cgroup)] if cgroup else [])]
    subprocess.Popen(argv, stdin=r, start_new_session=True)
    os.close(r)
    if stops:
        signal.set_wakeup_fd(_pipe, warn_on_full_buffer=False)


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time) of `pid`, None once it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return None if fields[0] == "Z" else (int(fields[1]), int(fields[19]))


def descendants(root: int, noted: dict[int, int] | None = None) -> dict[int, int]:
    """Every live descendant of `root`, and of the `noted` processes (pid -> start time) still the same ones, these
    included: pid -> start time, in one walk of /proc (a dead one is forgotten: a long-lived owner starts many)."""
    children: dict[int, list[int]] = {}
    started: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(int(entry))) is not None:
            children.setdefault(st[0], []).append(int(entry))
            started[int(entry)] = st[1]
    found = {pid: at for pid, at in (noted or {}).items() if started.get(pid) == at}
    todo = [child for parent in (root, *found) for child in children.get(parent, [])]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found[pid] = started[pid]
            todo += children.get(pid, [])
    return found


def members(cgroup: str | None) -> dict[int, int]:
    """The live processes in `cgroup` and the cgroups beneath it (None: none): pid -> start time."""
    found = {}
    for folder, _, _ in os.walk(cgroup) if cgroup else ():
        with contextlib.suppress(OSError, ValueError), open(os.path.join(folder, "cgroup.procs"), "rb") as f:
            for pid in map(int, f.read().split()):
                if (st := _stat(pid)) is not None:
                    found[pid] = st[1]
    return found


def end(noted: dict[int, int], sig: int = signal.SIGKILL, grace_s: float = 0.0) -> None:
    """`sig` to each noted process that is still the same one; after `grace_s`, SIGKILL to those still alive."""
    sent = {}
    for pid, started in noted.items():
        if (st := _stat(pid)) is not None and st[1] == started:
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
                sent[pid] = started
    deadline = time.monotonic() + grace_s
    while sent and time.monotonic() < deadline and any(_stat(p) is not None for p in sent):
        time.sleep(0.05)
    if sig != signal.SIGKILL:
        end(sent)


def watch(owner: int, fd: int = 0, cgroup: str | None = None) -> None:
    """Watch `owner` through the pipe `fd` until it has ended, and the cgroup v2 folder that holds its command alone
    (None: none; see the module)."""
    me, stop, kill_at, noted = os.getpid(), 0, float("inf"), dict[int, int]()
    born = (_stat(owner) or (0, -1))[1]
    alive = lambda: (_stat(owner) or (0, 0))[1] == born  # noqa: E731 (the same process: a reused pid is not)
    while alive():
        if select.select([fd], [], [], max(0.0, min(SCAN_S, kill_at - time.monotonic())))[0]:
            if not (got := os.read(fd, 64)):
                break  # the command has ended (and what it forked)
            for signum in (b for b in got if b in STOPS):
                stop, kill_at = signum, time.monotonic() + GRACE_S if not stop else 0.0
        noted = descendants(owner, noted)
        noted.pop(me, None)
        if time.monotonic() >= kill_at and alive():
            with contextlib.suppress(OSError):
                os.kill(owner, signal.SIGUSR1)
            time.sleep(STACKS_S)
            print(
                f"eidata: stopped by {signal.Signals(stop).name}, it did not end within {GRACE_S:g} s: killed with "
                "all it started (exit 137; its stacks above); what was committed stays and nothing is half-written: "
                "rerun the same command to resume",
                file=sys.stderr,
                flush=True,
            )
            doomed = {**members(cgroup), **noted, owner: born}
            doomed.pop(me, None)
            end(doomed)
            kill_at = float("inf")
    noted = descendants(owner, noted)  # what the noted ones started since the last scan (orphans now, their children)
    noted.update(members(cgroup))  # and all the command left in its cgroup, whatever the scans saw
    noted.pop(me, None)
    end(noted, signal.SIGTERM, grace_s=2.0)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the command's Ctrl-C is the command's
    watch(int(sys.argv[1]), cgroup=sys.argv[2] if len(sys.argv) > 2 else None)
