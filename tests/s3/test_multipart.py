"""Objects put in parts (adapters/storage/multipart.py) against a real S3 server, with S3's smallest part (5 MiB) so
that a few MiB make several parts: SeaweedFS refuses a second conditional completion of a key (racing completions it
does not refuse, hence the claim: adapters/storage/multipart.py), racing writers of a key complete it once, a multipart
object is the file byte for byte, a second writer of a published key loses cleanly, and a publisher SIGKILLed between
parts or after a completion, rerun, leaves the objects of an uninterrupted run and no incomplete upload."""

from __future__ import annotations

import random
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import fsspec
import pytest

from adapters.storage import multipart
from adapters.storage.commit_log import CommitConflictError, digest_of
from adapters.storage.multipart import PartPlan, holds, incomplete_uploads, put_file_if_absent
from adapters.storage.objects import exists, list_keys, put
from adapters.storage.publish import DatasetPublisher, PublishError
from adapters.storage.root import Root
from adapters.storage.urls import filesystem
from tests.s3.multipart_child import DATASET, EPISODES, PLAN, payload, rels, write_episode
from tests.s3.server import S3Server, run_child
from tests.s3.test_commit import snapshot

PART = 5 << 20
TTL = 2.0


def random_file(path: Path, size: int, seed: str) -> bytes:
    data = random.Random(seed).randbytes(size)
    path.write_bytes(data)
    return data


def complete(fs: fsspec.AbstractFileSystem, key: str, data: bytes) -> bool | None:
    """One upload of `data` in 5 MiB parts, completed with If-None-Match: * (no claim): True created, False refused
    (412), None raced (409); an upload not completed is aborted."""
    bucket, name = key.split("/", 1)
    upload = fs.call_s3("create_multipart_upload", Bucket=bucket, Key=name)["UploadId"]
    chunks = [data[offset : offset + PART] for offset in range(0, len(data), PART)]
    parts = [multipart._send_part(fs, bucket, name, upload, n, body) for n, body in enumerate(chunks, start=1)]
    created = multipart._complete(fs, bucket, name, upload, parts)
    if created is not True:
        multipart._abort(fs, bucket, name, upload, quiet=False)
    return created


def test_seaweedfs_refuses_a_second_conditional_completion(s3: S3Server, prefix: str) -> None:
    """SeaweedFS applies If-None-Match at a completion after another (412, the first's bytes stay), as AWS does."""
    fs, _ = filesystem("s3://", s3.options())
    key = f"out/{prefix}/videos/episode_000000.mp4"
    first, second = random.Random(1).randbytes(PART + 10), random.Random(2).randbytes(PART + 20)
    assert complete(fs, key, first) is True
    assert complete(fs, key, second) is False  # 412 PreconditionFailed
    fs.invalidate_cache()
    assert fs.cat_file(key) == first
    assert incomplete_uploads(fs, f"out/{prefix}") == []


def race(
    fs: fsspec.AbstractFileSystem, key: str, paths: list[Path], plan: PartPlan
) -> tuple[list[bool], list[bool | None]]:
    """`put_file_if_absent` of each file to `key` at once, each held, parts uploaded, until all are ready to claim the
    key; returns what each put returned and what each completion answered (True created, False 412, None 409)."""
    arrived, lock, go = [0], threading.Lock(), threading.Event()
    real_claimed, real_complete = multipart._claimed, multipart._complete
    answers: list[bool | None] = []

    def claim_together(*args):  # type: ignore[no-untyped-def]
        with lock:
            arrived[0] += 1
            if arrived[0] == len(paths):
                go.set()
        go.wait(timeout=60)  # a claim after a 409's new upload goes straight through
        return real_claimed(*args)

    def complete_counted(*args):  # type: ignore[no-untyped-def]
        answers.append(real_complete(*args))
        return answers[-1]

    multipart._claimed, multipart._complete = claim_together, complete_counted  # type: ignore[assignment]
    try:
        with ThreadPoolExecutor(len(paths)) as pool:
            claims = [f"out/claims/{key}"] * len(paths)
            won = list(pool.map(lambda p, c: put_file_if_absent(fs, key, p, plan, claim=c)[0], paths, claims))
            return won, answers
    finally:
        multipart._claimed, multipart._complete = real_claimed, real_complete  # type: ignore[assignment]


