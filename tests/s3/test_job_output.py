"""A job's bucket output (`jobs.runtime.bucket_output`) against a real S3 server: the job runs on a scratch corpus, its
commits reach the bucket, its meta only on a clean exit; a second job is refused while the first runs, a job killed on
this host is followed at once; a refused credential is named before any work (no lease taken)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from adapters.storage.urls import StorageError, filesystem
from ingest.lerobot.writer import LeRobotWriter
from ingest.storage.lease import OutputLeasedError
from ingest.storage.objects import list_keys
from jobs.runtime.bucket_output import attach_publisher, job_output
from jobs.spec_models import JobSpec
from schemas.storage import StorageOptions
from tests.fixtures.episodes import canonical_frames, canonical_test_features
from tests.s3.server import SECRET_KEY, S3Server, child_env

REPO = Path(__file__).resolve().parents[2]

DATASET = "datasets/demo/default"


def spec_for(output: str, options: StorageOptions | None, tmp_path: Path) -> JobSpec:
    # a root a spec accepts (a LeRobot root holds meta/info.json: jobs/spec_models.py), never read by these tests
    (tmp_path / "raw" / "meta").mkdir(parents=True, exist_ok=True)
    (tmp_path / "raw" / "meta" / "info.json").touch()
    sources = [{"name": "demo", "adapter": "lerobot", "root": str(tmp_path / "raw")}]
    return JobSpec.model_validate({"output": output, "output_storage": options, "sources": sources})


def commit_one(spec: JobSpec, url: str, options: StorageOptions) -> None:
    root = Path(spec.output) / DATASET
    with LeRobotWriter.create_or_open(root, fps=10, features=canonical_test_features(), robot_type="franka") as w:
        attach_publisher(w, Path(spec.output), DATASET, options)
        with w.episode(task="pick") as b:
            for frame in canonical_frames(5, seed=1):
                b.add_frame(frame)


def test_local_output_passes_through(tmp_path: Path) -> None:
    spec = spec_for(str(tmp_path / "out"), None, tmp_path)
    with job_output(spec, "ingest") as (run_spec, bucket):
        assert run_spec is spec and bucket is None


def test_bucket_output_job(s3: S3Server, prefix: str, tmp_path: Path) -> None:
    url = f"s3://out/{prefix}"
    spec = spec_for(url, s3.options(), tmp_path)
    fs, path = filesystem(url, s3.options())
    with job_output(spec, "ingest", scratch=tmp_path / "scratch") as (run_spec, bucket):
        assert bucket is not None and run_spec.output == tmp_path / "scratch"
        with pytest.raises(OutputLeasedError, match="job 'ingest'"), job_output(spec, "ingest"):
            pass
        commit_one(run_spec, url, s3.options())
        assert len(list_keys(fs, f"{path}/{DATASET}/.eidata/commits")) == 1  # committed as it landed
        assert list_keys(fs, f"{path}/{DATASET}/meta") == []  # the meta waits for the end of the job
    assert len(list_keys(fs, f"{path}/{DATASET}/meta")) == 4
    assert list_keys(fs, f"{path}/.eidata/lease") == []

    with pytest.raises(RuntimeError, match="the job failed"):
        with job_output(spec, "ingest", scratch=tmp_path / "scratch") as (run_spec, _):
            commit_one(run_spec, url, s3.options())
            raise RuntimeError("the job failed")
    assert len(list_keys(fs, f"{path}/{DATASET}/.eidata/commits")) == 2
    assert b'"total_episodes": 1' in fs.cat_file(f"{path}/{DATASET}/meta/info.json")  # not republished
    assert list_keys(fs, f"{path}/.eidata/lease") == []
    with job_output(spec, "ingest", scratch=tmp_path / "elsewhere"):  # the next job's recovery publishes it
        pass
    assert b'"total_episodes": 2' in fs.cat_file(f"{path}/{DATASET}/meta/info.json")


def test_refused_credential_before_any_work(s3: S3Server, prefix: str, tmp_path: Path) -> None:
    wrong = StorageOptions(endpoint_url=s3.endpoint, access_key_id=s3.access_key, secret_access_key="not-it")
    spec = spec_for(f"s3://out/{prefix}", wrong, tmp_path)
    with pytest.raises(StorageError) as e, job_output(spec, "ingest", scratch=tmp_path / "scratch"):
        pass
    assert f"s3://out/{prefix}" in str(e.value) and "not-it" not in str(e.value) and SECRET_KEY not in str(e.value)
    fs, path = filesystem(f"s3://out/{prefix}", s3.options())
    assert list_keys(fs, path) == [] and not (tmp_path / "scratch").exists()


def test_a_job_killed_on_this_host_is_followed_at_once(s3: S3Server, prefix: str, tmp_path: Path) -> None:
    """kill -9 of a job holding the bucket output (a real process: `job_output` as `eidata ingest` takes it), then a
    rerun at once, the 300 s ttl far from over: the dead holder's lease is taken over, the reason logged (issue 38;
    before, the rerun was refused for up to 300 s)."""
    url = f"s3://out/{prefix}"
    spec_for(url, None, tmp_path)  # the raw root the child's spec names
    code = (
        "import sys, time\n"
        "from jobs.runtime.bucket_output import job_output\n"
        "from jobs.spec_models import JobSpec\n"
        f"spec = JobSpec.model_validate({{'output': {url!r}, 'sources': [{{'name': 'demo', 'adapter': 'lerobot',"
        f" 'root': {str(tmp_path / 'raw')!r}}}]}})\n"
        f"with job_output(spec, 'ingest', scratch={str(tmp_path / 'killed')!r}):\n"
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
    spec = spec_for(url, s3.options(), tmp_path)
    fs, path = filesystem(url, s3.options())
    assert len(list_keys(fs, f"{path}/.eidata/lease")) == 1  # the killed job's lease, fresh
    with job_output(spec, "ingest", scratch=tmp_path / "scratch") as (_, bucket):
        assert bucket is not None and bucket.lease.key is not None and bucket.lease.key.endswith("000000000002.json")
    assert list_keys(fs, f"{path}/.eidata/lease") == []
