"""A bucket corpus read as a folder corpus is, against the real S3 server (issue 77 item 1: no "is it a folder?"
branch outside the storage room): `eidata validate s3://bucket/corpus` validates every dataset of the corpus as the
local corpus's validation does, and `train`/`eval`'s check of a bucket manifest's corpus (`check_manifest_corpus`)
refuses a catalog that no longer describes the bucket's datasets, as a folder's is refused."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest

from adapters.storage.corpus import Corpus
from adapters.storage.object_store import ObjectStore
from jobs.catalog.build import rebuild_catalog
from jobs.catalog.census import CatalogMismatchError
from jobs.catalog.manifest_current import check_manifest_corpus
from jobs.validate import validate_path
from tests.s3.server import S3Server
from tests.s3.test_catalog import write_dataset

DATASETS = {"datasets/demo/a": [9, 12, 7], "datasets/other/b": [5, 6]}


def _bucket_corpus(s3: S3Server, url: str, scratch: Path, datasets: dict[str, list[int]], catalog: bool) -> None:
    with closing(ObjectStore(url, s3.options(), scratch=scratch)) as out:
        out.open()
        for rel, lengths in datasets.items():
            write_dataset(out.scratch / rel, lengths, on_commit=out.publisher(rel).on_commit)
        if catalog:
            rebuild_catalog(Corpus(out.scratch, out.storage, out))
        out.publish_corpus()


@pytest.fixture
def env(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in s3.env().items():  # the commands take the credential from the environment
        monkeypatch.setenv(k, v)


@pytest.mark.usefixtures("env")
def test_validate_a_bucket_corpus_as_the_local_one(s3: S3Server, prefix: str, tmp_path: Path) -> None:
    local, url = tmp_path / "local", f"s3://out/{prefix}/corpus"
    for rel, lengths in DATASETS.items():
        write_dataset(local / rel, lengths)
    rebuild_catalog(Corpus(local))
    _bucket_corpus(s3, url, tmp_path / "scratch", DATASETS, catalog=True)
    mine, theirs = validate_path(local), validate_path(url)
    assert [r.root.removeprefix(f"{local}/") for r in mine] == list(DATASETS)
    assert [r.root.removeprefix(f"{url}/") for r in theirs] == list(DATASETS)  # each dataset, read in the bucket
    for a, b in zip(mine, theirs, strict=True):
        assert (a.version, a.episodes, a.frames, a.fps) == (b.version, b.episodes, b.frames, b.fps)
        assert sorted(q.code for q in a.quirks) == sorted(q.code for q in b.quirks)


@pytest.mark.usefixtures("env")
def test_a_bucket_manifest_s_corpus_is_checked_as_a_folder_s(s3: S3Server, prefix: str, tmp_path: Path) -> None:
    url = f"s3://out/{prefix}/corpus"
    _bucket_corpus(s3, url, tmp_path / "one", DATASETS, catalog=True)
    check_manifest_corpus(f"{url}/manifests/pick", "train")  # the catalog describes the datasets
    _bucket_corpus(s3, url, tmp_path / "two", {"datasets/new/c": [4]}, catalog=False)  # a dataset added after it
    with pytest.raises(CatalogMismatchError, match="datasets/new/c is in the corpus but not in the catalog"):
        check_manifest_corpus(f"{url}/manifests/pick", "train")
