"""Objects too large for one PUT, still created exactly once: an S3 multipart upload behind a conditional claim
(DESIGN.md 3.2).

S3 refuses a single PUT above 5 GiB, and one request of hundreds of MB is slow and starts again from zero on any
error. A file above `StorageOptions.multipart_threshold` is put in parts instead: CreateMultipartUpload at its final
key, its parts (UploadPart, `concurrency` at once, each hashed in order as it is read), then
CompleteMultipartUpload with `If-None-Match: *`.

That header alone would be the conditional create on AWS (botocore's S3 model, CompleteMultipartUploadRequest.
IfNoneMatch: 412 when the key exists, 409 ConditionalRequestConflict on a racing write, after which the upload is
started again), but SeaweedFS 4.48 checks it before completing, not atomically: measured, of three completions released
at one instant all three succeeded in 3 rounds of 10, while racing conditional PutObjects had one winner in 10 of 10.
So the completion is preceded by a claim (a small key the caller names) created with a conditional PutObject holding
the file's size and sha256, and only a writer whose digest the claim holds completes the key: of racing writers of
other bytes exactly one completes; writers of the same bytes (a rerun after a kill) may all complete the same object.

An upload is invisible until its completion, so a writer killed between parts leaves only an incomplete upload, which
the next job's recovery aborts under the output's lease (`abort_uploads`). An upload that loses or fails is aborted.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import fsspec

from adapters.storage.atomic import undo_on_error
from adapters.storage.commit_log import CommitConflictError, digest_of
from adapters.storage.objects import conditional, is_s3, pages, put_if_absent, split_key
from schemas.storage import MAX_PART_BYTES, MIN_PART_BYTES, StorageOptions

MAX_PARTS = 10_000  # S3: part numbers 1 to 10,000 (docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html)
HASH_BLOCK = 8 << 20  # reading an object back to compare it
# parts one process holds at once, whatever number of objects it puts at once (a committer puts an episode's files
# together): each part is held about twice (the bytes read, the request's copy; benchmarks/multipart.py)
PROCESS_PARTS = 8
_SLOTS = threading.BoundedSemaphore(PROCESS_PARTS)


@dataclass(frozen=True)
class PartPlan:
    """When and how an object is put in parts. `threshold`: larger objects go in parts; `part_size`: bytes a part
    (raised where an object would need more than 10,000 parts); `concurrency`: its parts in flight at once."""

    threshold: int
    part_size: int
    concurrency: int = 4

    def __post_init__(self) -> None:
        if not MIN_PART_BYTES <= self.part_size <= MAX_PART_BYTES:
            raise ValueError(
                f"part_size {self.part_size}: S3 takes parts of {MIN_PART_BYTES} to {MAX_PART_BYTES} bytes"
            )
        if self.threshold > MAX_PART_BYTES or self.concurrency < 1:
            raise ValueError(f"threshold {self.threshold} above S3's single PUT or concurrency {self.concurrency} < 1")

    @classmethod
    def of(cls, options: StorageOptions | None) -> PartPlan:
        o = options or StorageOptions()
        return cls(o.multipart_threshold, o.multipart_part_size, o.multipart_concurrency)

    def in_parts(self, size: int) -> bool:
        return size > self.threshold

    def parts(self, size: int) -> list[tuple[int, int]]:
        """(offset, length) of each part of an object of `size` bytes, in order; all but the last `part_size` long."""
        step = max(self.part_size, -(-size // MAX_PARTS))
        if step > MAX_PART_BYTES:
            raise ValueError(f"{size} bytes: more than S3's {MAX_PARTS} parts of {MAX_PART_BYTES} bytes")
        return [(offset, min(step, size - offset)) for offset in range(0, size, step)] or [(0, 0)]


def put_file_if_absent(
    fs: fsspec.AbstractFileSystem, key: str, path: Path, plan: PartPlan, *, claim: str
) -> tuple[bool, dict]:
    """Create `key` with the local file `path`'s bytes if no object has that key: (True if this call created it, the
    digest). On S3 a file above `plan.threshold` goes in parts, completed only by the writer whose digest the object
    `claim` holds; any other file in one conditional PUT (`put_if_absent`), read whole."""
    size = Path(path).stat().st_size
    if not (is_s3(fs) and plan.in_parts(size)):
        data = Path(path).read_bytes()
        return put_if_absent(fs, key, data), digest_of(data)
    bucket, name = split_key(key)
    retries = 4
    for attempt in range(retries):
        upload = fs.call_s3("create_multipart_upload", Bucket=bucket, Key=name)["UploadId"]
        with undo_on_error(partial(_abort, fs, bucket, name, upload)):
            parts, digest = _send_parts(fs, bucket, name, upload, Path(path), plan)
            created = _complete(fs, bucket, name, upload, parts) if _claimed(fs, claim, digest) else False
        if created is not True:  # another's key (claim or 412) or raced (409): the parts are ours to drop
            _abort(fs, bucket, name, upload)
        if created is not None:
            return created, digest
        if attempt + 1 < retries:
            time.sleep(0.05 * 2**attempt)
    raise OSError(f"{key}: every multipart completion met a conflicting write (409 ConditionalRequestConflict)")


def _claimed(fs: fsspec.AbstractFileSystem, claim: str, digest: dict[str, Any]) -> bool:
    """Whether the key is ours to complete: the claim created now with our digest (a conditional PUT: of racing
    writers one creates it), or found holding our digest (our own killed run's, or a racer's of the same bytes)."""
    body = json.dumps(digest, sort_keys=True).encode()  # no time, host or job: a rerun claims with the same bytes
    return put_if_absent(fs, claim, body) or fs.cat_file(claim) == body


def _send_parts(
    fs: fsspec.AbstractFileSystem, bucket: str, name: str, upload: str, path: Path, plan: PartPlan
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Upload the file's parts, at most `plan.concurrency` in flight (and `PROCESS_PARTS` in this process); returns the
    completion's part list and the file's digest (hashed in order as it is read)."""
    sha = hashlib.sha256()
    size = path.stat().st_size
    done: list[dict[str, Any]] = []
    with open(path, "rb") as f, ThreadPoolExecutor(plan.concurrency, thread_name_prefix="eidata-part") as pool:
        pending: deque[Future[dict[str, Any]]] = deque()
        for number, (offset, length) in enumerate(plan.parts(size), start=1):
            _SLOTS.acquire()  # released once the part is sent: a process holds at most PROCESS_PARTS parts
            with undo_on_error(_SLOTS.release):
                body = f.read(length)
                if len(body) != length:
                    raise OSError(f"{path}: {len(body)} bytes at {offset}, {length} expected (changed while put)")
                sha.update(body)
                pending.append(pool.submit(_send_part, fs, bucket, name, upload, number, body))
            pending[-1].add_done_callback(lambda _: _SLOTS.release())
            while len(pending) >= plan.concurrency:
                done.append(pending.popleft().result())
        done += [p.result() for p in pending]
        if f.read(1):
            raise OSError(f"{path}: grew past {size} bytes while it was put")
    return done, {"size": size, "sha256": sha.hexdigest()}


