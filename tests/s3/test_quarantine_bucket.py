"""The quarantine scenario (tests/jobs/test_quarantine_classes.py) on a bucket of the real S3 server: the same broken
raw corpus (tests/jobs/quarantine_corpus.py) read from `root: s3://...` and written to `output: s3://...`. Each class
is quarantined with the stage, error class and reason of the local run (the same message but where it names the raw
file: its URL instead of its path), the quarantine and catalog in the bucket answer as the local run's, the datasets
are the local run's files, no object of a rejected episode is in the bucket (no staging left, no commit record or
meta line names one), and a rerun publishes nothing: every object's key and ETag, and but for the job folder (the
running job's finished mark, put back at its clean end) its LastModified, are as before. Ray runs: the local reference
(the session's, `quarantine_local`, which tests/jobs/test_quarantine_classes.py checks), the bucket job and its
rerun."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from adapters.storage.objects import list_keys, list_modified
from adapters.storage.urls import filesystem
from jobs.catalog.query import run_query
from jobs.demo.corpus import placed_spec
from jobs.ingest.job import run_ingest
from jobs.ingest.report import IngestReport
from jobs.spec import load_spec
from jobs.spec_models import JobSpec
from schemas.corpus import JOB_DIR
from schemas.settings import ENV, Settings
from schemas.storage import StorageOptions
from tests.conftest import LocalRun
from tests.jobs.quarantine_corpus import (
    CASES,
    GOOD,
    QUARANTINE_SQL,
    Case,
    check_case,
)
from tests.s3.server import S3Server
from tests.s3.test_bucket_stage import files, objects
from tests.store_cases import bucket_query

pytestmark = pytest.mark.shared_ray  # tests/ray_scope.py: the storage options reach the workers in the pickled spec

CATALOG_SQL = "SELECT * EXCLUDE (ingested_at) FROM episodes ORDER BY episode_uid"
ROWS_SQL = "SELECT * EXCLUDE (quarantined_at) FROM quarantine ORDER BY episode_uid"  # when a job quarantined it
WRITTEN_SQL = "SELECT episode_uid FROM episodes"


def etags(url: str, options: StorageOptions) -> dict[str, str]:
    """Every object under `url` (the protocol's own included) -> its ETag, as the store lists them now."""
    fs, path = filesystem(url, options)
    fs.invalidate_cache()
    return {k: v["ETag"] for k, v in fs.find(path, detail=True).items() if v["type"] == "file"}


@dataclass
class Runs:
    raw: Path  # the raw corpus on disk (the local run's roots)
    raw_url: str  # its copy in the bucket (the bucket run's roots)
    local: Path
    url: str
    options: StorageOptions
    spec: JobSpec  # the bucket run's
    reports: dict[str, IngestReport]

    def swapped(self, rows: list[dict[str, Any]]) -> list[str]:
        """The bucket's rows as text, the raw corpus's URL read as its local path wherever it is named."""
        return sorted(str(r).replace(self.raw_url, str(self.raw)) for r in rows)

    def query(self, sql: str) -> list[dict[str, Any]]:
        return bucket_query(self.url, sql, self.options).to_pylist()


@pytest.fixture(scope="module")
def runs(s3: S3Server, quarantine_local: LocalRun, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """The local run is the session's (tests/conftest.py), the one tests/jobs/test_quarantine_classes.py checks."""
    tmp = tmp_path_factory.mktemp("quarantine_bucket")
    raw, local_spec = quarantine_local.raw, load_spec(quarantine_local.spec)
    bucket = f"s3://out/{tmp.name}"
    spec = placed_spec(local_spec, raw, bucket, s3.options())  # uploads the raw corpus under bucket/raw
    assert all(s.root.startswith(f"{bucket}/raw/") for s in spec.sources) and spec.output == f"{bucket}/corpus"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(ENV, Settings(scratch=str(tmp / "scratch")).model_dump_json())
        reports = {"local": quarantine_local.report, "bucket": run_ingest(spec, progress=False)}
    return Runs(raw, f"{bucket}/raw", quarantine_local.corpus, spec.output, s3.options(), spec, reports)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_class_is_quarantined_with_the_local_run_s_reason(runs: Runs, case: Case) -> None:
    quarantine = runs.query(QUARANTINE_SQL)
    written = [r["episode_uid"] for r in runs.query(WRITTEN_SQL)]
    check_case(case, quarantine, written, runs.raw_url)
    local = {r["episode_uid"]: r for r in run_query(runs.local, QUARANTINE_SQL).to_pylist()}
    for row in quarantine:
        if row["episode_uid"] in case.uids:  # the message names the raw file by its URL: else word for word
            assert runs.swapped([row]) == [str(local[row["episode_uid"]])], case.name


def test_quarantine_and_catalog_say_what_the_local_run_s_say(s3: S3Server, runs: Runs) -> None:
    assert runs.swapped(runs.query(ROWS_SQL)) == sorted(map(str, run_query(runs.local, ROWS_SQL).to_pylist()))
    assert runs.swapped(runs.query(CATALOG_SQL)) == sorted(map(str, run_query(runs.local, CATALOG_SQL).to_pylist()))
    tallies = {
        k: {s: (t.written, t.quarantined, t.frames) for s, t in r.tallies.items()} for k, r in runs.reports.items()
    }
    assert tallies["bucket"] == tallies["local"]
    assert runs.reports["bucket"].quarantined == runs.reports["local"].quarantined == sum(len(c.uids) for c in CASES)
    # the parts are named by the time their job wrote them and cut by time (`QuarantineWriter.flush_after_s`: a run
    # slowed by the machine's load writes more of them), so they are compared by content above and by rows here:
    # every row is in one part only
    rows = [pq.read_metadata(io.BytesIO(b)).num_rows for b in objects(runs.url, s3, "catalog/quarantine").values()]
    local = [pq.read_metadata(p).num_rows for p in sorted((Path(runs.local) / "catalog/quarantine").glob("*.parquet"))]
    assert sum(rows) == sum(local) == runs.reports["local"].quarantined


def test_no_object_of_a_rejected_episode_is_in_the_bucket(s3: S3Server, runs: Runs) -> None:
    bucket, local = objects(runs.url, s3), files(runs.local)
    assert sorted(bucket) == sorted(local) and len(local) > 20  # every episode file is one the local run kept
    for name, data in local.items():
        theirs = bucket[name].replace(runs.raw_url.encode(), str(runs.raw).encode())
        assert theirs == data, name  # episodes.jsonl names the raw files by URL, else byte for byte
    fs, path = filesystem(runs.url, runs.options)
    keys = list_keys(fs, f"{path}/datasets")
    assert not [k for k in keys if "/.eidata/staging/" in k], "staged objects left behind"
    texts = {k: fs.cat_file(k) for k in keys if not k.endswith((".parquet", ".mp4"))}  # commit records, meta
    rejected = [u.encode() for c in CASES for u in c.uids]
    assert not {k: [u for u in rejected if u in t] for k, t in texts.items() if any(u in t for u in rejected)}
    kept = [u.encode() for uids in GOOD.values() for u in uids]  # the same texts name every episode kept
    assert [u for u in kept if not any(u in t for t in texts.values())] == []


def test_a_rerun_publishes_nothing(runs: Runs, tmp_path: Path, settings: Any) -> None:
    fs, path = filesystem(runs.url, runs.options)
    before_tags, before_times = etags(runs.url, runs.options), _modified(fs, path)
    settings(scratch=str(tmp_path / "scratch"))  # another scratch: rebuilt from the bucket
    again = run_ingest(runs.spec, progress=False)
    assert sum(t.written for t in again.tallies.values()) == 0 and again.quarantined == 0
    assert etags(runs.url, runs.options) == before_tags
    assert _modified(fs, path) == before_times


def _modified(fs: Any, path: str) -> dict[str, datetime]:
    """LastModified of every object but the job folder's (a job takes its finished mark out of the bucket while it
    runs)."""
    return {k: t for k, t in list_modified(fs, path).items() if not k.startswith(f"{path}/{JOB_DIR}/")}
