"""Child processes of the tests, each in a session (a process group) of its own, the whole group killed on every way
out. A child leaves processes of its own behind when it dies or is killed (an embedded Ray's raylet and workers,
Chromium's renderers, a server's helpers): killing the child alone let them run on, seen spinning for hours after a
timed-out test, and a pipe they hold open keeps `communicate` waiting. Signalling the group reaches them all.

- `group(cmd, **popen)`: a context manager; the block gets the `Popen`, and on leaving it by any way the group is
  SIGKILLed and the child reaped.
- `run_group(cmd, timeout, **popen)`: `subprocess.run` in a group of its own (its output captured when asked).
- `kill_group(proc, sig)`: `sig` to the whole group (SIGTERM, SIGINT, SIGKILL), nothing when it is gone already.
- `start(cmd, session=False)`: a group of its own in this session (a test of how the kernel shares a CPU).
- `stop_group(proc, grace_s)`: SIGTERM to the group, then SIGKILL if the child is still there after `grace_s`.
- `in_session(sid)`: the live processes of a session (a child started by `start` and every process it started that
  did not leave its session)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def start(cmd: Sequence[str], *, session: bool = True, **popen: Any) -> subprocess.Popen:
    """`cmd` started with `popen` (Popen's keywords) as the leader of a new session: its group is its pid. With
    `session` False, of a new group in this session (so in this session's autogroup, which the kernel gives a CPU's
    share before it weighs the processes inside: what a test of scheduling between its own processes needs)."""
    if not session:
        return subprocess.Popen(cmd, process_group=0, **popen)
    return subprocess.Popen(cmd, start_new_session=True, **popen)


def kill_group(proc: subprocess.Popen | int, sig: int = signal.SIGKILL) -> None:
    """`sig` to every process of `proc`'s group (a `Popen`, or a group's id); none left is no error (the group ended
    by itself)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc if isinstance(proc, int) else proc.pid, sig)


def stop_group(proc: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM to the group (a chance to shut down cleanly), SIGKILL once `grace_s` has passed; the child reaped."""
    kill_group(proc, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace_s)
    kill_group(proc)
    proc.wait()


@contextmanager
def group(cmd: Sequence[str], **popen: Any) -> Iterator[subprocess.Popen]:
    """`cmd` in a process group of its own for the block; the group SIGKILLed and the child reaped when it ends."""
    proc = start(cmd, **popen)
    try:
        yield proc
    finally:
        kill_group(proc)
        proc.wait()


def run_group(cmd: Sequence[str], timeout: float, **popen: Any) -> subprocess.CompletedProcess:
    """`subprocess.run(cmd, timeout=timeout, ...)` in a group of its own, the group killed after it: its output when
    `popen` asks for pipes (`capture_output=True` as for `run`); `subprocess.TimeoutExpired` (with what it printed)
    past `timeout`."""
    if popen.pop("capture_output", False):
        popen.update(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with group(cmd, **popen) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as e:
            kill_group(proc)
            out, err = proc.communicate()
            raise subprocess.TimeoutExpired(proc.args, timeout, output=out, stderr=err) from e
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def in_session(sid: int) -> list[int]:
    """The processes still alive (zombies aside) in the session `sid`."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                out.append(int(entry.name))
    return out
