"""`adapters.hostile.limits`: the cage of one parse process, by the first mechanism the machine offers (its bombs are in
tests/adapters/hostile/test_sandbox.py, under each mechanism this machine can use)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from adapters.hostile import limits
from adapters.hostile.sandbox import answer


def _touch(mib: int) -> int:
    return len(bytearray(mib << 20)) >> 20


def test_the_mechanism_is_the_first_the_machine_offers() -> None:
    """A cgroup where this process may make a child of its own (root here, as on the team's machines: cgroup v1), else
    `RLIMIT_AS`; cgroup v2 only where the process's own cgroup is given the memory controller, which needs a unified
    hierarchy holding it (this machine's memory controller is on v1: v2's steps are checked on a folder laid out as a
    v2 tree, test_limits_v2.py)."""
    home = limits.home()
    assert limits.mechanism() in ("cgroup v2", "cgroup v1", "RLIMIT_AS")
    if Path("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists() and os.access("/sys/fs/cgroup/memory", os.W_OK):
        assert home.version in (1, 2) and home.folder is not None and (home.folder / "cgroup.procs").exists()
    if home.version == 1:  # beside this process's own cgroup, never elsewhere
        own = next(ln for ln in Path("/proc/self/cgroup").read_text().splitlines() if ":memory:" in ln)
        assert home.folder == limits.V1_ROOT / own.split(":", 2)[2].lstrip("/")


def test_a_cage_under_rlimit_as_bounds_the_address_space(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "home", lambda: limits.Home())
    assert limits.mechanism() == "RLIMIT_AS" and limits.cage(64).folder is None
    assert answer(_touch, 16, mib=64, what="x") == 16
    with pytest.raises(MemoryError):
        answer(_touch, 256, mib=64, what="x")


def test_no_cage_is_left_behind_and_a_dead_owners_cage_is_swept() -> None:
    folder = limits.home().folder
    if folder is None:
        pytest.skip(f"no cgroup to leave behind here: {limits.mechanism()}")
    answer(_touch, 8, mib=128, what="x")
    assert not list(folder.glob(f"{limits.PREFIX}{os.getpid()}-*"))
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    stale = folder / f"{limits.PREFIX}{dead}-0"
    stale.mkdir()
    limits.sweep()
    assert not stale.exists()
