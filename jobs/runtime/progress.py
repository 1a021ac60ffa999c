"""Whether a command is working: what the supervisor's no-progress bound reads (`jobs.runtime.supervisor`).

Any CPU tick was progress once, and a hung command still ticks: threads that only wake to wait (a GIL waiter's 5 ms
timed waits, a `Condition.wait(timeout=...)` loop, Ray's daemons and eidata's sentinel polling) use a little CPU each,
so the 100k export dry run deadlocked in Rust's alloc-error handler sat 10-16 minutes unstopped. Work is told apart
thread by thread, over the stall window (every `schedstat` of every process below the supervisor):

- one thread ran `SHARE` of a core. A waiting thread's wake-ups cost it 0.03-0.6 % however many wait beside it (the
  nearest: eidata's memory-limit follower, a step every 10 ms, 1.2 %); the tree's sum grows with them (3-8 % for 32
  GIL or condition waiters), so a sum would miss the hang;
- or one thread was starved: it wanted a CPU (ran or waited on the run queue) `READY` of the window and ran `SLICE_S`
  on average each time it got one. Under load a working thread gets little (2 cores at load 40: `eidata report` 1.5 %
  over a 4 s window; at load 100 a child busy a tenth of the time 1.4 %), while a waiter under load also sits on the run
  queue for half the window or more but runs 7-40 us a wake-up, a worker 500-2,500 us. The kernel adds a wait to
  `schedstat` when the thread gets its CPU, so a window must be long beside the gaps a load leaves (4 s windows
  misjudged 3 of 34 of a `SCHED_IDLE` child's; 8 s none of 24; the default is 600 s);
- or the processes moved `MOVED_PER_S` through a device (`read_bytes` + `write_bytes`) or a TCP socket (`tcp_info`'s
  bytes acked + received, by socket inode, from netlink `sock_diag`). A download costs next to no CPU (s3fs at
  0.25 MiB/s from SeaweedFS: 0.4 % of a core, its bytes counted 190-245 KiB/s), and a socket's bytes are not in
  `rchar`; `rchar`/`wchar` are not counted: eidata's sentinel and Ray read /proc every half second (30-60 KiB/s here,
  more with more processes on the machine), and a read from the page cache costs CPU that counts anyway.

Measured (`benchmarks/stall_progress.py`; benchmarks/COMMAND_SURFACE.md "The no-progress bound", the commands):
planted hangs trip in every window after their start, an idle embedded Ray (driver and tasks hung) 0.5-0.8 % and
1-6 KiB/s; `catalog`, `curate`, `report`, `export --dry-run`, `ingest` and the demo never trip, the busiest thread of
their slowest 4 s window 6-62 % at loads 5-60 but the report's 1.5 % at load 40 (the starved rule's case). A store
trickling under 64 KiB/s to a command that does nothing else for the whole window trips (s3fs at 0.05 MiB/s).
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
from pathlib import Path
from typing import NamedTuple

SHARE = 0.02  # work: one thread used this share of one core over the window,
READY = 0.5  # or one thread was on a CPU or waiting for one this share of the window (a worker starved by load)
SLICE_S = 100e-6  # running this long on average each time it got a CPU (a waiter wakes for 7-40 us)
MOVED_PER_S = 64 << 10  # or the processes moved this many bytes a second through a device or a TCP socket
_TICK = os.sysconf("SC_CLK_TCK")
_SOCK_DIAG, _BY_FAMILY, _DONE, _ERROR = 4, 20, 3, 2  # NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY, NLMSG_DONE, NLMSG_ERROR
_TCP_INFO = 2  # INET_DIAG_INFO: the attribute holding `struct tcp_info`


class Work(NamedTuple):
    """What the command's processes had done at one moment."""

    cpu: dict[tuple[int, int], float]  # (pid, tid): a live thread's seconds; (pid, 0): ended threads' and children's
    ready: dict[tuple[int, int], tuple[float, int]]  # (pid, tid): seconds on or waiting for a CPU, times it got one
    moved: dict[tuple[int, int], int]  # (pid, 0): bytes through a device; (pid, inode): through the TCP socket inode


