"""The operating system's memory limit on one process that parses a source's bytes (issue 84): a `Cage`, by the first
mechanism the machine offers: cgroup v2 where this process's cgroup is given the `memory` controller (`systemd-run
--user --scope -p Delegate=yes`), cgroup v1 where it may make a child of its own memory cgroup (root, as on this
team's machines), else `RLIMIT_AS` on the parse process alone (an allocation past it fails where it is made). A cgroup
counts what is really used, reads back its peak and tells its out-of-memory kill from any other death; it is made
under this process's cgroup (v1: a child of it; v2: beside the leaf the command moved into), so whatever holds that (a
CI run, a session) still holds the parse.

Under cgroup v2 a cgroup that holds processes cannot give a controller to its children (the no-internal-process rule,
Documentation/admin-guide/cgroup-v2.rst "No Internal Process Constraint"; containerd/runwasi#37): the command first
moves into a leaf of its own cgroup (`LEAF`), then gives `memory` to that cgroup's children, and its cages are made
beside the leaf (review 10, issue 100 item 3). A step refused falls back to `RLIMIT_AS`, the refusal said where the
job names its mechanism (`mechanism(why=True)`).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import itertools
import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from adapters.hostile.watcher import descendants, end, members

MIB = 1 << 20
DEFAULT_MIB = 640  # 0 false trips on every real sample under each mechanism here (benchmarks/parse_limit_real.py)
PREFIX = "eidata-parse-"  # a cage's folder: PREFIX + owner pid + "-" + a counter
LEAF = "eidata-main"  # cgroup v2: the leaf a command moves into, its cages beside it (never a cage's name)
SELF = Path("/proc/self/cgroup")  # this process's cgroups ("hierarchy:controllers:path" a line; v2's is "0::path")
V2_ROOT = Path("/sys/fs/cgroup")  # cgroup v2's unified tree where it is the machine's (its root has cgroup.controllers)
V1_ROOT = Path("/sys/fs/cgroup/memory")
# per version: the limit, the swap limit, the peak, the keyed file whose `oom_kill` counts the out-of-memory kills
FILES = {
    2: ("memory.max", "memory.swap.max", "memory.peak", "memory.events"),
    1: ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.max_usage_in_bytes", "memory.oom_control"),
}
_count = itertools.count()


class Home(NamedTuple):
    """Where cages go: the cgroup `folder` of `version` 1 or 2 (no folder: `RLIMIT_AS`); under v2 the `leaf` beside
    them that holds this process, `made` by it (the leaf holds its command alone, not the one that started it); what
    `refused` cgroup v2 where it fell back."""

    version: int = 0
    folder: Path | None = None
    leaf: Path | None = None
    made: bool = False
    refused: str = ""


@functools.cache
def home() -> Home:
    """The first mechanism this machine offers this process (found once): a cgroup it can make a child in."""
    refused = ""
    with contextlib.suppress(OSError, StopIteration):  # StopIteration: no v2 line
        own = [line.split(":", 2) for line in SELF.read_text().splitlines()]
        if (V2_ROOT / "cgroup.controllers").exists():  # a unified tree (on a hybrid one, memory is v1's)
            if (v2 := _v2(V2_ROOT / next(path for n, _, path in own if n == "0").lstrip("/"))).version:
                return v2
            refused = v2.refused
        for folder in (V1_ROOT / path.lstrip("/") for _, n, path in own if "memory" in n.split(",")):
            with contextlib.suppress(OSError):
                _probe(folder)
                return Home(1, folder)
    return Home(refused=refused)


def _v2(own: Path) -> Home:
    """Cages beside this process's leaf under its cgroup `own`: the root's children (the root is exempt from the
    no-internal-process rule), the leaf's siblings where a command that started this one moved there, else the command
    moved into a leaf it makes, with the processes it started, and `memory` given to `own`'s children; a step refused
    undone, and said."""
    try:
        if "memory" in _words(own / "cgroup.subtree_control"):  # while it holds this process: the root
            _probe(own)
            return Home(2, own)
        if own.name == LEAF and "memory" in _words(own.parent / "cgroup.subtree_control"):
            _probe(own.parent)
            return Home(2, own.parent, own)
    except OSError as e:
        return Home(refused=f"cgroup v2: {e}")
    if "memory" not in _words(own / "cgroup.controllers"):
        return Home(refused=f"cgroup v2: {own} is not given the memory controller (systemd-run -p Delegate=yes)")
    me, procs, started = os.getpid(), [int(pid) for pid in _words(own / "cgroup.procs")], descendants(os.getpid())
    if others := [pid for pid in procs if pid != me and pid not in started]:
        more = f" and {len(others) - 1} more" if len(others) > 1 else ""
        return Home(refused=f"cgroup v2: {own} holds a process this one did not start (pid {others[0]}{more})")
    leaf, moved = own / LEAF, list[int]()
    try:
        leaf.mkdir(exist_ok=True)
        for pid in (me, *(pid for pid in procs if pid != me)):  # itself first; what it started: one gone is no matter
            with contextlib.suppress(ProcessLookupError):
                (leaf / "cgroup.procs").write_text(str(pid))
                moved.append(pid)
        (own / "cgroup.subtree_control").write_text("+memory")
    except OSError as e:
        for pid in moved:
            with contextlib.suppress(OSError):
                (own / "cgroup.procs").write_text(str(pid))
        with contextlib.suppress(OSError):
            leaf.rmdir()
        return Home(refused=f"cgroup v2: {e}")
    return Home(2, own, leaf, made=True)


def _probe(folder: Path) -> None:
    """A child made and removed in `folder`: OSError where this process may not make one."""
    (probe := folder / f"{PREFIX}probe-{os.getpid()}").mkdir()
    probe.rmdir()


def _words(path: Path) -> list[str]:
    """A cgroup file's words; none where it cannot be read."""
    try:
        return path.read_text().split()
    except OSError:
        return []


