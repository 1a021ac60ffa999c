"""One job per output on an object store: a lease object created with a conditional put.

`<output>/.eidata/lease/<generation>.json`: the holder is whoever created the highest generation; it rewrites that
object as a heartbeat (every ttl/3) and deletes its generations when it releases. Another job finding a live lease is
refused (`OutputLeasedError`, naming the holder's job, host and pid). A lease whose heartbeat is older than its ttl
(the holder SIGKILLed, its machine lost) is taken over by creating the next generation, again conditionally, so of two
jobs taking over one wins. Age is the store's LastModified against this machine's clock: the ttl must exceed the
clock skew (minutes are the usual ttl; tests use seconds).

A holder that is provably dead is taken over at once, as the local job lock's flock is (issue 38 item 2): a job on the
holder's host (same name, boot id and pid namespace, so the pid means the same process) finds that pid gone, a zombie,
or another process now (`dead_here`). Any other holder, or a lease without these fields, waits out its ttl. A release
whose delete fails because the store does not answer is logged, not raised; each lease carries a token, and a later
job of the same process takes a lease this process released over at once.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from datetime import datetime
from typing import cast

from adapters.storage.root import Root
from schemas.faults import environment_fault
from schemas.settings import current
from schemas.storage import OutputLeasedError

LEASE_DIR = ".eidata/lease"
log = logging.getLogger(__name__)
_RELEASED: set[str] = set()  # tokens of the leases this process released (their objects may outlive a failed delete)


def _generation(key: str) -> int | None:
    name = key.rsplit("/", 1)[-1]
    stem = name.removesuffix(".json")
    return int(stem) if stem.isdigit() and name.endswith(".json") else None


def _modified_s(info: dict) -> float:
    m = info.get("LastModified") or info.get("mtime") or info.get("created")
    return m.timestamp() if isinstance(m, datetime) else float(cast(float, m))


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat's fields after the command name (which may hold spaces): [state, ppid, ...]; None if none."""
    text = _read(f"/proc/{pid}/stat")
    return text[text.rindex(")") + 2 :].split() if text and ")" in text else None


def process_identity(pid: int) -> dict[str, str]:
    """What makes `pid` one process of one machine (Linux): the boot id, the pid namespace and the pid's start time
    (clock ticks after boot, /proc/<pid>/stat field 22); empty where /proc does not say."""
    boot, stat = _read("/proc/sys/kernel/random/boot_id"), _stat(pid)
    try:
        pidns = os.readlink("/proc/self/ns/pid")
    except OSError:
        pidns = None
    if not boot or not pidns or not stat:
        return {}
    return {"boot": boot, "pidns": pidns, "started": stat[19]}


def dead_here(holder: dict) -> str | None:
    """Why the lease's holder is certainly dead, when it ran on this host, in this boot and this pid namespace (so its
    pid means what it means here); None when it may be alive or cannot be checked from here."""
    pid, here = holder.get("pid"), process_identity(os.getpid())
    if holder.get("host") != socket.gethostname() or not here or not isinstance(pid, int):
        return None
    if pid == os.getpid() and holder.get("token") in _RELEASED:
        return "this process released it (its delete failed: the store did not answer)"
    if any(holder.get(k) != here[k] for k in ("boot", "pidns")) or not holder.get("started"):
        return None
    stat = _stat(pid)
    if stat is None:
        return f"its holder, pid {pid} on this host ({holder['host']}), is not running"
    if stat[0] in ("Z", "X"):
        return f"its holder, pid {pid} on this host ({holder['host']}), has exited (a zombie not yet reaped)"
    if stat[19] != holder["started"]:
        return f"pid {pid} on this host ({holder['host']}) is another process now (started at another time)"
    return None


class Lease:
    """`with Lease(root, job=...)`: the output at `root` held, heartbeated by a thread; `ttl_s`: the setting
    lease_ttl_s."""

    def __init__(self, root: Root, job: str, ttl_s: float | None = None) -> None:
        self.root, self.output, self.job = root, root.path, job
        self.ttl_s = current().lease_ttl_s if ttl_s is None else ttl_s
        self.key: str | None = None
        self.token = uuid.uuid4().hex  # this lease among those of its process (`dead_here`)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _body(self) -> bytes:
        holder = {"job": self.job, "host": socket.gethostname(), "pid": os.getpid(), "ttl_s": self.ttl_s}
        holder.update(process_identity(os.getpid()), token=self.token)
        return json.dumps(holder, sort_keys=True).encode()

    def acquire(self, wait_s: float = 0.0) -> Lease:
        """Take the lease; with `wait_s`, wait that long for a live holder to release it or go stale."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                return self._try_acquire()
            except OutputLeasedError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(min(1.0, self.ttl_s / 4))

    def _try_acquire(self) -> Lease:
        for _ in range(8):
            gens = sorted(g for k in self.root.keys(LEASE_DIR) if (g := _generation(k)) is not None)
            if gens:
                self._refuse_if_live(f"{LEASE_DIR}/{gens[-1]:012d}.json")
            nxt = (gens[-1] + 1) if gens else 1
            key = f"{LEASE_DIR}/{nxt:012d}.json"
            if self.root.create(key, self._body()):
                self.key = key
                self._thread = threading.Thread(target=self._beat, name="eidata-lease", daemon=True)
                self._thread.start()
                return self
        raise OutputLeasedError(f"{self.output}: lost every race for the lease; another job is starting on it")

    def _refuse_if_live(self, key: str) -> None:
        try:
            info = self.root.info(key)
            holder = json.loads(self.root.read(key))
        except FileNotFoundError:
            return  # released meanwhile
        age = time.time() - _modified_s(info)
        ttl = float(holder.get("ttl_s", self.ttl_s))
        if age < ttl:
            if (dead := dead_here(holder)) is not None:
                log.warning(
                    "%s: taking over the lease of job %r (heartbeat %.0f s ago): %s",
                    self.output,
                    holder.get("job"),
                    age,
                    dead,
                )
                return
            raise OutputLeasedError(
                f"{self.output} is being written by job {holder.get('job')!r} (host {holder.get('host')}, pid "
                f"{holder.get('pid')}; lease heartbeat {age:.0f} s ago, stale after {ttl:.0f} s): one job per output"
            )

    def _beat(self) -> None:
        while not self._stop.wait(self.ttl_s / 3):
            if self.key is None:
                continue
            try:
                self.root.put(self.key, self._body())
            except OSError as e:  # one failed beat is not a lost lease: the ttl spans three beats
                log.warning("lease heartbeat on %s failed: %s", self.root.key(self.key), e)

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        _RELEASED.add(self.token)
        try:
            for k in self.root.keys(LEASE_DIR):
                own = None if self.key is None else _generation(self.key)
                if (gen := _generation(k)) is not None and own is not None and gen <= own:
                    self.root.remove(k)
        except Exception as e:
            if (cause := environment_fault(e)) is None:
                raise
            log.warning(
                "%s: the lease was not deleted (%s): a job on this host takes it over at once",
                self.root.key(self.key or ""),
                cause,
            )
        self.key = None

    def __enter__(self) -> Lease:
        return self if self.key is not None else self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
