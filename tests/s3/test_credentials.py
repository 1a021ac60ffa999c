"""Credentials and endpoint the standard way, checked before work starts, never printed nor serialised."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest
from pydantic import SecretStr

from adapters.storage.commit_log import CommitLog
from adapters.storage.lease import Lease
from adapters.storage.objects import list_keys
from adapters.storage.root import Root
from adapters.storage.urls import filesystem, preflight
from schemas.storage import StorageError, StorageOptions, is_remote, protocol_of
from tests.s3.server import SECRET_KEY, S3Server


def test_url_protocols() -> None:
    assert [protocol_of(u) for u in ("s3://b/k", "gs://b", "hf://datasets/x", "file:///tmp/x", "/tmp/x", "rel/x")] == [
        "s3",
        "gs",
        "hf",
        "file",
        "file",
        "file",
    ]
    assert is_remote("s3://b") and not is_remote("file:///x") and not is_remote("/x")


def test_preflight_accepts_a_good_root_and_output(s3: S3Server, prefix: str) -> None:
    fs, _ = filesystem("s3://", s3.options())
    fs.pipe_file(f"raw/{prefix}/a.bin", b"1")
    preflight(f"s3://raw/{prefix}", s3.options())
    preflight(f"s3://out/{prefix}-new", s3.options(), write=True)  # an output need not exist yet, its bucket must


@pytest.mark.parametrize(
    ("url", "secret", "write", "cause"),
    [
        ("s3://raw/{p}", "wrong-secret", False, "credential refused"),
        ("s3://no-such-bucket/{p}", None, True, "bucket 'no-such-bucket' does not exist"),
        ("s3://raw/{p}-empty", None, False, "nothing under"),
    ],
)
def test_preflight_names_the_first_cause(
    s3: S3Server, prefix: str, url: str, secret: str | None, write: bool, cause: str
) -> None:
    good = s3.options()
    options = good if secret is None else good.model_copy(update={"secret_access_key": SecretStr(secret)})
    with pytest.raises(StorageError, match=cause) as e:
        preflight(url.format(p=prefix), options, write=write)
    assert s3.endpoint in str(e.value) and SECRET_KEY not in str(e.value)


def test_preflight_unreachable_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # botocore's own retries of a refused connection: ~8 s otherwise
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    options = StorageOptions(endpoint_url=f"http://127.0.0.1:{port}", access_key_id="k", secret_access_key="s")
    with pytest.raises(StorageError, match=f"127.0.0.1:{port}"):
        preflight("s3://raw/x", options.model_copy(update={"region": "us-east-1"}))


def test_environment_variables_alone(s3: S3Server, prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in s3.env().items():
        monkeypatch.setenv(k, v)
    fs, path = filesystem(f"s3://raw/{prefix}")
    fs.pipe_file(f"{path}/env.bin", b"1")
    preflight(f"s3://raw/{prefix}")


def test_aws_config_files_profile(s3: S3Server, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(k, raising=False)
    (tmp_path / "credentials").write_text(
        f"[eidata-test]\naws_access_key_id = {s3.access_key}\naws_secret_access_key = {s3.secret_key}\n"
    )
    (tmp_path / "config").write_text(f"[profile eidata-test]\nregion = us-east-1\nendpoint_url = {s3.endpoint}\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    fs, path = filesystem(f"s3://raw/{prefix}", StorageOptions(profile="eidata-test"))
    fs.pipe_file(f"{path}/profile.bin", b"1")
    preflight(f"s3://raw/{prefix}", StorageOptions(profile="eidata-test"))


def test_secret_never_printed_dumped_or_logged(s3: S3Server, prefix: str, caplog: pytest.LogCaptureFixture) -> None:
    options = s3.options()
    dumps = [repr(options), str(options), options.model_dump_json(), str(options.model_dump())]
    assert all(SECRET_KEY not in d for d in dumps), dumps
    assert options.model_dump()["secret_access_key"] == "**********"
    with caplog.at_level(logging.DEBUG):
        root = Root(f"s3://out/{prefix}", options)
        fs, out = root.fs, root.path
        with Lease(root, job="secret-check", ttl_s=30).acquire():
            log = CommitLog(root)
            log.commit("g", {"a.bin": log.stage("a.bin", b"x")}, meta={"options": options.model_dump()})
            written = b"".join(fs.cat_file(k) for k in list_keys(fs, out))
        with pytest.raises(StorageError):
            preflight(f"s3://out/{prefix}", options.model_copy(update={"secret_access_key": SecretStr("bad")}))
    assert len(caplog.records) > 10  # botocore's debug logging did run
    assert SECRET_KEY not in caplog.text and SECRET_KEY.encode() not in written


def test_output_preflight_probes_the_conditional_write(s3: S3Server, prefix: str) -> None:
    from adapters.storage.objects import list_keys

    preflight(f"s3://out/{prefix}", s3.options(), write=True)
    fs, _ = filesystem("s3://", s3.options())
    assert list_keys(fs, f"out/{prefix}") == []  # the probe is removed
    with pytest.raises(StorageError, match="bucket 'no-such-bucket' does not exist"):
        preflight(f"s3://no-such-bucket/{prefix}", s3.options(), write=True)
