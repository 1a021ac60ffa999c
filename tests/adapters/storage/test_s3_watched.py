"""`WatchedS3FileSystem`, the s3fs filesystem that `adapters.storage.urls.filesystem` makes for s3:// (issue 45 item 5):
the real client against an endpoint on loopback whose socket accepts connections and never answers (the kernel completes
the handshakes into its backlog, as for a paused server) is said while it waits and stopped at the deadline; what it
says names the operation, bucket, key and endpoint, never a credential."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from s3fs import S3FileSystem

from adapters.storage.s3_watched import WatchedS3FileSystem, _request
from adapters.storage.stalls import StoreStalledError
from adapters.storage.urls import filesystem, preflight
from schemas.storage import StorageOptions


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """http://127.0.0.1:PORT whose connections are accepted by the kernel and never answered."""
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        yield f"http://127.0.0.1:{s.getsockname()[1]}"
    finally:
        s.close()


def test_the_s3_client_on_a_silent_store_defers_at_the_deadline(
    silent_endpoint: str, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings(store_progress_s=0.4, store_deadline_s=1.5)
    caplog.set_level(logging.WARNING, "adapters.storage.stalls")
    options = StorageOptions(endpoint_url=silent_endpoint, access_key_id="k", secret_access_key="stall-secret-9")
    fs, path = filesystem("s3://raw/demo", options)
    assert isinstance(fs, WatchedS3FileSystem)
    t0 = time.monotonic()
    with pytest.raises(StoreStalledError, match=rf"ListObjectsV2 s3://raw/demo \(endpoint {silent_endpoint}\)"):
        fs.ls(path)
    # at startup too: a root that does not answer is not a bad root (StorageError, exit 2) but a stalled store
    with pytest.raises(StoreStalledError, match=r"HeadBucket s3://raw"):
        preflight("s3://raw/demo", options)
    assert time.monotonic() - t0 < 6.0
    said = [r.getMessage() for r in caplog.records]
    assert any("ListObjectsV2 s3://raw/demo" in x and "has not answered for" in x for x in said), said
    assert not any("stall-secret-9" in x for x in said)


def test_a_request_is_named_by_operation_bucket_key_and_endpoint_only() -> None:
    params = {"Bucket": "raw", "Key": "a/b.mcap", "SSECustomerKey": "secret-x", "Body": b"payload"}
    assert _request("GetObject", params, "http://h:1") == "GetObject s3://raw/a/b.mcap (endpoint http://h:1)"
    assert _request("ListObjectsV2", {"Bucket": "raw", "Prefix": "demo/"}, None) == "ListObjectsV2 s3://raw/demo"
    assert _request("HeadBucket", {"Bucket": "raw"}, None) == "HeadBucket s3://raw"


def test_its_instances_share_s3fs_cache_so_the_documented_clear_drops_them() -> None:
    assert WatchedS3FileSystem._cache is S3FileSystem._cache
    fs = WatchedS3FileSystem(key="k", secret="s", endpoint_url="http://127.0.0.1:9", skip_instance_cache=False)
    assert any(v is fs for v in S3FileSystem._cache.values())
    S3FileSystem.clear_instance_cache()
    assert not any(v is fs for v in WatchedS3FileSystem._cache.values())