def mechanism(why: bool = False) -> str:
    """The mechanism's name, as a job reports it once: "cgroup v2", "cgroup v1" or "RLIMIT_AS" (`why`: after what
    refused cgroup v2, where it did: a fall-back is never silent)."""
    found = home()
    name = {2: "cgroup v2", 1: "cgroup v1"}.get(found.version, "RLIMIT_AS")
    return f"{name}; {found.refused}" if why and found.refused and not found.version else name


def command_cgroup() -> Path | None:
    """The cgroup v2 cgroup that holds this process's command alone, where it moved into a leaf there (the leaf and its
    cages: every process the command started and left there, its watcher ends); None where it made no leaf."""
    found = home()
    return found.folder if found.made else None


def _number(path: Path, key: str | None = None) -> int | None:
    """An integer file's value, or that of `key` in a flat keyed file; None where absent."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        lines = path.read_text().splitlines()
        return int(lines[0] if key is None else next(v for k, _, v in (ln.partition(" ") for ln in lines) if k == key))
    return None


@dataclass
class Cage:
    """A limit of `mib` MiB for one parse process, made in the parent before the fork and entered by the child; its
    cgroup `folder` of `version` 1 or 2 (None: `RLIMIT_AS`; the version carried: a fresh interpreter enters it too)."""

    mib: int
    folder: Path | None = None
    version: int = 0

    def file(self, i: int) -> Path:
        assert self.folder is not None
        return self.folder / FILES[self.version][i]

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

    def kill(self) -> None:
        """Whatever runs in the cage killed: under cgroup v2 all at once, forks racing the kill included, by its
        `cgroup.kill` (Linux 5.14, commit 661ee6280931); else, or where that file is absent, each process it lists (as
        the kernel's own selftests do: tools/testing/selftests/cgroup/cgroup_util.c, cg_killall)."""
        if (folder := self.folder) is None:
            return
        if self.version == 2:
            with contextlib.suppress(OSError):
                fd = os.open(folder / "cgroup.kill", os.O_WRONLY)  # never made: a kernel before 5.14 has none
                try:
                    os.write(fd, b"1")
                finally:
                    os.close(fd)
                return
        end(members(str(folder)))  # as the watcher ends what a command left: each one it lists, its start time checked

    def close(self) -> None:
        """Whatever still runs in the cage killed, the cage removed."""
        if (folder := self.folder) is None:
            return
        for _ in range(100):
            self.kill()
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
    made = Cage(mib, folder, home().version)
    try:
        made.file(0).write_text(str(mib * MIB))
        with contextlib.suppress(OSError):  # no swap accounted: nothing to swap to either
            made.file(1).write_text("0" if made.version == 2 else str(mib * MIB))
    except BaseException:
        made.close()
        raise
    return made


def sweep() -> None:
    """The cages left by owners that died before closing them (a SIGKILLed worker), removed."""
    for old in where.glob(f"{PREFIX}*") if (where := home().folder) is not None else ():
        if not Path(f"/proc/{old.name.removeprefix(PREFIX).split('-', 1)[0]}").exists():
            Cage(0, old, home().version).close()
