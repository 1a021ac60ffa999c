"""One job per output on an object store: a lease object created with a conditional put.

`<output>/.eidata/lease/<generation>.json` (generation zero-padded). The holder is whoever created the highest
generation; it rewrites that object as a heartbeat while it works (every ttl/3), and deletes its generations when it
releases. Another job finding a live lease is refused (`OutputLeasedError`, naming the holder's job, host and pid). A
lease whose heartbeat is older than its ttl (the holder was SIGKILLed, its machine lost) is taken over by creating the
next generation, again conditionally, so of two jobs taking over one wins. Age is the store's LastModified against this
machine's clock: the ttl must exceed the clock skew (minutes are the usual ttl; tests use seconds).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from datetime import datetime

import fsspec

from ingest.storage.objects import list_keys, put, put_if_absent

LEASE_DIR = ".eidata/lease"
log = logging.getLogger(__name__)


class OutputLeasedError(RuntimeError):
    """Another job holds the output's lease."""


def _generation(key: str) -> int | None:
    name = key.rsplit("/", 1)[-1]
    stem = name.removesuffix(".json")
    return int(stem) if stem.isdigit() and name.endswith(".json") else None


def _modified_s(info: dict) -> float:
    m = info.get("LastModified") or info.get("mtime") or info.get("created")
    if isinstance(m, datetime):
        return m.timestamp()
    return float(m)


class Lease:
    """`with Lease(fs, output, job="ingest"): ...`: held for the block, heartbeated by a daemon thread."""

    def __init__(self, fs: fsspec.AbstractFileSystem, output: str, job: str, ttl_s: float = 300.0) -> None:
        self.fs, self.output, self.job, self.ttl_s = fs, output.rstrip("/"), job, ttl_s
        self.key: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def folder(self) -> str:
        return f"{self.output}/{LEASE_DIR}"

    def _body(self) -> bytes:
        holder = {"job": self.job, "host": socket.gethostname(), "pid": os.getpid(), "ttl_s": self.ttl_s}
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
            gens = sorted(g for k in list_keys(self.fs, self.folder) if (g := _generation(k)) is not None)
            if gens:
                top = f"{self.folder}/{gens[-1]:012d}.json"
                self._refuse_if_live(top)
            nxt = (gens[-1] + 1) if gens else 1
            key = f"{self.folder}/{nxt:012d}.json"
            if put_if_absent(self.fs, key, self._body()):
                self.key = key
                self._thread = threading.Thread(target=self._beat, name="eidata-lease", daemon=True)
                self._thread.start()
                return self
        raise OutputLeasedError(f"{self.output}: lost every race for the lease; another job is starting on it")

    def _refuse_if_live(self, key: str) -> None:
        try:
            self.fs.invalidate_cache(key)
            info = self.fs.info(key)
            holder = json.loads(self.fs.cat_file(key))
        except FileNotFoundError:
            return  # released meanwhile
        age = time.time() - _modified_s(info)
        ttl = float(holder.get("ttl_s", self.ttl_s))
        if age < ttl:
            raise OutputLeasedError(
                f"{self.output} is being written by job {holder.get('job')!r} (host {holder.get('host')}, pid "
                f"{holder.get('pid')}; lease heartbeat {age:.0f} s ago, stale after {ttl:.0f} s): one job per output"
            )

    def _beat(self) -> None:
        while not self._stop.wait(self.ttl_s / 3):
            if self.key is None:
                continue
            try:
                put(self.fs, self.key, self._body())
            except OSError as e:  # one failed beat is not a lost lease: the ttl spans three beats
                log.warning("lease heartbeat on %s failed: %s", self.key, e)

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        for k in list_keys(self.fs, self.folder):
            if _generation(k) is not None and self.key is not None and _generation(k) <= _generation(self.key):
                self.fs.rm_file(k)
        self.key = None

    def __enter__(self) -> Lease:
        return self if self.key is not None else self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
