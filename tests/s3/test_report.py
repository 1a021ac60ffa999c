"""`eidata report s3://bucket/corpus` against the real S3 server: the page of the bucket corpus (read through
`Corpus.read(copy=True)`, the credential from the environment) is put at `<url>/report.html`, or written to `--out`,
and holds what the local corpus's page holds; a missing bucket exits 2 before any work."""

from __future__ import annotations

import argparse
import re
from contextlib import closing
from pathlib import Path

import pytest

from adapters.storage.corpus import Corpus
from adapters.storage.object_store import ObjectStore
from adapters.storage.urls import filesystem
from jobs.catalog.build import rebuild_catalog
from jobs.report.command import cli_report
from jobs.report.command import cli_report as episode_report
from jobs.report.data import frame_indices
from jobs.report.episode_data import episode_href
from tests.s3.server import S3Server
from tests.s3.test_catalog import write_dataset

DATASETS = {"datasets/demo/a": [9, 12, 7], "datasets/other/b": [5, 6]}


def test_eidata_report_of_a_bucket_corpus(
    s3: S3Server, prefix: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    local, url = tmp_path / "local" / "corpus", f"s3://out/{prefix}/corpus"  # a page names its corpus folder
    with closing(ObjectStore(url, s3.options(), scratch=tmp_path / "ingest-scratch")) as out:
        out.open()
        for rel, lengths in DATASETS.items():
            write_dataset(local / rel, lengths)
            write_dataset(out.scratch / rel, lengths, on_commit=out.publisher(rel).on_commit)
        rebuild_catalog(Corpus(out.scratch, out.storage, out))
        out.publish_corpus()
    rebuild_catalog(Corpus(local))
    for k, v in s3.env().items():  # the CLI takes the credential from the environment
        monkeypatch.setenv(k, v)

    assert cli_report(argparse.Namespace(root=url, out=None)) == 0
    fs, path = filesystem(url, s3.options())
    page = fs.cat_file(f"{path}/report.html").decode()
    assert "<title>eidata report: corpus</title>" in page and 'data-section="frames"' in page
    assert cli_report(argparse.Namespace(root=url, out=str(tmp_path / "r.html"))) == 0
    assert (tmp_path / "r.html").read_text().split('<p class="meta">')[0] == page.split('<p class="meta">')[0]
    assert cli_report(argparse.Namespace(root=str(local), out=None)) == 0  # the local corpus's page: the same sections
    mine = (local / "report.html").read_text()
    assert mine.split('<p class="meta">')[0] == page.split('<p class="meta">')[0]
    assert cli_report(argparse.Namespace(root=url.replace("s3://out/", "s3://no-such-bucket/"), out=None)) == 2


def test_eidata_report_episode_of_a_bucket_corpus(
    s3: S3Server, prefix: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`eidata report s3://... --episode DATASET:INDEX`: the page is put where the bucket's report links it."""
    url = f"s3://out/{prefix}/corpus"
    with closing(ObjectStore(url, s3.options(), scratch=tmp_path / "ingest-scratch")) as out:
        out.open()
        write_dataset(out.scratch / "datasets/demo/a", [9, 12], on_commit=out.publisher("datasets/demo/a").on_commit)
        rebuild_catalog(Corpus(out.scratch, out.storage, out))
        out.publish_corpus()
    for k, v in s3.env().items():
        monkeypatch.setenv(k, v)
    assert episode_report(argparse.Namespace(root=url, out=None, episode="demo/a:1")) == 0
    fs, path = filesystem(url, s3.options())
    page = fs.cat_file(f"{path}/{episode_href('demo/a', 1)}").decode()
    assert "<h1>episode datasets/demo/a:1</h1>" in page
    assert sorted(set(map(int, re.findall(r'data-frame="(\d+)"', page)))) == frame_indices(12)  # the 12-frame episode
    assert episode_report(argparse.Namespace(root=url, out=None, episode="demo/a:5")) == 2
    assert "no episode 5 in dataset datasets/demo/a" in capsys.readouterr().err
    assert episode_report(argparse.Namespace(root=url, out=None, episode=None)) == 0
    assert "episode pages: not written for a bucket; `eidata report s3://" in capsys.readouterr().out  # said, not lost
    # a local copy of the report: its pages beside it
    assert episode_report(argparse.Namespace(root=url, out=str(tmp_path / "r.html"), episode=None)) == 0
    assert "episode pages: 2 of the 2 episodes the report names" in capsys.readouterr().out
    assert (tmp_path / episode_href("demo/a", 1)).is_file()
