"""The operating system's memory limit on one process that parses a source's bytes (issue 84): a `Cage`, by the first
mechanism the machine offers: cgroup v2 where this process's cgroup delegates `memory` (`systemd-run --user --scope
-p Delegate=yes`), cgroup v1 where it may make a child of its own memory cgroup (root, as on this team's machines),
else `RLIMIT_AS` on the parse process alone (an allocation past it fails where it is made). A cgroup counts what is
really used, reads back its peak and tells its out-of-memory kill from any other death; it is made beside this
process's cgroup, so whatever holds that (a CI run, a session) still holds the parse.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import itertools
import os
import resource
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

MIB = 1 << 20
DEFAULT_MIB = 640  # 0 false trips on every real sample under each mechanism here (benchmarks/parse_limit_real.py)
PREFIX = "eidata-parse-"  # a cage's folder: PREFIX + owner pid + "-" + a counter
V1_ROOT = Path("/sys/fs/cgroup/memory")
# per version: the limit, the swap limit, the peak, the keyed file whose `oom_kill` counts the out-of-memory kills
FILES = {
    2: ("memory.max", "memory.swap.max", "memory.peak", "memory.events"),
    1: ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.max_usage_in_bytes", "memory.oom_control"),
}
_count = itertools.count()


class Home(NamedTuple):
    """Where cages go: this process's cgroup `folder` of `version` 1 or 2; no folder: `RLIMIT_AS`."""

    version: int = 0
    folder: Path | None = None


@functools.cache
def home() -> Home:
    """The first mechanism this machine offers this process (found once): a cgroup it can make a child in."""
    with contextlib.suppress(OSError):
        own = [line.split(":", 2) for line in Path("/proc/self/cgroup").read_text().splitlines()]
        for version, root, names in ((2, V1_ROOT.parent, ""), (1, V1_ROOT, "memory")):
            for folder in (root / path.lstrip("/") for _, n, path in own if names in n.split(",") or n == names):
                with contextlib.suppress(OSError):
                    if version == 2 and "memory" not in (folder / "cgroup.subtree_control").read_text().split():
                        continue
                    (probe := folder / f"{PREFIX}probe-{os.getpid()}").mkdir()
                    probe.rmdir()
                    return Home(version, folder)
    return Home()


def mechanism() -> str:
    """The mechanism's name, as a job reports it once: "cgroup v2", "cgroup v1" or "RLIMIT_AS"."""
    return {2: "cgroup v2", 1: "cgroup v1"}.get(home().version, "RLIMIT_AS")


def _number(path: Path, key: str | None = None) -> int | None:
    """An integer file's value, or that of `key` in a flat keyed file; None where absent."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        lines = path.read_text().splitlines()
        return int(lines[0] if key is None else next(v for k, _, v in (ln.partition(" ") for ln in lines) if k == key))
    return None


@dataclass
class Cage:
    """A limit of `mib` MiB for one parse process, made in the parent before the fork and entered by the child; its
    cgroup `folder` (None: `RLIMIT_AS`)."""

    mib: int
    folder: Path | None = None

    def file(self, i: int) -> Path:
        assert self.folder is not None
        return self.folder / FILES[home().version][i]

    def enter(self, mib: int | None = None) -> None:
        """In the child, first thing: the limit on this process (`mib` in place of the cage's own: what a child may
        still add once it knows its own size)."""
        self.mib = mib or self.mib
        if self.folder is not None:
            if mib is not None:
                self.file(0).write_text(str(mib * MIB))
            (self.folder / "cgroup.procs").write_text(str(os.getpid()))
            return
        with contextlib.suppress(OSError, AttributeError):  # glibc: two malloc arenas, not 64 MiB reserved a thread
            ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX, malloc.h
        with open("/proc/self/status", encoding="ascii") as f:  # the address space may grow by the limit from here
            want = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:")) + self.mib * MIB
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (want if hard == resource.RLIM_INFINITY else min(want, hard), hard))

    def killed(self) -> bool:
        """Whether the cgroup's out-of-memory killer ended a process in it (never under `RLIMIT_AS`)."""
        if self.folder is None:
            return False
        kills = _number(self.file(3), "oom_kill")
        return (kills if kills is not None else _number(self.folder / "memory.failcnt") or 0) > 0

    def peak_mib(self) -> float | None:
        """The most the cage's processes used at once, MiB; None where not known."""
        peak = None if self.folder is None else _number(self.file(2))
        return None if peak is None else peak / MIB

    def close(self) -> None:
        """Whatever still runs in the cage killed, the cage removed."""
        if (folder := self.folder) is None:
            return
        for _ in range(100):
            with contextlib.suppress(OSError, ValueError):
                for pid in (folder / "cgroup.procs").read_text().split():
                    os.kill(int(pid), signal.SIGKILL)
                (folder / "cgroup.kill").write_text("1")  # v2 only
            try:
                folder.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.01)  # a killed process leaves its cgroup once the kernel has torn it down


def cage(mib: int) -> Cage:
    """A cage of `mib` MiB by the machine's mechanism (its cgroup made now, with its limit)."""
    if (where := home().folder) is None:
        return Cage(mib)
    sweep()
    (folder := where / f"{PREFIX}{os.getpid()}-{next(_count)}").mkdir()
    made = Cage(mib, folder)
    try:
        made.file(0).write_text(str(mib * MIB))
        with contextlib.suppress(OSError):  # no swap accounted: nothing to swap to either
            made.file(1).write_text("0" if home().version == 2 else str(mib * MIB))
    except BaseException:
        made.close()
        raise
    return made


def sweep() -> None:
    """The cages left by owners that died before closing them (a SIGKILLed worker), removed."""
    for old in where.glob(f"{PREFIX}*") if (where := home().folder) is not None else ():
        if not Path(f"/proc/{old.name.removeprefix(PREFIX).split('-', 1)[0]}").exists():
            Cage(0, old).close()
