"""A stage after ingest on a corpus in a bucket (`jobs.runtime.stage.CorpusStage` on the handle `Corpus.open` gives),
against the real S3 server: rule captions run on the scratch under the output's lease reach the bucket as the local
run's files, byte for byte (the meta edits as one commit record per dataset), with the catalog rebuilt from the
records; a rerun commits nothing; a running job on the output refuses the stage before any work; the read-only copy a
reader opens by path (`Corpus.read(copy=True)`) holds the local corpus's files."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from adapters.storage.corpus import Corpus
from adapters.storage.object_store import ObjectStore
from adapters.storage.objects import list_keys
from adapters.storage.urls import filesystem
from jobs.catalog.build import rebuild_catalog
from jobs.catalog.query import run_query
from jobs.stages.caption import CaptionJob, CaptionStage
from schemas.storage import OutputLeasedError
from tests.s3.server import S3Server
from tests.s3.test_catalog import bucket_query, write_dataset

DATASETS = {"datasets/demo/a": [9, 12, 7], "datasets/other/b": [5, 6]}
CATALOG_SQL = "SELECT * EXCLUDE (ingested_at) FROM episodes ORDER BY episode_uid"


def files(root: Path, under: str = "datasets") -> dict[str, bytes]:
    base = root / under
    return {
        f"{under}/{p.relative_to(base).as_posix()}": p.read_bytes()
        for p in sorted(base.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(base).parts)
    }


def objects(url: str, s3: S3Server, under: str = "datasets") -> dict[str, bytes]:
    fs, path = filesystem(url, s3.options())
    keys = [k for k in list_keys(fs, f"{path}/{under}") if "/.eidata/" not in k]
    return {k.removeprefix(path + "/"): fs.cat_file(k) for k in keys}


@pytest.fixture
def corpora(s3: S3Server, prefix: str, tmp_path: Path) -> tuple[Path, str]:
    """The same corpus written on disk and, through the publisher, in the bucket (each with its catalog)."""
    local, url = tmp_path / "local", f"s3://out/{prefix}/corpus"
    with closing(ObjectStore(url, s3.options(), scratch=tmp_path / "ingest-scratch")) as out:
        out.open()
        for rel, lengths in DATASETS.items():
            write_dataset(local / rel, lengths)
            write_dataset(out.scratch / rel, lengths, on_commit=out.publisher(rel).on_commit)
        rebuild_catalog(Corpus(out.scratch, out.storage, out))
        out.publish_corpus()
    rebuild_catalog(Corpus(local))
    assert objects(url, s3) == files(local)
    return local, url


def test_captions_on_a_bucket_are_the_local_run_s_files(
    s3: S3Server, corpora: tuple[Path, str], tmp_path: Path, settings: Any
) -> None:
    local, url = corpora
    episodes = sum(map(len, DATASETS.values()))
    assert CaptionStage(CaptionJob(root=local)).run(progress=False).rule == episodes
    with Corpus.open(url, s3.options(), "caption", scratch=tmp_path / "scratch", existing=True) as corpus:
        report = CaptionStage(CaptionJob(root=url)).run(progress=False, corpus=corpus)  # the handle held open
    assert report.rule == episodes and not report.failed and report.root == url
    assert objects(url, s3) == files(local)  # episode files untouched, meta rewritten as the local writer did
    assert bucket_query(url, CATALOG_SQL, s3.options()) == run_query(local, CATALOG_SQL)
    captioned = "SELECT count(*) FILTER (WHERE caption IS NOT NULL) AS n FROM episodes"
    assert bucket_query(url, captioned, s3.options()).to_pylist() == [{"n": episodes}]

    fs, path = filesystem(url, s3.options())
    records = {rel: len(ObjectStore(url, s3.options()).publisher(rel).log.records()) for rel in DATASETS}
    settings(scratch=str(tmp_path / "scratch2"))
    assert CaptionStage(CaptionJob(root=url)).run(progress=False, storage=s3.options()).skipped == episodes
    assert {rel: len(ObjectStore(url, s3.options()).publisher(rel).log.records()) for rel in DATASETS} == records
    assert objects(url, s3) == files(local)
    assert not list_keys(fs, f"{path}/.eidata/lease")  # released

    with Corpus.read(url, s3.options(), copy=True) as copy:
        assert files(copy.root) == files(local) and files(copy.root, "catalog") == objects(url, s3, "catalog")


def test_a_running_job_refuses_the_stage_before_any_work(
    s3: S3Server, corpora: tuple[Path, str], tmp_path: Path
) -> None:
    _, url = corpora
    before = objects(url, s3, "")
    with closing(ObjectStore(url, s3.options(), scratch=tmp_path / "held", job="ingest")) as held:
        held.open()
        with pytest.raises(OutputLeasedError, match="ingest"):
            CaptionStage(CaptionJob(root=url)).run(progress=False, storage=s3.options())
    assert objects(url, s3, "") == before  # no meta, no catalog, no job folder
