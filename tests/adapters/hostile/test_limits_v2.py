"""`hostile.limits` under cgroup v2 (issue 100 item 3; review 10 §1.1: a cgroup that holds processes cannot give
`memory` to its children, so cages made as children of the process's own cgroup were never reached).

This machine's memory controller is on cgroup v1, and cgroupfs cannot be emulated (a write to `cgroup.procs` moves a
process, to `cgroup.kill` kills): the tests lay out a folder as a delegated v2 tree and check the steps `home` takes
there, the files it writes and the folders it makes, and the fall-back, said, when a step is refused. A real v2 host
runs the same code on the real files (a write refused there is an OSError, as here)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.hostile import limits

SCOPE = "user.slice/user-1000.slice/user@1000.service/app.slice/run-eidata.scope"  # systemd-run --user --scope


@pytest.fixture
def own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A cgroup v2 tree whose scope holds this process alone and is given `memory` by its parent (`Delegate=yes`);
    no v1 memory tree (a pure v2 host). The scope's folder."""
    root = tmp_path / "cgroup"
    (own := root / SCOPE).mkdir(parents=True)
    (root / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids rdma misc\n")
    (own / "cgroup.controllers").write_text("cpu memory pids\n")
    (own / "cgroup.subtree_control").write_text("\n")
    (own / "cgroup.procs").write_text(f"{os.getpid()}\n")
    (tmp_path / "self").write_text(f"0::/{SCOPE}\n")
    monkeypatch.setattr(limits, "V2_ROOT", root)
    monkeypatch.setattr(limits, "V1_ROOT", tmp_path / "no-v1")
    monkeypatch.setattr(limits, "SELF", tmp_path / "self")
    limits.home.cache_clear()
    yield own
    limits.home.cache_clear()  # the machine's own, found again


def test_the_command_moves_into_a_leaf_and_its_cages_are_made_beside_it(own: Path) -> None:
    leaf = own / limits.LEAF
    assert limits.home() == limits.Home(2, own, leaf, made=True)
    assert (leaf / "cgroup.procs").read_text() == str(os.getpid()), "this process moved into the leaf"
    assert (own / "cgroup.subtree_control").read_text() == "+memory", "memory given to the scope's children"
    assert limits.mechanism(why=True) == "cgroup v2" and limits.command_cgroup() == own
    held = limits.cage(64)
    assert held.folder is not None and held.folder.parent == own, "a sibling of the leaf, never its child"
    assert held.folder.name.startswith(f"{limits.PREFIX}{os.getpid()}-") and held.version == 2
    assert (held.folder / "memory.max").read_text() == str(64 << 20)
    assert (held.folder / "memory.swap.max").read_text() == "0"
    assert sorted(p.name for p in own.iterdir() if p.is_dir()) == sorted([limits.LEAF, held.folder.name])


def test_the_processes_the_command_started_move_with_it(own: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (own / "cgroup.procs").write_text(f"{os.getpid()}\n{child.pid}\n")
        assert limits.home().made
        # the fake file keeps the last write; the kernel's moves one process a write, itself first
        assert (own / limits.LEAF / "cgroup.procs").read_text() == str(child.pid)
    finally:
        child.kill()
        child.wait()


def test_a_process_started_in_the_leaf_makes_its_cages_beside_it(own: Path, tmp_path: Path) -> None:
    """A Ray worker, or a command the command ran: its cages beside the leaf its command made, nothing moved."""
    (own / "cgroup.subtree_control").write_text("memory\n")  # as the kernel shows it once given
    (leaf := own / limits.LEAF).mkdir()
    (tmp_path / "self").write_text(f"0::/{SCOPE}/{limits.LEAF}\n")
    assert limits.home() == limits.Home(2, own, leaf, made=False)
    assert limits.command_cgroup() is None, "the leaf holds the command that started this one: not this one's to end"
    assert not (leaf / "cgroup.procs").exists()


def test_a_cgroup_without_memory_falls_back_and_says_why(own: Path) -> None:
    (own / "cgroup.controllers").write_text("cpu pids\n")  # not delegated
    assert limits.home().version == 0 and limits.cage(64).folder is None
    assert limits.mechanism() == "RLIMIT_AS"
    assert limits.mechanism(why=True) == (
        f"RLIMIT_AS; cgroup v2: {own} is not given the memory controller (systemd-run -p Delegate=yes)"
    )
    assert not (own / limits.LEAF).exists()


def test_a_cgroup_holding_another_commands_process_is_left_as_it_is(own: Path) -> None:
    (own / "cgroup.procs").write_text(f"1\n{os.getpid()}\n")  # a shell in the scope, say: never moved by this one
    assert limits.home().version == 0
    assert limits.mechanism(why=True).endswith(f"{own} holds a process this one did not start (pid 1)")
    assert not (own / limits.LEAF).exists()


def test_a_refused_write_is_undone_and_said(own: Path) -> None:
    """The kernel refuses `+memory` with EBUSY where the scope still holds a process; a folder in the file's place
    refuses the write here: this process is moved back, the fall-back names the file."""
    (own / "cgroup.subtree_control").unlink()
    (own / "cgroup.subtree_control").mkdir()
    assert limits.home().version == 0 and limits.cage(64).folder is None
    assert limits.mechanism(why=True).startswith("RLIMIT_AS; cgroup v2: [Errno 21] Is a directory: ")
    assert str(own / "cgroup.subtree_control") in limits.mechanism(why=True)
    assert (own / "cgroup.procs").read_text() == str(os.getpid()), "moved back into its own cgroup"


def test_a_v2_cage_is_killed_by_its_cgroup_kill_else_process_by_process(tmp_path: Path) -> None:
    """`cgroup.kill` (Linux 5.14) ends the cage's processes and their forks at once; a kernel without it, each
    process the cage lists."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (folder := tmp_path / f"{limits.PREFIX}1-0").mkdir()
        (folder / "cgroup.procs").write_text(f"{sleeper.pid}\n")
        (folder / "cgroup.kill").write_text("")
        limits.Cage(64, folder, 2).kill()
        assert (folder / "cgroup.kill").read_text() == "1"
        assert sleeper.poll() is None, "the kernel's kill, not a scan of the processes"
        (folder / "cgroup.kill").unlink()
        limits.Cage(64, folder, 2).kill()
        assert sleeper.wait(timeout=10) == -9 and not (folder / "cgroup.kill").exists(), "never made: no such kernel"
    finally:
        sleeper.kill()
        sleeper.wait()
