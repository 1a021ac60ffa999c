"""`eidata caption s3://bucket/corpus` through the command line's entry point (`jobs.cli.main`) against the real S3
server, the credential from the AWS_* variables as a user's shell holds it: the rule captions reach the bucket as the
same command's files on the local twin of the corpus, byte for byte, with the catalog's rows; so do the VLM captions
and text embeddings of a tiny random-weight Qwen3-VL, its frames read from the bucket by ranges; a rerun changes no
object; a model folder that is not one, a wrong credential, a prefix without datasets/ and an output another job holds
are refused before any work, each naming why."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from s3fs import S3FileSystem

from adapters.storage.object_store import ObjectStore
from jobs.catalog.query import run_query
from jobs.cli import main
from schemas.settings import current
from tests.jobs.stages import test_caption
from tests.s3 import test_bucket_stage
from tests.s3.server import S3Server
from tests.s3.test_bucket_stage import CATALOG_SQL, DATASETS, files, objects
from tests.s3.test_catalog import bucket_query
from tests.s3.test_quarantine_bucket import etags

EPISODES = sum(map(len, DATASETS.values()))
corpora = test_bucket_stage.corpora  # its corpus, on disk and in the bucket: a fixture of this module by this name
model = test_caption.model  # the tiny random-weight Qwen3-VL of the local VLM tests


@pytest.fixture(autouse=True)
def aws_env(s3: S3Server, settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The server's AWS_* variables, as the CLI reads them; the stage's scratch in the test's folder."""
    for k, v in s3.env().items():
        monkeypatch.setenv(k, v)
    settings(scratch=str(tmp_path / "scratch"))
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
    assert bucket_query(url, CATALOG_SQL, s3.options()) == run_query(local, CATALOG_SQL)
    assert bucket_query(url, "SELECT count(caption) AS n FROM episodes", s3.options()).to_pylist() == [{"n": EPISODES}]

    before = etags(url, s3.options())
    assert main(["caption", url]) == 0
    assert f"0 by the rules, {EPISODES} already done" in capsys.readouterr().out
    assert etags(url, s3.options()) == before  # no commit record, no meta, no catalog part, no lease left


def _counts(out: str) -> str:
    """The caption summary's line without its seconds."""
    return next(x for x in out.splitlines() if x.startswith("caption (")).rsplit(",", 1)[0]


# slow: ~60 s with its own Ray; make test keeps the rule captions on a bucket (the same meta publish) and latents'
# ranged decode
@pytest.mark.slow
@pytest.mark.own_ray  # the workers take the credential from the AWS_* variables, as the command's user's shell holds it
def test_vlm_captions_and_text_embeddings_of_a_bucket_corpus(
    s3: S3Server, corpora: tuple[Path, str], model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    local, url = corpora
    args = ["--model", str(model), "--text-embeddings", "--batch", "4", "--num-cpus", "2"]
    assert main(["caption", str(local), *args]) == 0
    want = _counts(capsys.readouterr().out)
    assert main(["caption", url, *args]) == 0
    assert _counts(capsys.readouterr().out) == want
    assert ", 0 already done, 0 without any text, 0 failed" in want, want
    vlm = int(want.split("qwen3vl-tiny): ", 1)[1].split(" by the VLM")[0])
    assert vlm >= EPISODES // 2, want  # mostly the model's answers on the frames (an empty one falls back to the rules)
    got = objects(url, s3)
    for rel in DATASETS:
        assert got[f"{rel}/meta/episodes.jsonl"] == (local / rel / "meta/episodes.jsonl").read_bytes()
    assert any("/latents/text/" in k for k in got)
    assert got == files(local)  # captions, text embeddings, episode files: the local command's bytes
    assert bucket_query(url, CATALOG_SQL, s3.options()) == run_query(local, CATALOG_SQL)
    scratch = Path(current().scratch)
    assert not list(scratch.rglob("*.mp4")) and not list(scratch.rglob("*.safetensors"))  # read by ranges; published

    before = etags(url, s3.options())
    assert main(["caption", url, *args]) == 0
    assert f"0 by the VLM, 0 by the rules, {EPISODES} already done" in capsys.readouterr().out
    assert etags(url, s3.options()) == before  # no commit record, no meta, no embedding, no catalog part, no lease


def test_a_folder_that_is_not_a_model_is_refused_before_any_work(
    s3: S3Server, corpora: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, url = corpora
    before = etags(url, s3.options())
    assert main(["caption", url, "--model", str(tmp_path)]) == 2
    assert f"eidata caption: {tmp_path}: not a model folder (no config.json)" in capsys.readouterr().err
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

    with closing(ObjectStore(url, s3.options(), scratch=tmp_path / "held", job="ingest")) as held:
        held.open()
        assert main(["caption", url]) == 1  # another job's lease: this one cannot run
        assert "is being written by job 'ingest'" in capsys.readouterr().err

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    S3FileSystem.clear_instance_cache()
    assert main(["caption", url]) == 2
    err = capsys.readouterr().err
    assert url in err and "credential" in err and s3.secret_key not in err and "not-the-secret" not in err
