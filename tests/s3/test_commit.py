"""The commit protocol against a real S3 server (DESIGN.md 3.2): a writer SIGKILLed at each point, rerun, leaves the
objects byte for byte as an uninterrupted run; a second job on a leased output is refused; conditional create races."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from adapters.storage.commit_log import CommitConflictError, CommitLog
from adapters.storage.lease import Lease
from adapters.storage.objects import list_keys, put_if_absent
from adapters.storage.root import Root
from adapters.storage.urls import filesystem
from schemas.storage import OutputLeasedError
from tests.s3.server import S3Server, child_env, run_child

REPO = Path(__file__).resolve().parents[2]
TTL = 2.0


def run_writer(s3: S3Server, url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run_child(s3, "tests.s3.writer_child", url, "--ttl", str(TTL), *args, check=check, timeout=120)


def snapshot(s3: S3Server, key_prefix: str) -> dict[str, bytes]:
    fs, _ = filesystem("s3://", s3.options())
    return {k.removeprefix(key_prefix): fs.cat_file(k) for k in list_keys(fs, key_prefix)}


@pytest.fixture(scope="module")
def reference(s3: S3Server) -> dict[str, bytes]:
    run_writer(s3, "s3://out/reference")
    snap = snapshot(s3, "out/reference")
    assert len([k for k in snap if k.startswith("/data/")]) == 4 and "/meta/info.json" in snap
    assert not [k for k in snap if "/.eidata/staging/" in k or "/.eidata/lease/" in k], sorted(snap)
    return snap


# each point costs a writer start, a kill, the lease's ttl and a rerun (about 8 s here): three in `make test`, all with
# --runslow
KILLS = ["recorded:1", "applied:1", "meta:2"]
SLOW_KILLS = ["lease", "staged:0", "staged:2", "applied:3", "meta:3"]


@pytest.mark.parametrize("kill", [*KILLS, *(pytest.param(k, marks=pytest.mark.slow) for k in SLOW_KILLS)])
def test_sigkill_then_rerun_is_byte_identical(
    s3: S3Server, reference: dict[str, bytes], prefix: str, kill: str
) -> None:
    url = f"s3://out/{prefix}"
    killed = run_writer(s3, url, "--kill", kill, check=False)
    assert killed.returncode == -9, killed.stderr[-3000:]
    after_kill = snapshot(s3, f"out/{prefix}")
    assert after_kill != reference  # the kill did cut the run short
    run_writer(s3, url, "--wait", str(4 * TTL))  # the killed job's lease goes stale, the rerun takes over
    assert snapshot(s3, f"out/{prefix}") == reference


def test_second_job_on_one_output_is_refused(s3: S3Server, prefix: str) -> None:
    env = child_env(s3)
    cmd = [sys.executable, "-m", "tests.s3.writer_child", f"s3://out/{prefix}", "--ttl", "30", "--kill", "hold"]
    holder = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        root = Root(f"s3://out/{prefix}", s3.options())
        with pytest.raises(OutputLeasedError, match=rf"job 'crash-test' .*pid {holder.pid}"):
            Lease(root, job="second").acquire()
    finally:
        holder.kill()
        holder.wait()


def test_stale_lease_is_taken_over_and_released(s3: S3Server, prefix: str) -> None:
    root = Root(f"s3://out/{prefix}", s3.options())
    fs, out = root.fs, root.path
    # the holder's ttl decides staleness: 4 s, so the live check cannot race a loaded machine (1 s did at load 50)
    first = Lease(root, job="first", ttl_s=4.0).acquire()
    first._stop.set()  # the holder stops heartbeating, as a SIGKILLed one does
    with pytest.raises(OutputLeasedError):
        Lease(root, job="second", ttl_s=1.0).acquire()
    time.sleep(4.5)
    with Lease(root, job="second", ttl_s=1.0).acquire() as second:
        assert second.key is not None and second.key.endswith("000000000002.json")
    assert list_keys(fs, f"{out}/.eidata/lease") == []  # the release removes the dead holder's generation too


def test_put_if_absent_one_winner_among_racers(s3: S3Server, prefix: str) -> None:
    fs, _ = filesystem("s3://", s3.options())
    key = f"out/{prefix}/record.json"
    with ThreadPoolExecutor(8) as pool:
        won = list(pool.map(lambda i: put_if_absent(fs, key, f"{i}".encode()), range(8)))
    assert won.count(True) == 1
    assert fs.cat_file(key) == str(won.index(True)).encode()


def test_commit_conflict_when_another_writer_committed(s3: S3Server, prefix: str) -> None:
    root = Root(f"s3://out/{prefix}", s3.options())
    fs, out = root.fs, root.path
    a, b = CommitLog(root), CommitLog(root)
    assert a.records() == b.records() == []
    a.commit("g0", {"x.bin": a.stage("x.bin", b"aa")})
    with pytest.raises(CommitConflictError, match=r"000000000001\.json exists"):
        b.commit("g1", {"y.bin": b.stage("y.bin", b"bb")})
    assert a.committed_keys() == {f"{out}/x.bin"}
    assert b.recover() == [f"{out}/.eidata/staging/y.bin"]  # b's staged object was never committed: garbage
    assert fs.cat_file(f"{out}/x.bin") == b"aa" and not fs.exists(f"{out}/y.bin")
