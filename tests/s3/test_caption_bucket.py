"""`eidata caption s3://bucket/corpus` through the command line's entry point (`jobs.cli.main`) against the real S3
server, the credential from the AWS_* variables as a user's shell holds it: the rule captions reach the bucket as the
same command's files on the local twin of the corpus, byte for byte, with the catalog's rows; a rerun changes no
object; VLM captions, a wrong credential, a prefix without datasets/ and an output another job holds are refused
before any work, each naming why."""

from __future__ import annotations

from pathlib import Path

import pytest
from s3fs import S3FileSystem

from ingest.storage.bucket_output import BucketOutput
from jobs.catalog.query import run_query
from jobs.cli import main
from tests.s3 import test_bucket_stage
from tests.s3.server import S3Server
from tests.s3.test_bucket_stage import CATALOG_SQL, DATASETS, files, objects
from tests.s3.test_quarantine_bucket import etags

EPISODES = sum(map(len, DATASETS.values()))
corpora = test_bucket_stage.corpora  # its corpus, on disk and in the bucket: a fixture of this module by this name


@pytest.fixture(autouse=True)
def aws_env(s3: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The server's AWS_* variables, as the CLI reads them; the stage's scratch in the test's folder."""
    for k, v in s3.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("EIDATA_SCRATCH", str(tmp_path / "scratch"))
    S3FileSystem.clear_instance_cache()  # s3fs reads the variables when an instance is made


def test_eidata_caption_of_a_bucket_corpus(
    s3: S3Server, corpora: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    local, url = corpora
    assert main(["caption", str(local)]) == 0
    capsys.readouterr()
    assert main(["caption", url]) == 0
    out = capsys.readouterr().out
    assert f"{EPISODES} by the rules, 0 already done" in out, out
    assert objects(url, s3) == files(local)  # episode files untouched, the meta as the local command wrote it
    assert run_query(url, CATALOG_SQL, s3.options()) == run_query(local, CATALOG_SQL)
    assert run_query(url, "SELECT count(caption) AS n FROM episodes", s3.options()).to_pylist() == [{"n": EPISODES}]

    before = etags(url, s3.options())
    assert main(["caption", url]) == 0
    assert f"0 by the rules, {EPISODES} already done" in capsys.readouterr().out
    assert etags(url, s3.options()) == before  # no commit record, no meta, no catalog part, no lease left


def test_vlm_captions_on_a_bucket_are_refused_naming_why(
    s3: S3Server, corpora: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, url = corpora
    before = etags(url, s3.options())
    model = tmp_path / "qwen3vl"
    model.mkdir()
    (model / "config.json").write_text("{}")
    assert main(["caption", url, "--model", str(model)]) == 2
    err = capsys.readouterr().err
    assert f"eidata caption: {url}: VLM captions (--model) do not run on a corpus in a bucket" in err, err
    assert "decodes frames of each episode's video" in err and "without the episode files" in err
    assert etags(url, s3.options()) == before  # refused before the lease or any write


def test_bad_bucket_roots_are_refused_before_any_work(
    s3: S3Server,
    corpora: tuple[Path, str],
    prefix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, url = corpora
    before = etags(url, s3.options())
    assert main(["caption", f"{url}/catalog"]) == 2  # objects there, but no corpus
    assert f"{url}/catalog: no datasets/ in the bucket; not a corpus" in capsys.readouterr().err
    assert main(["caption", f"s3://out/{prefix}/nothing"]) == 2
    assert f"s3://out/{prefix}/nothing" in capsys.readouterr().err
    assert main(["caption", url.replace("s3://out/", "s3://no-such-bucket/")]) == 2
    assert "no-such-bucket" in capsys.readouterr().err
    assert main(["caption", url.replace("s3://", "gs://")]) == 2
    assert "must be s3://" in capsys.readouterr().err
    assert etags(url, s3.options()) == before

    with BucketOutput(url, s3.options(), scratch=tmp_path / "held", job="ingest"):
        assert main(["caption", url]) == 1  # another job's lease: this one cannot run
        assert "is being written by job 'ingest'" in capsys.readouterr().err

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    S3FileSystem.clear_instance_cache()
    assert main(["caption", url]) == 2
    err = capsys.readouterr().err
    assert url in err and "credential" in err and s3.secret_key not in err and "not-the-secret" not in err
