"""One job per output, on a local output: a live lease refuses a second job naming the holder, a stale one (its
holder killed) is taken over by the next generation, the holder's heartbeat keeps it live, release removes it."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from adapters.storage.urls import filesystem
from ingest.storage.lease import LEASE_DIR, Lease, OutputLeasedError
from ingest.storage.objects import list_keys, put_if_absent


def _killed_holder(out: str, fs: object, ttl_s: float, age_s: float, generation: int = 1) -> Path:
    """A lease left by a SIGKILLed job: its object written `age_s` ago, never heartbeated since."""
    key = f"{out}/{LEASE_DIR}/{generation:012d}.json"
    body = {"job": "ingest", "host": "node-7", "pid": 4242, "ttl_s": ttl_s}
    assert put_if_absent(fs, key, json.dumps(body).encode())
    then = time.time() - age_s
    os.utime(key, (then, then))
    return Path(key)


def test_a_live_lease_refuses_a_second_job_naming_the_holder(tmp_path: Path) -> None:
    fs, out = filesystem(str(tmp_path / "ds"))
    _killed_holder(out, fs, ttl_s=300.0, age_s=5.0)
    with pytest.raises(OutputLeasedError, match=r"job 'ingest' \(host node-7, pid 4242; lease heartbeat 5 s ago"):
        Lease(fs, out, job="export").acquire()


def test_a_stale_lease_is_taken_over_by_the_next_generation(tmp_path: Path) -> None:
    fs, out = filesystem(str(tmp_path / "ds"))
    _killed_holder(out, fs, ttl_s=30.0, age_s=60.0)
    lease = Lease(fs, out, job="rerun").acquire()
    try:
        assert lease.key == f"{out}/{LEASE_DIR}/{2:012d}.json"
        holder = json.loads(Path(lease.key).read_text())
        assert (holder["job"], holder["pid"]) == ("rerun", os.getpid())
    finally:
        lease.release()
    assert list_keys(fs, f"{out}/{LEASE_DIR}") == []  # both generations gone with the release


def test_the_heartbeat_keeps_the_lease_live(tmp_path: Path) -> None:
    fs, out = filesystem(str(tmp_path / "ds"))
    with Lease(fs, out, job="ingest", ttl_s=0.6) as lease:
        assert lease.key is not None
        first = os.stat(lease.key).st_mtime
        time.sleep(1.0)  # beats every ttl/3
        assert os.stat(lease.key).st_mtime > first
        with pytest.raises(OutputLeasedError):  # older than the ttl since it was taken, yet live
            Lease(fs, out, job="other", ttl_s=0.6).acquire()


def test_acquire_waits_for_a_release(tmp_path: Path) -> None:
    fs, out = filesystem(str(tmp_path / "ds"))
    first = Lease(fs, out, job="first", ttl_s=60.0).acquire()
    threading.Timer(0.3, first.release).start()
    t0 = time.monotonic()
    with Lease(fs, out, job="second", ttl_s=60.0).acquire(wait_s=30.0) as second:
        assert time.monotonic() - t0 >= 0.3
        assert second.key == f"{out}/{LEASE_DIR}/{1:012d}.json"  # released: generations start again
