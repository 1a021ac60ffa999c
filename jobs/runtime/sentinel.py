"""A killed driver takes its Ray with it: a sentinel process ends what the driver started once the driver is gone.

Why: Ray shares the fate of its own daemons with the driver, but not of what the raylet starts: after a `kill -9` of
`eidata ingest`, its workers, committer actors and `ray::DashboardAgent` / `ray::RuntimeEnvAgent` ran on for minutes
(review 6: about 180 MB; `benchmarks/kill_resume.py`: all still alive 30 s after the kill). A signal handler cannot
help a SIGKILLed driver, and a process group cannot either without taking the terminal's Ctrl-C away from it.

How: the sentinel notes the driver's descendants every `SCAN_S` (pid and start time, from /proc, by parent links);
when its stdin pipe closes the driver has ended, and it signals every noted process that is still the same process
(its start time unchanged: a reused pid is left alone). Nothing is found by name. Linux only; the module imports
only the standard library: it runs as a script in its own interpreter.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

SCAN_S = 0.5  # how often the driver's descendants are noted: one started and orphaned within it can be missed
GRACE_S = 2.0  # between SIGTERM and SIGKILL

_started: subprocess.Popen[bytes] | None = None


def start() -> bool:
    """Start this process's sentinel, once (True when there is one)."""
    global _started
    if _started is not None:
        return True
    if not Path("/proc/self/stat").exists():
        return False
    # -I: no user site, no environment, not the script's folder on sys.path; its own session: a Ctrl-C at the
    # terminal reaches the driver, which stops Ray itself, and the sentinel then ends what is left
    _started = subprocess.Popen(
        [sys.executable, "-I", __file__, str(os.getpid())], stdin=subprocess.PIPE, start_new_session=True
    )
    return True


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time) of `pid`, None once it is gone or a zombie."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return None if fields[0] == "Z" else (int(fields[1]), int(fields[19]))


def descendants(root: int) -> dict[int, int]:
    """Every live descendant of `root`: pid -> start time."""
    children: dict[int, list[int]] = {}
    started: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(int(entry))) is not None:
            children.setdefault(st[0], []).append(int(entry))
            started[int(entry)] = st[1]
    found, todo = {}, list(children.get(root, []))
    while todo:
        pid = todo.pop()
        if pid not in found and pid in started:
            found[pid] = started[pid]
            todo += children.get(pid, [])
    return found


def _signal(noted: dict[int, int], sig: int) -> dict[int, int]:
    """`sig` to each noted process that is still the same one; those it went to."""
    sent = {}
    for pid, t in noted.items():
        st = _stat(pid)
        if st is not None and st[1] == t:
            try:
                os.kill(pid, sig)
            except OSError:
                continue
            sent[pid] = t
    return sent


def watch(driver: int, stdin: int = 0) -> dict[int, int]:
    """Note `driver`'s descendants until `stdin` closes, then end them (see the module); those it signalled."""
    me, noted = os.getpid(), {}
    while True:
        ready, _, _ = select.select([stdin], [], [], SCAN_S)
        if ready and not os.read(stdin, 4096):
            break
        noted.update(descendants(driver))
        noted.pop(me, None)
    for pid in list(noted):  # what the noted ones started since the last scan (orphaned now, still their children)
        noted.update(descendants(pid))
    noted.pop(me, None)
    termed = _signal(noted, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_S
    while time.monotonic() < deadline and any(_stat(p) is not None for p in termed):
        time.sleep(0.1)
    _signal(termed, signal.SIGKILL)
    return termed


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # its driver's Ctrl-C is the driver's
    watch(int(sys.argv[1]))
