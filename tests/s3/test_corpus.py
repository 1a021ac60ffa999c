"""The corpus handle of a bucket (`adapters.storage.corpus.Corpus.open`) against a real S3 server: the job runs on a
scratch corpus, its writers' commits reach the bucket as they land (`Corpus.attach`), its meta only on a clean exit; a
second job is refused while the first runs, a job killed on this host is followed at once; a refused credential is
named before any work (no lease taken), and a stage's prefix without datasets/ is refused before the lease."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from adapters.storage.corpus import Corpus
from adapters.storage.objects import list_keys
from adapters.storage.urls import filesystem
from ingest.lerobot.writer import LeRobotWriter
from schemas.storage import NotACorpus, OutputLeasedError, StorageError, StorageOptions
from tests.fixtures.episodes import canonical_frames, canonical_test_features
from tests.s3.server import SECRET_KEY, S3Server, child_env

REPO = Path(__file__).resolve().parents[2]

DATASET = "datasets/demo/default"


def commit_one(corpus: Corpus) -> None:
    """One episode committed by a writer attached through the handle (as a committer does)."""
    root = corpus.root / DATASET
    with LeRobotWriter.create_or_open(root, fps=10, features=canonical_test_features(), robot_type="franka") as w:
        corpus.attach(w, DATASET)
        with w.episode(task="pick") as b:
            for frame in canonical_frames(5, seed=1):
                b.add_frame(frame)


def test_bucket_output_job(s3: S3Server, prefix: str, tmp_path: Path) -> None:
    url = f"s3://out/{prefix}"
    fs, path = filesystem(url, s3.options())
    with Corpus.open(url, s3.options(), "ingest", scratch=tmp_path / "scratch") as corpus:
        assert corpus.root == tmp_path / "scratch" and corpus.where == url
        with pytest.raises(OutputLeasedError, match="job 'ingest'"), Corpus.open(url, s3.options(), "ingest"):
            pass
        commit_one(corpus)
        assert len(list_keys(fs, f"{path}/{DATASET}/.eidata/commits")) == 1  # committed as it landed
        assert list_keys(fs, f"{path}/{DATASET}/meta") == []  # the meta waits for the end of the job
    assert len(list_keys(fs, f"{path}/{DATASET}/meta")) == 4
    assert list_keys(fs, f"{path}/.eidata/lease") == []

    with pytest.raises(RuntimeError, match="the job failed"):
        with Corpus.open(url, s3.options(), "ingest", scratch=tmp_path / "scratch") as corpus:
            commit_one(corpus)
            raise RuntimeError("the job failed")
    assert len(list_keys(fs, f"{path}/{DATASET}/.eidata/commits")) == 2
    assert b'"total_episodes": 1' in fs.cat_file(f"{path}/{DATASET}/meta/info.json")  # not republished
    assert list_keys(fs, f"{path}/.eidata/lease") == []
    with Corpus.open(
        url, s3.options(), "ingest", scratch=tmp_path / "elsewhere"
    ):  # the next job's recovery publishes it
        pass
    assert b'"total_episodes": 2' in fs.cat_file(f"{path}/{DATASET}/meta/info.json")


def test_refused_credential_before_any_work(s3: S3Server, prefix: str, tmp_path: Path) -> None:
    wrong = StorageOptions(endpoint_url=s3.endpoint, access_key_id=s3.access_key, secret_access_key="not-it")
    with pytest.raises(StorageError) as e, Corpus.open(f"s3://out/{prefix}", wrong, scratch=tmp_path / "scratch"):
        pass
    assert f"s3://out/{prefix}" in str(e.value) and "not-it" not in str(e.value) and SECRET_KEY not in str(e.value)
    fs, path = filesystem(f"s3://out/{prefix}", s3.options())
    assert list_keys(fs, path) == [] and not (tmp_path / "scratch").exists()


def test_a_job_killed_on_this_host_is_followed_at_once(s3: S3Server, prefix: str, tmp_path: Path) -> None:
    """kill -9 of a job holding the bucket output (a real process: `Corpus.open` as `eidata ingest` takes it), then a
    rerun at once, the 300 s ttl far from over: the dead holder's lease is taken over, the reason logged (issue 38;
    before, the rerun was refused for up to 300 s)."""
    url = f"s3://out/{prefix}"
    code = (
        "import sys, time\n"
        "from adapters.storage.corpus import Corpus\n"
        f"with Corpus.open({url!r}, None, 'ingest', scratch={str(tmp_path / 'killed')!r}):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(600)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, env=child_env(s3), stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
    finally:
        child.kill()
        child.wait()
    fs, path = filesystem(url, s3.options())
    assert len(list_keys(fs, f"{path}/.eidata/lease")) == 1  # the killed job's lease, fresh
    with Corpus.open(url, s3.options(), "ingest", scratch=tmp_path / "scratch") as corpus:
        lease = corpus.store.lease  # type: ignore[union-attr]
        assert lease.key is not None and lease.key.endswith("000000000002.json")
    assert list_keys(fs, f"{path}/.eidata/lease") == []


def test_a_stage_refuses_a_prefix_without_datasets_before_the_lease(s3: S3Server, prefix: str, tmp_path: Path) -> None:
    url = f"s3://out/{prefix}/nothing"
    with pytest.raises(NotACorpus, match=f"{url}: no datasets/ in the bucket; not a corpus"):
        with Corpus.open(url + "/", s3.options(), "caption", scratch=tmp_path / "scratch", existing=True):
            pytest.fail("opened")
    fs, path = filesystem(f"s3://out/{prefix}", s3.options())
    assert list_keys(fs, path) == [] and not (tmp_path / "scratch").exists()  # not even a lease
