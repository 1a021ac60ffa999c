"""`eidata verdicts s3://bucket/corpus` through the command line against the real S3 server: the step runs on the
bucket's scratch (the stage skeleton's `Corpus.open`) as on the local twin, prints the same summary, and on a
corpus with nothing to judge changes no object; a prefix without datasets/ is a bad call. (The judging itself, with
lineage rewritten, is tests/jobs/verdicts on a local corpus: the meta publish it goes through on a bucket is the
caption stage's, tested in test_caption_bucket.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from s3fs import S3FileSystem

from jobs.cli import main
from tests.s3 import test_bucket_stage
from tests.s3.server import S3Server
from tests.s3.test_bucket_stage import files, objects
from tests.s3.test_quarantine_bucket import etags

corpora = test_bucket_stage.corpora


@pytest.fixture(autouse=True)
def aws_env(s3: S3Server, settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for k, v in s3.env().items():
        monkeypatch.setenv(k, v)
    settings(scratch=str(tmp_path / "scratch"))
    S3FileSystem.clear_instance_cache()


def test_eidata_verdicts_of_a_bucket_corpus(
    s3: S3Server, corpora: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    local, url = corpora
    assert main(["verdicts", str(local)]) == 0
    local_out = capsys.readouterr().out.strip().splitlines()[-1]
    before = etags(url, s3.options())
    assert main(["verdicts", url]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == local_out
    assert etags(url, s3.options()) == before and objects(url, s3) == files(local)
    assert main(["verdicts", url.rsplit("/", 1)[0] + "/nothing"]) == 2
