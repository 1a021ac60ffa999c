"""The commit log on a local output (the same protocol as on S3; tests/s3/test_commit.py runs it against a real
server and SIGKILLs the writer): a record commits its group or nothing, a second writer's conditional put is refused,
recovery finishes the last record and removes what was never committed, and a damaged log is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.storage.commit_log import COMMITS_DIR, STAGING_DIR, CommitConflictError, CommitLog, CommitRecord
from adapters.storage.lease import Lease
from adapters.storage.objects import list_keys, put_if_absent
from adapters.storage.root import Root
from adapters.storage.urls import filesystem
from schemas.storage import OutputLeasedError


def test_local_output_takes_the_same_protocol(tmp_path: Path) -> None:
    fs, out = filesystem(str(tmp_path / "ds"))
    with Lease(Root(out), job="local").acquire():
        log = CommitLog(Root(out))
        log.commit("g0", {"a/b.bin": log.stage("a/b.bin", b"xyz")})
        with pytest.raises(OutputLeasedError):
            Lease(Root(out), job="other").acquire()
    assert (tmp_path / "ds" / "a" / "b.bin").read_bytes() == b"xyz"
    assert list_keys(fs, f"{out}/.eidata/staging") == []


def test_a_second_writer_is_refused_then_commits_after_it_reads_again(tmp_path: Path) -> None:
    out = Root(tmp_path / "ds").path
    a, b = CommitLog(Root(out)), CommitLog(Root(out))
    assert a.records() == b.records() == []  # both believe they write record 1
    a.commit("ep/0", {"data/0.parquet": a.stage("data/0.parquet", b"A")})
    staged_b = b.stage("data/1.parquet", b"B")
    with pytest.raises(CommitConflictError, match=r"000000000001\.json exists: another writer committed"):
        b.commit("ep/1", {"data/1.parquet": staged_b})
    assert {r.group for r in CommitLog(Root(out)).records()} == {"ep/0"}  # the refused record changed nothing
    assert not (tmp_path / "ds" / "data" / "1.parquet").exists()
    record = b.commit("ep/1", {"data/1.parquet": staged_b})  # the conflict dropped b's stale view
    assert record.seq == 2
    assert CommitLog(Root(out)).committed_keys() == {f"{out}/data/0.parquet", f"{out}/data/1.parquet"}


def test_recover_finishes_the_last_record_and_deletes_uncommitted_objects(tmp_path: Path) -> None:
    fs, out = filesystem(str(tmp_path / "ds"))
    killed = CommitLog(Root(out))
    objects = {rel: killed.stage(rel, rel.encode()) for rel in ("data/0.parquet", "videos/0.mp4")}
    killed.stage("data/9.parquet", b"never committed")
    record = CommitRecord(seq=1, group="ep/0", objects=objects)
    assert put_if_absent(fs, f"{out}/{COMMITS_DIR}/{1:012d}.json", record.to_bytes())  # killed before apply
    garbage = CommitLog(Root(out)).recover()
    assert garbage == [f"{out}/{STAGING_DIR}/data/9.parquet"]
    assert (tmp_path / "ds" / "videos" / "0.mp4").read_bytes() == b"videos/0.mp4"
    assert list_keys(fs, f"{out}/{STAGING_DIR}") == [] and not (tmp_path / "ds" / "data" / "9.parquet").exists()
    assert CommitLog(Root(out)).recover() == []  # applying again is a no-op


def test_a_staged_object_of_the_wrong_size_is_not_applied(tmp_path: Path) -> None:
    out = Root(tmp_path / "ds").path
    log = CommitLog(Root(out))
    log.stage("a.bin", b"abc")
    with pytest.raises(RuntimeError, match=r"staging/a\.bin: 3 bytes staged, record 1 says 4"):
        log.commit("g", {"a.bin": {"size": 4, "sha256": "0" * 64}})
    assert not (tmp_path / "ds" / "a.bin").exists()
    with pytest.raises(RuntimeError, match="committed in record 2 but neither staged nor in place"):
        log.apply(CommitRecord(seq=2, group="h", objects={"b.bin": {"size": 1, "sha256": ""}}))


def test_a_gap_in_the_records_is_refused(tmp_path: Path) -> None:
    fs, out = filesystem(str(tmp_path / "ds"))
    for seq in (1, 3):
        put_if_absent(fs, f"{out}/{COMMITS_DIR}/{seq:012d}.json", CommitRecord(seq, f"g{seq}", {}).to_bytes())
    with pytest.raises(RuntimeError, match=r"commit records are not contiguous at 2 \(found 3\)"):
        CommitLog(Root(out)).records()


def test_record_bytes_are_canonical_and_round_trip() -> None:
    a = CommitRecord(1, "ep/0", {"b": {"size": 1, "sha256": "x"}, "a": {"size": 2, "sha256": "y"}}, {"n": 1})
    b = CommitRecord(1, "ep/0", {"a": {"sha256": "y", "size": 2}, "b": {"sha256": "x", "size": 1}}, {"n": 1})
    assert a.to_bytes() == b.to_bytes() and a.to_bytes().endswith(b"\n")
    assert CommitRecord.from_bytes(a.to_bytes()) == a
    assert CommitRecord.from_bytes(b'{"seq": 2, "group": "g", "objects": {}}').meta == {}
