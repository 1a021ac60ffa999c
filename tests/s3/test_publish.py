"""Ingest's exactly-once promise on a bucket (DESIGN.md 3.2, `adapters.storage.publish`) against a real S3 server: the
local writer publishing through commit records writes the objects a local run writes, byte for byte; a job SIGKILLed
at each point of the protocol, rerun (on the same scratch folder or a fresh one, as on another machine), leaves the
objects of an uninterrupted run; a second job on the output is refused while the first holds it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from adapters.storage.lease import Lease
from adapters.storage.objects import list_keys
from adapters.storage.root import Root
from adapters.storage.urls import filesystem
from schemas.storage import OutputLeasedError
from tests.s3.publish_child import DATASET, LENGTHS
from tests.s3.server import S3Server, child_env, run_child
from tests.s3.test_commit import snapshot

REPO = Path(__file__).resolve().parents[2]
TTL = 2.0


def run_job(s3: S3Server, output: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run_child(s3, "tests.s3.publish_child", output, "--ttl", str(TTL), *args, check=check)


def local_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def visible(snap: dict[str, bytes]) -> dict[str, bytes]:
    """What a dataset reader sees: everything but the protocol's own `.eidata/` folder."""
    return {k: v for k, v in snap.items() if not k.startswith(".eidata/")}


@pytest.fixture(scope="module")
def reference(s3: S3Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """An uninterrupted bucket run; checked here against a local run of the same corpus."""
    tmp = tmp_path_factory.mktemp("publish-reference")
    run_job(s3, str(tmp / "local"), "--local")
    local = visible(local_files(tmp / "local" / DATASET))
    run_job(s3, "s3://out/publish-reference", "--scratch", str(tmp / "scratch"))
    snap = snapshot(s3, f"out/publish-reference/{DATASET}/")
    n = len(LENGTHS)
    assert len([k for k in snap if k.endswith(".mp4")]) == 2 * n and len([k for k in snap if "/commits/" in k]) == n
    assert visible(snap) == local  # the bucket holds the local run's files, byte for byte, and nothing else
    assert not [k for k in snap if k.startswith((".eidata/staging/", ".eidata/lease/"))]
    assert not [p for p in (tmp / "scratch").rglob("*") if p.suffix in (".parquet", ".mp4")]  # scratch: meta only
    return snap


# each point costs a job start, a kill, the lease's ttl and a rerun (10-20 s here): three in `make test`, the rest
# with --runslow; "fresh" reruns on an empty scratch folder, as a rerun on another machine does
KILLS = ["object:1", "record:2/fresh", "meta"]
SLOW_KILLS = ["lease", "stage:0", "stage:2/fresh", "local:1", "local:3/fresh", "object:0/fresh", "record:0", "record:3"]


@pytest.mark.parametrize("kill", [*KILLS, *(pytest.param(k, marks=pytest.mark.slow) for k in SLOW_KILLS)])
def test_sigkill_then_rerun_is_byte_identical(
    s3: S3Server, reference: dict[str, bytes], prefix: str, kill: str, tmp_path: Path
) -> None:
    point, _, where = kill.partition("/")
    url = f"s3://out/{prefix}"
    killed = run_job(s3, url, "--scratch", str(tmp_path / "scratch"), "--kill", point, check=False)
    assert killed.returncode == -9, killed.stderr[-3000:]
    assert snapshot(s3, f"out/{prefix}/{DATASET}/") != reference  # the kill did cut the job short
    rerun_scratch = tmp_path / ("fresh" if where == "fresh" else "scratch")
    run_job(s3, url, "--scratch", str(rerun_scratch), "--wait", str(4 * TTL))  # the dead job's lease goes stale
    assert snapshot(s3, f"out/{prefix}/{DATASET}/") == reference
    fs, _ = filesystem("s3://", s3.options())
    assert list_keys(fs, f"out/{prefix}/.eidata/lease") == []  # released


def test_finished_job_rerun_writes_nothing(s3: S3Server, reference: dict[str, bytes], tmp_path: Path) -> None:
    fs, _ = filesystem("s3://", s3.options())
    keys = list_keys(fs, f"out/publish-reference/{DATASET}")
    before = {k: fs.info(k)["LastModified"] for k in keys}
    run_job(s3, "s3://out/publish-reference", "--scratch", str(tmp_path / "other-machine"))
    fs.invalidate_cache()
    assert list_keys(fs, f"out/publish-reference/{DATASET}") == keys
    after = {k: fs.info(k)["LastModified"] for k in keys}
    assert after == before  # no object rewritten (meta equal to the records' is left alone)


def test_second_job_on_one_output_is_refused(s3: S3Server, prefix: str, tmp_path: Path) -> None:
    env = child_env(s3)
    url = f"s3://out/{prefix}"
    cmd = [sys.executable, "-m", "tests.s3.publish_child", url, "--scratch", str(tmp_path / "a"), "--ttl", "30"]
    holder = subprocess.Popen([*cmd, "--kill", "hold"], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        second = run_job(s3, url, "--scratch", str(tmp_path / "b"), check=False)
        assert second.returncode != 0
        assert "job 'publish-test' (host" in second.stderr and f"pid {holder.pid}" in second.stderr
        assert "OutputLeasedError" in second.stderr
        root = Root(url, s3.options())
        fs, out = root.fs, root.path
        with pytest.raises(OutputLeasedError):
            Lease(root, job="third").acquire()
        assert list_keys(fs, f"{out}/{DATASET}") == []  # the refused job wrote nothing
    finally:
        holder.kill()
        holder.wait()
