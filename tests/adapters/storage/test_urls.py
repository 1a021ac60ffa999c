"""Root URLs to filesystems (`adapters/storage/urls.py`) without a server: only the options set reach s3fs, so
botocore's own chain (AWS_* variables, profiles) decides the rest; the endpoint falls back to botocore's
service-specific then global variable; a local path or `file://` URL is an absolute local path; an object URL is the
bucket path without protocol or trailing slash; a missing local root fails before work, naming it. (Credentials and
buckets against a real S3 server: tests/s3/test_credentials.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from fsspec.implementations.local import LocalFileSystem
from pydantic import SecretStr

from adapters.storage.urls import StorageError, bucket_of, endpoint_of, filesystem, fs_kwargs, preflight
from schemas.storage import StorageOptions


def test_only_the_options_set_reach_s3fs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    assert fs_kwargs("s3", None) == {}  # botocore's default chain decides
    opts = StorageOptions(access_key_id="AK", secret_access_key=SecretStr("sk"), region="eu-west-1", profile="p")
    assert fs_kwargs("s3", opts) == {
        "key": "AK",
        "secret": "sk",
        "profile": "p",
        "client_kwargs": {"region_name": "eu-west-1"},
    }
    assert fs_kwargs("s3a", StorageOptions(anon=True)) == {"anon": True}
    assert fs_kwargs("gs", StorageOptions(anon=True)) == {"token": "anon"} and fs_kwargs("gs", None) == {}
    assert "sk" not in repr(opts) and "sk" not in opts.model_dump_json()  # the secret never printed


def test_the_endpoint_follows_botocores_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://global:9000")
    assert endpoint_of(None) == "http://global:9000"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://s3-only:9000")
    assert endpoint_of(None) == "http://s3-only:9000" and fs_kwargs("s3", None) == {
        "endpoint_url": "http://s3-only:9000"
    }
    assert endpoint_of(StorageOptions(endpoint_url="http://given:1")) == "http://given:1"


def test_paths_urls_and_buckets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    fs, path = filesystem("raw/ds")
    assert isinstance(fs, LocalFileSystem) and path == str(tmp_path / "raw" / "ds")
    assert filesystem(f"file://{tmp_path}/x")[1] == str(tmp_path / "x")
    fs, path = filesystem("s3://bucket/prefix/ds/", StorageOptions(anon=True))
    assert fs.protocol[0] in ("s3", "s3a") and path == "bucket/prefix/ds" and bucket_of(path) == "bucket"


def test_a_missing_local_root_fails_before_work(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match=f"{tmp_path / 'nope'}: no such file or folder"):
        preflight(str(tmp_path / "nope"))
    preflight(str(tmp_path / "nope"), write=True)  # an output folder may not exist yet
    preflight(str(tmp_path))
