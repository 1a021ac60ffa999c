"""The object-store calls the commit protocol stands on: a put that succeeds only when the key is absent
(S3 `PutObject` with `If-None-Match: *`: the S3 API reference, honoured by AWS since 2024-08; SeaweedFS honours it
too, `tests/s3/test_commit.py`), plain puts, server-side copies and listings. Keys are paths inside the filesystem
(`bucket/prefix/...`)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from adapters.storage.atomic import atomic_write, temp_path

# 409 ConditionalRequestConflict: AWS answers it while another conditional write to the key is in flight; retry
RETRY_CODES = ("ConditionalRequestConflict", "409")
TAKEN_CODES = ("PreconditionFailed", "412")  # the key exists: a conditional create lost


def error_code(e: BaseException) -> str:
    """The S3 error code behind an s3fs error (its `__cause__` is botocore's ClientError), else ""."""
    cause = e.__cause__ if e.__cause__ is not None else e
    response = getattr(cause, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def is_s3(fs: fsspec.AbstractFileSystem) -> bool:
    return "s3" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))


def split_key(key: str) -> tuple[str, str]:
    bucket, _, rest = key.partition("/")
    return bucket, rest


def put_if_absent(fs: fsspec.AbstractFileSystem, key: str, data: bytes, retries: int = 8) -> bool:
    """Create `key` with `data` if no object has that key; True if this call created it, False if one existed.
    Exactly one of several racing callers gets True (the store decides, not a prior existence check)."""
    if isinstance(fs, LocalFileSystem):  # a local output: a link refuses an existing target, as If-None-Match does
        tmp = temp_path(Path(key))
        try:
            atomic_write(tmp, lambda t: t.write_bytes(data))  # whole before it has the key: no reader sees half
            os.link(tmp, key)
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)
        return True
    if not is_s3(fs):
        raise NotImplementedError(f"conditional create on {fs.protocol}: only S3-compatible stores and local paths")
    bucket, name = split_key(key)
    for attempt in range(retries):
        last = attempt + 1 == retries
        created = conditional(fs, "put_object", last=last, Bucket=bucket, Key=name, Body=data, IfNoneMatch="*")
        if created is not None:
            return created
        time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")


def conditional(fs: fsspec.AbstractFileSystem, op: str, *, last: bool = False, **kwargs: Any) -> bool | None:
    """The S3 call `op` with `If-None-Match: *`: True created, False taken (412), None on a 409 (raised if `last`)."""
    try:
        fs.call_s3(op, **kwargs)
        return True
    except FileExistsError:  # s3fs' translation of a 412 naming the If-None-Match condition
        return False
    except OSError as e:
        code = error_code(e)
        if code in TAKEN_CODES:
            return False
        if code in RETRY_CODES and not last:
            return None
        raise


def put(fs: fsspec.AbstractFileSystem, key: str, data: bytes) -> None:
    """An unconditional whole-object put (a single PUT: readers see the old object or the new one)."""
    if isinstance(fs, LocalFileSystem):
        atomic_write(Path(key), lambda tmp: tmp.write_bytes(data))
        return
    fs.pipe_file(key, data)


def put_changed(fs: fsspec.AbstractFileSystem, key: str, data: bytes) -> bool:
    """`put` unless the object at `key` holds `data` already; True when it was put."""
    if exists(fs, key) and fs.cat_file(key) == data:
        return False
    put(fs, key, data)
    return True


def copy(fs: fsspec.AbstractFileSystem, src: str, dst: str) -> None:
    """Server-side copy (S3 CopyObject: the bytes never pass through this process); locally an atomic write."""
    if isinstance(fs, LocalFileSystem):
        atomic_write(Path(dst), lambda tmp: shutil.copyfile(src, tmp))
        return
    fs.copy(src, dst)
    fs.invalidate_cache(dst)


def exists(fs: fsspec.AbstractFileSystem, key: str) -> bool:
    fs.invalidate_cache(key)  # listings are cached by s3fs; the protocol needs the store's answer
    return fs.exists(key)


def pages(fs: fsspec.AbstractFileSystem, op: str, markers: dict[str, str], **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every page of the S3 listing `op`, each asked from where the last ended (`markers`: key -> page key)."""
    while True:
        page = fs.call_s3(op, **kwargs)
        yield page
        if not page.get("IsTruncated"):
            return
        kwargs |= {k: page[v] for k, v in markers.items()}


CONTINUE = {"ContinuationToken": "NextContinuationToken"}  # ListObjectsV2's


def list_keys(fs: fsspec.AbstractFileSystem, prefix: str, start_after: str | None = None) -> list[str]:
    """Every object under the folder `prefix` (recursive), sorted; empty when there is none; `start_after`: only keys
    sorting after it (S3 lists from there). On S3 a direct ListObjectsV2 (uncached; s3fs' `find` answers a prefix
    with no objects by the prefix itself where the store keeps empty folders, as SeaweedFS does)."""
    return sorted(list_modified(fs, prefix, start_after))


def list_modified(fs: fsspec.AbstractFileSystem, prefix: str, start_after: str | None = None) -> dict[str, datetime]:
    """Every object under the folder `prefix` (recursive), after `start_after` if given -> its last write (UTC)."""
    prefix = prefix.rstrip("/")
    if not is_s3(fs):
        try:
            found = fs.find(prefix, detail=True)
        except FileNotFoundError:
            return {}
        after = start_after or ""
        when = {k: v.get("mtime", v.get("created")) for k, v in found.items() if k > after}  # fsspec memory: created
        return {k: datetime.fromtimestamp(float(t), UTC) for k, t in when.items()}
    bucket, name = split_key(prefix)
    kwargs = {"Bucket": bucket, "Prefix": f"{name}/" if name else ""}
    if start_after:
        kwargs["StartAfter"] = split_key(start_after)[1]
    found = (o for page in pages(fs, "list_objects_v2", CONTINUE, **kwargs) for o in page.get("Contents", []))
    return {f"{bucket}/{o['Key']}": o["LastModified"].astimezone(UTC) for o in found if not o["Key"].endswith("/")}


def list_prefixes(fs: fsspec.AbstractFileSystem, prefix: str) -> list[str]:
    """The immediate sub-folders of the folder `prefix` (keys' common prefixes, no trailing slash), sorted; on S3 one
    delimited ListObjectsV2 walk, so a folder of a million episode files costs no more than its names."""
    prefix = prefix.rstrip("/")
    if not is_s3(fs):
        try:
            return sorted(p["name"].rstrip("/") for p in fs.ls(prefix, detail=True) if p["type"] == "directory")
        except FileNotFoundError:
            return []
    bucket, name = split_key(prefix)
    listed = pages(fs, "list_objects_v2", CONTINUE, Bucket=bucket, Prefix=f"{name}/" if name else "", Delimiter="/")
    return sorted(f"{bucket}/{p['Prefix'].rstrip('/')}" for page in listed for p in page.get("CommonPrefixes", []))


def put_tree(fs: fsspec.AbstractFileSystem, folder: Path, prefix: str) -> int:
    """Put every file under the local `folder` at `prefix/<its relative path>`; returns the number of objects."""
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file())
    for f in files:
        fs.put_file(str(f), f"{prefix}/{f.relative_to(folder).as_posix()}")
    return len(files)