@pytest.mark.parametrize("same_bytes", [False, True])
def test_racing_writers_of_a_key_complete_it_once(s3: S3Server, prefix: str, tmp_path: Path, same_bytes: bool) -> None:
    """Three writers of one key, their parts uploaded, claim it at the same instant, three rounds. Of other bytes: one
    claims and completes, the others lose (False) without completing. Of the same bytes (a rerun racing a killed
    run's twin): they may all complete, and the object is those bytes. No upload is left either way."""
    fs, _ = filesystem("s3://", s3.options())
    plan, paths = PartPlan(threshold=PART, part_size=PART), [tmp_path / f"w{i}" for i in range(3)]
    files = [random_file(p, PART + 1000, "same" if same_bytes else p.name) for p in paths]
    for round_ in range(3):
        key = f"out/{prefix}/round-{round_}.mp4"
        won, answers = race(fs, key, paths, plan)
        if same_bytes:
            assert answers.count(True) >= 1 and fs.cat_file(key) == files[0], (won, answers)
        else:
            assert won.count(True) == 1 and answers == [True], (won, answers)
            assert fs.cat_file(key) == files[won.index(True)]  # the winner's bytes, whole
    assert incomplete_uploads(fs, f"out/{prefix}") == []


def test_a_multipart_object_is_the_file_byte_for_byte(s3: S3Server, prefix: str, tmp_path: Path) -> None:
    fs, _ = filesystem("s3://", s3.options())
    plan = PartPlan(threshold=PART, part_size=PART)
    data = random_file(tmp_path / "big.mp4", 3 * PART + 4321, "big")  # four parts, the last 4321 bytes
    assert [n for _, n in plan.parts(len(data))] == [PART, PART, PART, 4321]
    key, claim = f"out/{prefix}/videos/big.mp4", f"out/{prefix}/claims/videos/big.mp4"
    created, digest = put_file_if_absent(fs, key, tmp_path / "big.mp4", plan, claim=claim)
    assert created and digest == digest_of(data)
    fs.invalidate_cache()
    assert fs.cat_file(key) == data and holds(fs, key, digest)
    # the same file again: the key is taken, nothing changes, and the bytes there are ours
    assert put_file_if_absent(fs, key, tmp_path / "big.mp4", plan, claim=claim) == (False, digest)
    other = random_file(tmp_path / "other.mp4", len(data), "other")
    created, other_digest = put_file_if_absent(fs, key, tmp_path / "other.mp4", plan, claim=claim)
    assert not created and not holds(fs, key, other_digest) and fs.cat_file(key) == data != other
    assert incomplete_uploads(fs, f"out/{prefix}") == []


def test_a_second_writer_of_a_published_key_loses_cleanly(s3: S3Server, prefix: str, tmp_path: Path) -> None:
    """A key taken by another writer's bytes (its lease was not ours): the publisher stops naming the key, the other
    bytes stay, no record is written and no upload is left."""
    fs, out = filesystem(f"s3://out/{prefix}", s3.options())
    journal = write_episode(tmp_path / "scratch", 0)
    video = rels(0)[1]
    put(fs, f"{out}/{DATASET}/{video}", b"another writer's video " * 300_000)  # above the threshold: in parts for us
    pub = DatasetPublisher(Root(f"s3://{out}/{DATASET}", s3.options()), tmp_path / "scratch", parts=PLAN)
    with pytest.raises(CommitConflictError, match="another writer put other bytes here"):
        pub.on_commit(journal)
    with pytest.raises(PublishError, match="an earlier commit failed"):
        pub.on_commit(journal)
    assert pub.log.records(refresh=True) == []
    assert fs.cat_file(f"{out}/{DATASET}/{video}") == b"another writer's video " * 300_000
    assert incomplete_uploads(fs, out) == []