def _send_part(
    fs: fsspec.AbstractFileSystem, bucket: str, name: str, upload: str, number: int, body: bytes
) -> dict[str, Any]:
    out = fs.call_s3("upload_part", Bucket=bucket, Key=name, UploadId=upload, PartNumber=number, Body=body)
    return {"PartNumber": number, "ETag": out["ETag"]}


def _complete(
    fs: fsspec.AbstractFileSystem, bucket: str, name: str, upload: str, parts: list[dict[str, Any]]
) -> bool | None:
    """Complete the upload if the key is absent (`objects.conditional`: None on a 409, the upload to start again)."""
    done: dict[str, Any] = {"MultipartUpload": {"Parts": parts}, "IfNoneMatch": "*"}
    return conditional(fs, "complete_multipart_upload", Bucket=bucket, Key=name, UploadId=upload, **done)


def _abort(fs: fsspec.AbstractFileSystem, bucket: str, name: str, upload: str, *, quiet: bool = True) -> None:
    """Drop an upload's parts. `quiet`: on a failure path, where the first error is the one to report (what is left
    the next recovery aborts). An upload gone already (NoSuchUpload) is no error."""
    try:
        fs.call_s3("abort_multipart_upload", Bucket=bucket, Key=name, UploadId=upload)
    except FileNotFoundError:
        pass
    except OSError:
        if not quiet:
            raise


def holds(fs: fsspec.AbstractFileSystem, key: str, digest: dict[str, Any], md5: str | None = None) -> bool:
    """Whether the object `key` exists with the size and sha256 of `digest` (read back in blocks, never whole in
    memory); given the file's `md5`, the ETag of a single-part put (its MD5, on AWS and SeaweedFS) answers unread."""
    fs.invalidate_cache(key)
    try:
        info = fs.info(key)
    except FileNotFoundError:
        return False
    if int(info.get("size", -1)) != digest["size"]:
        return False
    etag = str(info.get("ETag", "")).strip('"')
    if md5 and etag and "-" not in etag:
        return etag == md5
    with fs.open(key, "rb", block_size=HASH_BLOCK, cache_type="readahead") as f:
        return hashlib.file_digest(f, "sha256").hexdigest() == digest["sha256"]


def put_final(fs: fsspec.AbstractFileSystem, key: str, path: Path, plan: PartPlan, *, claim: str) -> tuple[bool, dict]:
    """`put_file_if_absent`, where a key found taken must hold the file's bytes (a killed run's): (True when this call
    created it, the digest); CommitConflictError when another writer put other bytes there (its lease was not ours)."""
    created, digest = put_file_if_absent(fs, key, path, plan, claim=claim)
    if not created and not holds(fs, key, digest):
        raise CommitConflictError(f"{key}: another writer put other bytes here (its lease was not ours)")
    return created, digest


def incomplete_uploads(fs: fsspec.AbstractFileSystem, prefix: str) -> list[tuple[str, str]]:
    """(key, upload id) of every multipart upload begun and neither completed nor aborted under the folder `prefix`
    (ListMultipartUploads, page by page); none on a store that is not S3."""
    if not is_s3(fs):
        return []
    bucket, name = split_key(prefix.rstrip("/"))
    markers = {"KeyMarker": "NextKeyMarker", "UploadIdMarker": "NextUploadIdMarker"}
    listed = pages(fs, "list_multipart_uploads", markers, Bucket=bucket, Prefix=f"{name}/" if name else "")
    return [(f"{bucket}/{u['Key']}", u["UploadId"]) for page in listed for u in page.get("Uploads", [])]


def abort_uploads(fs: fsspec.AbstractFileSystem, prefix: str) -> list[str]:
    """Abort every incomplete upload under `prefix` (a dead writer's: call under the lease); returns their keys."""
    found = incomplete_uploads(fs, prefix)
    for key, upload in found:
        bucket, name = split_key(key)
        _abort(fs, bucket, name, upload, quiet=False)
    return [key for key, _ in found]
