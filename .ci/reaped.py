"""Run a command (a tier of the suite) so that nothing it started outlives it: CI's run ends when its tests end.

A process a test leaves behind (an orphaned Ray daemon, a stuck parse worker) keeps CI's output pipe open, and a memory
cgroup left under CI's own keeps CI's cgroup from being removed; either way the run "goes on" until CI's 90 minutes
and the submission does not land, with no output kept. So this process is the child subreaper of the command's whole
tree (an orphan becomes its child, not init's), and when the command ends every process still below it is named on
stderr and killed, and every cgroup created below this one's meanwhile is emptied and removed. The command's exit
status is this one's. Standard library only: it runs before any venv exists.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36


def descendants(root: int) -> list[int]:
    """Every live process below `root`, by parent links in /proc."""
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                kids.setdefault(int(stat[stat.rindex(")") + 2 :].split()[1]), []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        found = kids.get(todo.pop(), [])
        out += found
        todo += found
    return out


def cgroups() -> list[Path]:
    """The folders of this process's own cgroups (each v1 hierarchy's and the unified one), where readable."""
    out = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            name = "unified" if not controllers else controllers.split(",")[0].removeprefix("name=")
            for base in (Path("/sys/fs/cgroup") / name, Path("/sys/fs/cgroup")):
                folder = base / path.lstrip("/")
                if (folder / "cgroup.procs").exists():
                    out.append(folder)
                    break
    return out


def below(folders: list[Path]) -> set[Path]:
    return {d for f in folders for d in f.rglob("*") if d.is_dir() and (d / "cgroup.procs").exists()}


def main(argv: list[str]) -> int:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    own = cgroups()
    before = below(own)
    child = subprocess.Popen(argv)
    for sig in (signal.SIGTERM, signal.SIGINT):  # a stop of this run is the command's
        signal.signal(sig, lambda s, _f: child.send_signal(s))
    status = child.wait()
    _reap()  # orphans that ended are zombies of this subreaper: gone once waited for, never named
    left = [pid for pid in descendants(os.getpid()) if _state(pid) not in ("Z", "")]
    for pid in left:
        with contextlib.suppress(OSError):
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:200]
            print(f"ci: `{' '.join(argv)}` left process {pid} running: {cmd}: killed", file=sys.stderr)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    for folder in sorted(below(own) - before, key=lambda d: len(d.parts), reverse=True):
        with contextlib.suppress(OSError, ValueError):
            for pid in (folder / "cgroup.procs").read_text().split():
                os.kill(int(pid), signal.SIGKILL)
        print(f"ci: `{' '.join(argv)}` left cgroup {folder}: removed", file=sys.stderr)
        for _ in range(50):
            try:
                folder.rmdir()
                break
            except OSError:
                time.sleep(0.1)
    _reap()
    return status if status >= 0 else 128 - status


def _state(pid: int) -> str:
    """A process's state letter ("Z": a zombie), "" once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat[stat.rindex(")") + 2]


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