def run_job(s3: S3Server, url: str, scratch: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run_child(
        s3, "tests.s3.multipart_child", url, "--scratch", str(scratch), "--ttl", str(TTL), *args, check=check
    )


@pytest.fixture(scope="module")
def reference(s3: S3Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    tmp = tmp_path_factory.mktemp("multipart-reference")
    run_job(s3, "s3://out/multipart-reference", tmp / "scratch")
    snap = snapshot(s3, f"out/multipart-reference/{DATASET}/")
    for ep in range(EPISODES):
        for rel in rels(ep):
            assert snap[rel] == payload(ep, rel)  # the episode files, byte for byte
    assert len([k for k in snap if "/commits/" in k]) == EPISODES
    return snap


# a kill between parts in `make test`; after a completion (its key then deleted as any uncommitted one) with --runslow
@pytest.mark.parametrize("kill", ["part:1:2", pytest.param("complete:0", marks=pytest.mark.slow)])
def test_sigkill_in_a_multipart_put_then_rerun_is_byte_identical(
    s3: S3Server, reference: dict[str, bytes], prefix: str, kill: str, tmp_path: Path
) -> None:
    url = f"s3://out/{prefix}"
    killed = run_job(s3, url, tmp_path / "scratch", "--kill", kill, check=False)
    assert killed.returncode == -9, killed.stderr[-3000:]
    fs, out = filesystem(url, s3.options())
    left = incomplete_uploads(fs, out)
    if kill.startswith("part"):  # the killed upload is there, invisible, until the next job's recovery
        assert [k for k, _ in left] == [f"{out}/{DATASET}/{rels(1)[1]}"]
        assert f"{out}/{DATASET}/{rels(1)[1]}" not in list_keys(fs, out)
    else:  # completed, uncommitted: a final key no record names
        assert left == [] and exists(fs, f"{out}/{DATASET}/{rels(0)[1]}")
    assert snapshot(s3, f"out/{prefix}/{DATASET}/") != reference
    run_job(s3, url, tmp_path / "fresh", "--wait", str(4 * TTL))  # another machine, once the dead lease is stale
    assert snapshot(s3, f"out/{prefix}/{DATASET}/") == reference
    assert incomplete_uploads(fs, out) == []


def test_parts_held_by_a_process_are_bounded(s3: S3Server, prefix: str, tmp_path: Path) -> None:
    """Objects put at once (a committer puts an episode's files together) share the process's part slots: with two
    slots, at most two parts are read and in flight at any time, and every object is whole."""
    fs, _ = filesystem("s3://", s3.options())
    plan, paths = PartPlan(threshold=PART, part_size=PART), [tmp_path / f"cam{i}.mp4" for i in range(3)]
    files = [random_file(p, 2 * PART + 1, p.name) for p in paths]  # three parts each
    lock, now, most, real_send = threading.Lock(), [0], [0], multipart._send_part

    def send_counted(*args):  # type: ignore[no-untyped-def]
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
        try:
            return real_send(*args)
        finally:
            with lock:
                now[0] -= 1

    multipart._send_part, slots = send_counted, multipart._SLOTS  # type: ignore[assignment]
    multipart._SLOTS = threading.BoundedSemaphore(2)
    try:
        with ThreadPoolExecutor(3) as pool:
            keys = [f"out/{prefix}/{p.name}" for p in paths]
            claims = [f"out/{prefix}/claims/{p.name}" for p in paths]
            won = list(pool.map(lambda k, p, c: put_file_if_absent(fs, k, p, plan, claim=c)[0], keys, paths, claims))
    finally:
        multipart._send_part, multipart._SLOTS = real_send, slots  # type: ignore[assignment]
    assert won == [True] * 3 and most[0] == 2  # the bound held, and was reached
    assert [fs.cat_file(k) for k in keys] == files
