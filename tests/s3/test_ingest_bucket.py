"""`eidata ingest` with `output: s3://...` (DESIGN.md 3.2), the demo corpus against a real S3 server: the datasets in
the bucket are the local run's files byte for byte, its catalog and quarantine answer as the local ones; a finished
job's rerun writes nothing; the driver SIGKILLed after its first commit, rerun at once, leaves the objects of the
uninterrupted run. Ray runs: the local reference (the session's `raw` and `reference` of tests/conftest.py, which the
job tests read too), one bucket job and its rerun; with --runslow a killed job and its rerun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.storage.objects import list_keys, list_modified
from adapters.storage.urls import filesystem
from jobs.catalog.query import run_query
from jobs.ingest.job import run_ingest
from jobs.spec import load_spec
from schemas.settings import ENV, Settings
from tests.fixtures.discovery import discover
from tests.jobs.demo_reference import demo_spec, hashes
from tests.jobs.ingest import crash_hooks
from tests.processes import group
from tests.s3.server import S3Server, child_env
from tests.store_cases import bucket_query

REPO = Path(__file__).resolve().parents[2]
TTL_S = 3.0
CATALOG_SQL = "SELECT * EXCLUDE (ingested_at) FROM episodes ORDER BY episode_uid"
QUARANTINE_SQL = "SELECT source, raw_path, stage, error_class, message FROM quarantine ORDER BY ALL"


@pytest.fixture(scope="module")
def local(reference: Path) -> Path:
    """The local run of the demo spec over `raw`: the session's (tests/conftest.py), only read."""
    return reference


@pytest.fixture(autouse=True)
def short_lease(settings: Any, tmp_path: Path) -> None:
    settings(lease_ttl_s=TTL_S, scratch=str(tmp_path / "scratch"))


def bucket_spec_file(raw: dict[str, Path], tmp: Path, url: str) -> Path:
    """The demo spec with `output: url` (the credential comes from the environment or `output_storage`)."""
    path = demo_spec(tmp, raw)
    spec = yaml.safe_load(path.read_text())
    spec["output"] = url
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def dataset_objects(s3: S3Server, url: str) -> dict[str, str]:
    """`hashes` of the bucket's datasets: every object but the protocol's `.eidata/`."""
    import hashlib

    fs, path = filesystem(url, s3.options())
    base = f"{path}/datasets/"
    keys = [k for k in list_keys(fs, base) if "/.eidata/" not in k]
    return {k.removeprefix(base): hashlib.sha256(fs.cat_file(k)).hexdigest() for k in keys}


@pytest.mark.shared_ray  # tests/ray_scope.py
def test_bucket_output_is_the_local_run(
    s3: S3Server, raw: dict[str, Path], local: Path, prefix: str, tmp_path: Path
) -> None:
    url = f"s3://out/{prefix}"
    spec = load_spec(bucket_spec_file(raw, tmp_path, url)).model_copy(update={"output_storage": s3.options()})
    report = run_ingest(spec, progress=False)
    assert sum(t.written for t in report.tallies.values()) > 0
    assert dataset_objects(s3, url) == hashes(local)
    assert bucket_query(url, CATALOG_SQL, s3.options()) == run_query(local, CATALOG_SQL)
    assert bucket_query(url, QUARANTINE_SQL, s3.options()) == run_query(local, QUARANTINE_SQL)
    fs, path = filesystem(url, s3.options())
    assert s3.secret_key.encode() not in fs.cat_file(f"{path}/job/spec.yaml")  # the spec kept says a secret was given

    before = list_modified(fs, f"{path}/datasets")
    again = run_ingest(spec, progress=False)
    assert sum(t.written for t in again.tallies.values()) == 0 and again.quarantined == 0
    assert list_modified(fs, f"{path}/datasets") == before  # nothing written, nothing rewritten


# the killed driver ran its own Ray in its own process, the rerun here on the shared one; slow (about 160 s here): the
# protocol's own kill points run in `make test` (tests/s3/test_publish.py)
@pytest.mark.slow
@pytest.mark.shared_ray
def test_sigkill_of_the_driver_then_rerun_gives_the_same_objects(
    s3: S3Server, raw: dict[str, Path], local: Path, prefix: str, tmp_path: Path
) -> None:
    url = f"s3://out/{prefix}"
    spec_path = bucket_spec_file(raw, tmp_path, url)
    uids = [it.uid for it in discover(load_spec(spec_path))[0]]
    first = uids[0]
    committed_log, err = tmp_path / "committed.txt", tmp_path / "driver.err"
    env = {
        **child_env(s3),
        "RAY_AUTH_MODE": "disabled",
        "RAY_USAGE_STATS_ENABLED": "0",
        # its lease would hold the output for 5 minutes; a dead holder here is followed at once
        ENV: Settings(lease_ttl_s=300, scratch=str(tmp_path / "killed-scratch")).model_dump_json(),
        crash_hooks.HOLD_ENV: json.dumps([u for u in uids if u != first]),
    }
    cmd = [sys.executable, "-m", "tests.jobs.ingest.crash_hooks", str(spec_path), str(committed_log)]
    # the driver and its embedded Ray die together when the block ends
    with err.open("w") as stderr, group(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=stderr) as proc:
        deadline = time.monotonic() + 240
        while not committed_log.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    assert committed_log.read_text().split() == [first], err.read_text()[-3000:]
    killed = dataset_objects(s3, url)
    assert killed and killed != hashes(local)
    spec = load_spec(spec_path).model_copy(update={"output_storage": s3.options()})
    run_ingest(spec, progress=False)  # another scratch folder: the rerun rebuilds it from the bucket
    assert dataset_objects(s3, url) == hashes(local)
    assert bucket_query(url, CATALOG_SQL, s3.options()) == run_query(local, CATALOG_SQL)
    fs, path = filesystem(url, s3.options())
    assert list_keys(fs, f"{path}/.eidata/lease") == []
    assert not [k for k in list_keys(fs, f"{path}/datasets") if "/.eidata/staging/" in k]


@pytest.mark.slow  # its own Ray (the hook reaches the workers through its environment): about 150 s here
@pytest.mark.own_ray
def test_a_killed_worker_is_retried(
    s3: S3Server, raw: dict[str, Path], local: Path, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker of the first raw episode SIGKILLs itself after staging it in the scratch (`crash_hooks`): Ray
    retries it, the bucket gets the local run's objects, and the killed attempt's staging never reaches the bucket."""
    url = f"s3://out/{prefix}"
    spec = load_spec(bucket_spec_file(raw, tmp_path, url)).model_copy(update={"output_storage": s3.options()})
    marker = tmp_path / "killed.pid"
    monkeypatch.setenv(crash_hooks.DIE_ONCE_ENV, json.dumps({"uid": discover(spec)[0][0].uid, "marker": str(marker)}))
    run_ingest(spec, progress=False, worker=crash_hooks.dying_process_episode)
    assert int(marker.read_text()) != os.getpid(), "the hook ran in the driver, not in a worker"
    assert dataset_objects(s3, url) == hashes(local)
    assert "worker" not in bucket_query(url, "SELECT DISTINCT stage FROM quarantine", s3.options())["stage"].to_pylist()
    fs, path = filesystem(url, s3.options())
    assert not [k for k in list_keys(fs, f"{path}/datasets") if "/.eidata/staging/" in k]
