"""The operating system's memory limit on one process that parses a source's bytes (issue 84): a `Cage`, by the first
mechanism the machine offers (`mechanism()`, found once per process):

- cgroup v2 where the process's own cgroup delegates `memory` to its children (`systemd-run --user --scope -p
  Delegate=yes` gives one): a child with `memory.max` and `memory.swap.max` 0, ended by `cgroup.kill`;
- cgroup v1 where the process may make a child of its own memory cgroup (root, as on this team's machines);
- else `RLIMIT_AS` on the parse process alone: its address space may grow by the limit from what it had at the fork.

A cgroup counts what is really used (page cache the kernel reclaims before it kills), reads back its peak, and tells
its out-of-memory kill from any other death. Under `RLIMIT_AS` an allocation past the limit fails where it is made
(`MemoryError`, a C library's NULL). A cage is made beside the process's own cgroup, so whatever holds that (a CI
run, a session) still holds the parse; `close` kills what is left in it and removes it, `sweep` the dead owners'.
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

MIB = 1 << 20
# the reading budget (adapters.hostile.bounds, 256 MiB) twice plus working room; 0 false trips on every real sample
# under each mechanism this machine has (benchmarks/parse_limit_real.py)
DEFAULT_MIB = 640
PREFIX = "eidata-parse-"  # a cage's folder: PREFIX + owner pid + "-" + a counter
V1_ROOT = Path("/sys/fs/cgroup/memory")
V2_ROOT = Path("/sys/fs/cgroup")
# per version: the limit, the swap limit, the peak, the keyed file whose `oom_kill` counts the out-of-memory kills
FILES = {
    2: ("memory.max", "memory.swap.max", "memory.peak", "memory.events"),
    1: ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.max_usage_in_bytes", "memory.oom_control"),
}
_count = itertools.count()


@dataclass(frozen=True)
class Home:
    """Where cages go: `folder` (the process's own cgroup) of `version` 1 or 2; no folder: `RLIMIT_AS`."""

    version: int = 0
    folder: Path | None = None

    @property
    def name(self) -> str:
        return {2: "cgroup v2", 1: "cgroup v1"}.get(self.version, "RLIMIT_AS")


def _own(controller: str) -> Path | None:
    """This process's cgroup folder in the v1 hierarchy of `controller`, or ("") in the unified one."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, names, path = line.split(":", 2)
            if (controller in names.split(",")) if controller else not names:
                return (V1_ROOT if controller else V2_ROOT) / path.lstrip("/")
    return None


def _usable(folder: Path | None, needs: str) -> bool:
    """Whether a child cgroup can be made (and removed) under `folder`, which delegates `needs` (v2) to it."""
    try:
        if folder is None or (needs and needs not in (folder / "cgroup.subtree_control").read_text().split()):
            return False
        (probe := folder / f"{PREFIX}probe-{os.getpid()}").mkdir()
        probe.rmdir()
    except OSError:
        return False
    return True


@functools.cache
def home() -> Home:
    """The mechanism this machine offers this process (found once)."""
    if (V2_ROOT / "cgroup.controllers").exists() and _usable(v2 := _own(""), "memory"):
        return Home(2, v2)
    if _usable(v1 := _own("memory"), ""):
        return Home(1, v1)
    return Home()


def mechanism() -> str:
    """The mechanism's name, as a job reports it once: "cgroup v2", "cgroup v1" or "RLIMIT_AS"."""
    return home().name


def _number(path: Path, key: str | None = None) -> int | None:
    """An integer file's value, or that of `key` in a flat keyed file; None where absent."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        lines = path.read_text().splitlines()
        return int(lines[0] if key is None else next(v for k, _, v in (ln.partition(" ") for ln in lines) if k == key))
    return None


@dataclass
class Cage:
    """A limit of `mib` MiB for one parse process: made in the parent before the fork, entered by the child."""

    mib: int
    home: Home
    folder: Path | None = None

    def enter(self, mib: int | None = None) -> None:
        """In the child, first thing: the limit on this process (`mib` in place of the cage's own: what a child may
        still add once it knows its own size)."""
        self.mib = mib or self.mib
        if self.folder is not None:
            if mib is not None:
                (self.folder / FILES[self.home.version][0]).write_text(str(mib * MIB))
            (self.folder / "cgroup.procs").write_text(str(os.getpid()))
            return
        with contextlib.suppress(OSError, AttributeError):  # glibc: two malloc arenas, not 64 MiB reserved a thread
            ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX, malloc.h
        with open("/proc/self/status", encoding="ascii") as f:
            mapped = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        want = mapped + self.mib * MIB
        resource.setrlimit(resource.RLIMIT_AS, (want if hard == resource.RLIM_INFINITY else min(want, hard), hard))

    def killed(self) -> bool:
        """Whether the cgroup's out-of-memory killer ended a process in it (never under `RLIMIT_AS`)."""
        if self.folder is None:
            return False
        kills = _number(self.folder / FILES[self.home.version][3], "oom_kill")
        return (kills if kills is not None else _number(self.folder / "memory.failcnt") or 0) > 0

    def peak_mib(self) -> float | None:
        """The most the cage's processes used at once, MiB; None where not known."""
        peak = None if self.folder is None else _number(self.folder / FILES[self.home.version][2])
        return None if peak is None else peak / MIB

    def close(self) -> None:
        """Whatever still runs in the cage killed, the cage removed."""
        for _ in range(100 if self.folder is not None else 0):
            with contextlib.suppress(OSError, ValueError):
                if self.home.version == 2:
                    (self.folder / "cgroup.kill").write_text("1")
                for pid in (self.folder / "cgroup.procs").read_text().split():
                    os.kill(int(pid), signal.SIGKILL)
            try:
                self.folder.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.01)  # a killed process leaves its cgroup once the kernel has torn it down


def cage(mib: int) -> Cage:
    """A cage of `mib` MiB by the machine's mechanism (its cgroup made now, with its limit)."""
    if (where := home()).folder is None:
        return Cage(mib, where)
    sweep()
    made = Cage(mib, where, where.folder / f"{PREFIX}{os.getpid()}-{next(_count)}")
    made.folder.mkdir()
    try:
        limit, swap = FILES[where.version][:2]
        (made.folder / limit).write_text(str(mib * MIB))
        with contextlib.suppress(OSError):  # no swap accounted: nothing to swap to either
            (made.folder / swap).write_text("0" if where.version == 2 else str(mib * MIB))
    except BaseException:
        made.close()
        raise
    return made


def sweep() -> None:
    """The cages left by owners that died before closing them (a SIGKILLed worker), removed."""
    for old in home().folder.glob(f"{PREFIX}*") if home().folder is not None else ():
        owner = old.name.removeprefix(PREFIX).split("-", 1)[0]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            Cage(0, home(), old).close()
