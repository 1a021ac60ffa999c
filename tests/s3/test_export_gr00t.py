"""`eidata export s3://bucket/corpus --format gr00t` against the real S3 server: each dataset's `meta/modality.json`
reaches the bucket as the local export's file, byte for byte, published as one meta-change commit record per dataset
(`adapters.storage.object_store`), the other objects untouched; an unchanged rerun commits nothing; a dry run writes
nothing; the CLI takes the credential from the environment and names a missing bucket before any work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from s3fs import S3FileSystem

from adapters.storage.object_store import ObjectStore
from jobs.cli import main
from jobs.export.gr00t import export_gr00t
from jobs.export.gr00t_job import export_corpus
from schemas.lerobot import MODALITY_PATH
from tests.jobs.export.lingbot.corpus import EGO, FRANKA, write_small_corpus
from tests.s3.export_corpus import bucket_tree, corpus_pair, tree
from tests.s3.server import S3Server


def _records(url: str, s3: S3Server) -> dict[str, int]:
    out = ObjectStore(url, s3.options())
    return {rel: len(out.publisher(rel).log.records(refresh=True)) for rel in out.datasets()}


def test_modality_files_reach_the_bucket_as_the_local_export_writes_them(
    s3: S3Server, prefix: str, tmp_path: Path, settings: Any
) -> None:
    settings(scratch=str(tmp_path / "scratch"))
    url = f"s3://out/{prefix}/corpus"
    local = corpus_pair(write_small_corpus, s3, url, tmp_path)
    before = _records(url, s3)

    dry = export_corpus(url, s3.options(), dry_run=True)
    assert [r.status for r in dry] == ["to write", "to write"] and _records(url, s3) == before
    assert f"{FRANKA}/{MODALITY_PATH}" not in bucket_tree(url, s3)

    bucket = export_corpus(url, s3.options())
    assert bucket == export_gr00t(local)  # the same statuses, slices and notes
    assert bucket_tree(f"{url}/datasets", s3) == tree(local / "datasets")  # modality.json, every episode file, the meta
    assert {f"{rel}/{MODALITY_PATH}" for rel in (FRANKA, EGO)} <= set(bucket_tree(url, s3))
    assert _records(url, s3) == {rel: n + 1 for rel, n in before.items()}  # one meta change each

    again = export_corpus(url, s3.options())
    assert [r.status for r in again] == ["unchanged", "unchanged"]
    assert _records(url, s3) == {rel: n + 1 for rel, n in before.items()}
    assert bucket_tree(f"{url}/datasets", s3) == tree(local / "datasets")


def test_the_cli_exports_a_bucket_corpus_with_the_environment_s_credential(
    s3: S3Server,
    prefix: str,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    url = f"s3://out/{prefix}/corpus"
    corpus_pair(write_small_corpus, s3, url, tmp_path)
    for k, v in s3.env().items():
        monkeypatch.setenv(k, v)
    settings(scratch=str(tmp_path / "scratch"))
    S3FileSystem.clear_instance_cache()  # s3fs reads the variables when an instance is made
    assert main(["export", url, "--format", "gr00t"]) == 0
    assert "gr00t: 2 written" in capsys.readouterr().out
    assert f"{FRANKA}/{MODALITY_PATH}" in bucket_tree(url, s3)
    assert main(["export", url.replace("s3://out/", "s3://no-such-bucket/"), "--format", "gr00t"]) == 2
    assert "no-such-bucket" in capsys.readouterr().err