def sample(pids: list[int]) -> Work:
    """`pids` (the command's processes), thread by thread (`/proc/<pid>/task/<tid>/schedstat`, ns), with this
    process's reaped children (orphans adopted as subreaper); this process's own threads are not the command's."""
    cpu: dict[tuple[int, int], float] = {}
    ready: dict[tuple[int, int], tuple[float, int]] = {}
    moved: dict[tuple[int, int], int] = {}
    tcp, me = _tcp_bytes(), os.getpid()
    for pid in [me, *pids]:
        with contextlib.suppress(OSError, ValueError, IndexError, KeyError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            if pid == me:
                cpu[pid, 0] = (int(fields[13]) + int(fields[14])) / _TICK
                continue
            live = 0.0
            for task in Path(f"/proc/{pid}/task").iterdir():
                with contextlib.suppress(OSError, ValueError):
                    run, wait, slices = map(int, (task / "schedstat").read_text().split())  # ns, ns, count
                    cpu[pid, int(task.name)] = run / 1e9
                    ready[pid, int(task.name)] = (run + wait) / 1e9, slices
                    live += run / 1e9
            cpu[pid, 0] = max(sum(int(f) for f in fields[11:15]) / _TICK - live, 0.0)
            io = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
            moved[pid, 0] = int(io["read_bytes"]) + int(io["write_bytes"])
            if tcp:
                for inode in _sockets(pid):
                    if inode in tcp:
                        moved[pid, inode] = tcp[inode]
    return Work(cpu, ready, moved)


def busiest(old: Work, new: Work) -> tuple[float, tuple[int, int]]:
    """The most CPU seconds one thread (or one process's ended threads) used from `old` to `new`, and which."""
    used, key = max(((cpu - old.cpu.get(key, 0.0), key) for key, cpu in new.cpu.items()), default=(0.0, (0, 0)))
    return max(used, 0.0), key


def starved(old: Work, new: Work, span_s: float) -> bool:
    """Whether a thread wanted a CPU `READY` of the `span_s` seconds from `old` to `new`, running `SLICE_S` each time
    it got one: a worker the machine's load starves (2 cores at load 100 gave one 1.4 % of a core)."""
    for key, (wanted, slices) in new.ready.items():
        was, before = old.ready.get(key, (0.0, 0))
        ran = new.cpu[key] - old.cpu.get(key, 0.0)
        if wanted - was >= READY * span_s and ran >= SLICE_S * max(slices - before, 1):
            return True
    return False


def moved(old: Work, new: Work) -> int:
    """The bytes moved from `old` to `new` by what is still there at `new` (what ended took its counts with it)."""
    return sum(max(done - old.moved.get(key, 0), 0) for key, done in new.moved.items())


def working(old: Work, new: Work, span_s: float) -> bool:
    """Whether the command worked over the `span_s` seconds from `old` to `new`: one thread busy `SHARE` of them or
    starved, or `MOVED_PER_S` bytes a second moved."""
    return (
        busiest(old, new)[0] >= SHARE * span_s or moved(old, new) >= MOVED_PER_S * span_s or starved(old, new, span_s)
    )


def _sockets(pid: int) -> list[int]:
    """The socket inodes `pid` holds open."""
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
            if link.startswith("socket:["):
                out.append(int(link[8:-1]))
    return out


def _tcp_bytes() -> dict[int, int]:
    """Every TCP socket's bytes acknowledged plus received (`tcp_info`), by inode, from the kernel's socket
    diagnostics (netlink `sock_diag`); none where it cannot be read."""
    out: dict[int, int] = {}
    with contextlib.suppress(OSError), socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _SOCK_DIAG) as nl:
        for family in (socket.AF_INET, socket.AF_INET6):
            # inet_diag_req_v2: family, TCP, the tcp_info attribute asked for, every state, any socket
            request = struct.pack("=BBBxI48x", family, socket.IPPROTO_TCP, 1 << (_TCP_INFO - 1), 0xFFFFFFFF)
            nl.send(struct.pack("=IHHII", 16 + len(request), _BY_FAMILY, 0x301, 1, 0) + request)  # REQUEST | DUMP
            while not _read_dump(nl.recv(1 << 16), out):
                pass
    return out


def _read_dump(data: bytes, out: dict[int, int]) -> bool:
    """The sockets of one netlink reply into `out`; True once the dump has ended."""
    at = 0
    while at + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, at)
        if kind in (_DONE, _ERROR) or length < 16:
            return True
        inode = struct.unpack_from("=I", data, at + 16 + 68)[0]  # inet_diag_msg's idiag_inode
        attr = at + 16 + 72
        while attr + 4 <= at + length:
            size, kind = struct.unpack_from("=HH", data, attr)
            if size < 4:
                break
            if kind == _TCP_INFO and size >= 4 + 136:  # tcpi_bytes_acked at 120, tcpi_bytes_received at 128
                acked, received = struct.unpack_from("=QQ", data, attr + 4 + 120)
                out[inode] = acked + received
            attr += (size + 3) & ~3
        at += (length + 3) & ~3
    return False
