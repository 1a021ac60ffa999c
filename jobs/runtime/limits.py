"""The operating system's memory limit on one process that parses a source's bytes (issue 84): a `Cage`.

Three mechanisms, the first the machine offers (`mechanism()`, found once per process):

- cgroup v2 where the process's own cgroup delegates the memory controller to its children (`memory` in its
  `cgroup.subtree_control`, as `systemd-run --user --scope -p Delegate=yes` gives): a child cgroup with `memory.max`,
  `memory.swap.max` 0, ended by `cgroup.kill`;
- the cgroup v1 memory controller where the process may create a child of its own memory cgroup (root, as on this
  team's machines): `memory.limit_in_bytes` (and `memory.memsw.limit_in_bytes` where swap is accounted);
- else `RLIMIT_AS` on the parse process alone: its address space may grow by the limit from what it had at the fork.

A cgroup counts what the process really uses (resident and page cache, which the kernel reclaims before it kills) and
its peak is read back (`peak_mib`); a kill by the cgroup's out-of-memory killer is told from any other death
(`killed`). Under `RLIMIT_AS` an allocation past it fails where it is made (Python's `MemoryError`, a C library's
NULL) and reserved address space counts as used. A cage is created beside the process's own cgroup, never elsewhere,
so whatever tracks that cgroup (a CI run, a session) still holds the parse process; `close` kills what is left in
it and removes it, and `sweep` removes the cages of owners that died before they could.
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
# the parse process's default limit: the reading budget (adapters.hostile.bounds, 256 MiB) twice plus working room;
# measured for false trips on every real sample (benchmarks/parse_limit_real.py)
DEFAULT_MIB = 640
PREFIX = "eidata-parse-"  # a cage's folder: PREFIX + owner pid + "-" + a counter
V1_ROOT = Path("/sys/fs/cgroup/memory")
V2_ROOT = Path("/sys/fs/cgroup")
_count = itertools.count()
_M_ARENA_MAX = -8  # glibc's malloc.h
try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL("libc.so.6")
except OSError:  # not glibc: no arenas to cap
    _LIBC = None


@dataclass(frozen=True)
class Home:
    """Where cages go: `folder` (the process's own cgroup) of `version` 1 or 2; no folder: `RLIMIT_AS`."""

    version: int = 0
    folder: Path | None = None

    @property
    def name(self) -> str:
        return {2: "cgroup v2", 1: "cgroup v1"}.get(self.version, "RLIMIT_AS")


def _own(controller: str) -> str | None:
    """This process's cgroup path in the v1 hierarchy of `controller`, or ("") the unified one's."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, names, path = line.split(":", 2)
            if (controller in names.split(",")) if controller else not names:
                return path
    return None


def _usable(folder: Path) -> bool:
    """Whether a child cgroup can be made (and removed) under `folder`."""
    probe = folder / f"{PREFIX}probe-{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError:
        return False
    return True


@functools.cache
def home() -> Home:
    """The mechanism this machine offers this process (found once)."""
    v2 = _own("")
    if v2 is not None and (V2_ROOT / "cgroup.controllers").exists():
        folder = V2_ROOT / v2.lstrip("/")
        with contextlib.suppress(OSError):
            if "memory" in (folder / "cgroup.subtree_control").read_text().split() and _usable(folder):
                return Home(2, folder)
    v1 = _own("memory")
    if v1 is not None and (V1_ROOT / "memory.limit_in_bytes").exists():
        folder = V1_ROOT / v1.lstrip("/")
        if (folder / "memory.limit_in_bytes").exists() and _usable(folder):
            return Home(1, folder)
    return Home()


def mechanism() -> str:
    """The mechanism's name, as a job reports it once: "cgroup v2", "cgroup v1" or "RLIMIT_AS"."""
    return home().name


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def _read_int(path: Path, key: str | None = None) -> int | None:
    """An integer file's value, or the value of `key` in a flat keyed file; None where absent."""
    try:
        text = path.read_text()
    except OSError:
        return None
    if key is None:
        return int(text.split()[0]) if text.strip().isdigit() else None
    for line in text.splitlines():
        k, _, v = line.partition(" ")
        if k == key and v.strip().isdigit():
            return int(v)
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
                name = "memory.max" if self.home.version == 2 else "memory.limit_in_bytes"
                _write(self.folder / name, str(mib * MIB))
            _write(self.folder / "cgroup.procs", str(os.getpid()))
            return
        if _LIBC is not None:  # one malloc arena a thread would reserve 64 MiB of address space each: two in all
            _LIBC.mallopt(_M_ARENA_MAX, 2)
        mapped = _vm_size()
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        want = mapped + self.mib * MIB
        resource.setrlimit(resource.RLIMIT_AS, (want if hard == resource.RLIM_INFINITY else min(want, hard), hard))

    def killed(self) -> bool:
        """Whether the cgroup's out-of-memory killer ended a process in it (never true under `RLIMIT_AS`)."""
        if self.folder is None:
            return False
        if self.home.version == 2:
            return (_read_int(self.folder / "memory.events", "oom_kill") or 0) > 0
        kills = _read_int(self.folder / "memory.oom_control", "oom_kill")
        return (kills if kills is not None else _read_int(self.folder / "memory.failcnt") or 0) > 0

    def peak_mib(self) -> float | None:
        """The most the cage's processes used at once (a cgroup's own peak), MiB; None where not known."""
        if self.folder is None:
            return None
        name = "memory.peak" if self.home.version == 2 else "memory.max_usage_in_bytes"
        peak = _read_int(self.folder / name)
        return None if peak is None else peak / MIB

    def close(self) -> None:
        """Whatever still runs in the cage killed, the cage removed."""
        if self.folder is None:
            return
        if self.home.version == 2:
            with contextlib.suppress(OSError):
                _write(self.folder / "cgroup.kill", "1")
        for _ in range(100):
            with contextlib.suppress(OSError, ValueError):
                for pid in (self.folder / "cgroup.procs").read_text().split():
                    os.kill(int(pid), signal.SIGKILL)
            try:
                self.folder.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.01)  # a killed process leaves its cgroup once the kernel has torn it down


def _vm_size() -> int:
    """This process's address space now (`VmSize`), bytes."""
    with open("/proc/self/status", encoding="ascii") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))


def cage(mib: int) -> Cage:
    """A cage of `mib` MiB by the machine's mechanism (its cgroup made now, with its limit)."""
    where = home()
    if where.folder is None:
        return Cage(mib, where)
    sweep()
    folder = where.folder / f"{PREFIX}{os.getpid()}-{next(_count)}"
    folder.mkdir()
    made = Cage(mib, where, folder)
    try:
        if where.version == 2:
            _write(folder / "memory.max", str(mib * MIB))
            with contextlib.suppress(OSError):  # no swap controller: nothing to swap to either
                _write(folder / "memory.swap.max", "0")
        else:
            _write(folder / "memory.limit_in_bytes", str(mib * MIB))
            with contextlib.suppress(OSError):  # swap accounted: the same bound on memory and swap together
                _write(folder / "memory.memsw.limit_in_bytes", str(mib * MIB))
    except BaseException:
        made.close()
        raise
    return made


def sweep() -> None:
    """The cages left by owners that died before closing them (a SIGKILLed worker), removed."""
    folder = home().folder
    if folder is None:
        return
    for old in folder.glob(f"{PREFIX}*"):
        owner = old.name.removeprefix(PREFIX).split("-", 1)[0]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            Cage(0, home(), old).close()
