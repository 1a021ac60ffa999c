"""Root URLs to filesystems (`adapters/storage/urls.py`) without a server: only the options set reach s3fs, so
botocore's own chain (AWS_* variables, profiles) decides the rest; the endpoint falls back to botocore's
service-specific then global variable; a local path or `file://` URL is an absolute local path; an object URL is the
bucket path without protocol or trailing slash; a missing local root fails before work, naming it. For gs://, a key
file named is loaded (never taken for a raw token), GOOGLE_APPLICATION_CREDENTIALS is named to gcsfs so a broken one
fails instead of becoming anonymous, an emulator is asked anonymously. An hf:// root with the Hub out of reach fails
at once, naming the root. (Credentials and buckets against real servers: tests/s3/test_credentials.py,
tests/gcs/test_credentials.py.)"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from fsspec.implementations.local import LocalFileSystem
from pydantic import SecretStr

from adapters.storage.objects import split_key
from adapters.storage.urls import endpoint_of, filesystem, fs_kwargs, preflight
from schemas.storage import StorageError, StorageOptions


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
    assert fs.protocol[0] in ("s3", "s3a") and path == "bucket/prefix/ds" and split_key(path)[0] == "bucket"


def test_a_missing_local_root_fails_before_work(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match=f"{tmp_path / 'nope'}: no such file or folder"):
        preflight(str(tmp_path / "nope"))
    preflight(str(tmp_path / "nope"), write=True)  # an output folder may not exist yet
    preflight(str(tmp_path))


def test_gcs_credentials_in_google_s_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("GOOGLE_APPLICATION_CREDENTIALS", "STORAGE_EMULATOR_HOST"):
        monkeypatch.delenv(k, raising=False)
    assert fs_kwargs("gs", None) == {}  # gcsfs's own chain: gcloud's default credentials, metadata server, anonymous
    assert fs_kwargs("gcs", StorageOptions(anon=True)) == {"token": "anon"}
    key = tmp_path / "key.json"
    key.write_text("{}")
    given = StorageOptions(google_credentials=str(key), endpoint_url="http://127.0.0.1:1")
    assert fs_kwargs("gs", given) == {"token": str(key), "endpoint_url": "http://127.0.0.1:1"}
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "localhost:4443")
    assert fs_kwargs("gs", None) == {"token": "anon"}  # an emulator checks no credential
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    assert fs_kwargs("gs", None) == {"token": "google_default"}  # loaded by google-auth, or an error
    assert fs_kwargs("gs", given)["token"] == str(key)  # the spec's option first
    with pytest.raises(StorageError, match="no such key file"):  # gcsfs would send the path as a raw access token
        fs_kwargs("gs", StorageOptions(google_credentials=str(tmp_path / "typo.json")))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed once the block ends: nothing listens there


def test_an_hf_root_without_the_hub_fails_at_once_naming_the_root(monkeypatch: pytest.MonkeyPatch) -> None:
    # the Hub cannot be served here: with HF_HUB_OFFLINE (tests/conftest.py sets it) or an endpoint nothing answers,
    # the root's check fails within seconds, naming the root and the cause
    from huggingface_hub import HfFileSystem, constants

    url = "hf://datasets/lerobot/pusht"
    for offline, endpoint, cause in ((True, constants.ENDPOINT, "offline"), (False, None, "Connect")):
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)
        monkeypatch.setattr(constants, "ENDPOINT", endpoint or f"http://127.0.0.1:{_closed_port()}")
        HfFileSystem.clear_instance_cache()  # an instance keeps the endpoint it was made with
        start = time.monotonic()
        with pytest.raises(StorageError, match=cause) as e:
            preflight(url)
        assert str(e.value).startswith(url) and time.monotonic() - start < 10
    HfFileSystem.clear_instance_cache()


def test_a_local_output_passes_and_nothing_is_written(tmp_path: Path) -> None:
    """An output's check (`preflight(write=True)`) leaves a local folder untouched (tests/s3/test_credentials.py
    checks the conditional-write probe of an object store against a real server)."""
    preflight(str(tmp_path / "not-yet" / "corpus"), write=True)
    preflight(f"file://{tmp_path}", write=True)
    assert list(tmp_path.iterdir()) == []
