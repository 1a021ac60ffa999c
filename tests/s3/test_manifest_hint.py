"""A manifest that is not in a bucket corpus is refused naming the manifests the bucket has, as for a folder
(`jobs.catalog.manifest_arg.missing_hint`: the listing goes through `Root`, so nothing there asks what kind a storage
is; issue 77 item 1)."""

from __future__ import annotations

import pytest

from adapters.storage.urls import filesystem
from jobs.catalog.manifest_arg import missing_hint
from tests.s3.server import S3Server


def test_a_missing_manifest_names_the_buckets_manifests(
    s3: S3Server, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for k, v in s3.env().items():  # the command's credential: the AWS environment
        monkeypatch.setenv(k, v)
    url = f"s3://out/{prefix}"
    fs, path = filesystem(url, s3.options())
    for name in ("v1", "v0"):
        fs.pipe_file(f"{path}/manifests/{name}/manifest.json", b"{}")
    fs.pipe_file(f"{path}/manifests/half/entries.parquet", b"")  # no manifest.json: not a manifest
    assert missing_hint("v2", url) == (
        f"; {url} has the manifests v0, v1; `eidata curate {url} --name v2 --where TRUE` writes one of every episode"
    )
