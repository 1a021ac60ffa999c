"""Issue 27's done-when: `make demo`'s pipeline (ingest, captions, queries, curate, report) with its raw corpus and its
output in a bucket of the real S3 server writes the objects the local run writes as files, byte for byte, but where
the run names where it read or when it ran: the lineage `raw_path` (the raw file's URL instead of its path, in the
datasets' episodes.jsonl and so in the catalog's rows), the source findings' `root` and `path` (the same URLs), the
catalog's `ingested_at` (an object's LastModified, a file's mtime), the manifest's `created_at` and the job folder's
spec (URLs for paths) and run times. Those are compared after the same swap or without the column, never skipped. Two
demo runs on Ray: slow."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from adapters.storage.objects import list_keys
from adapters.storage.urls import filesystem
from jobs.catalog.query import run_query
from jobs.demo.pipeline import run_pipeline_demo
from schemas.manifest import Manifest
from tests.s3.server import S3Server
from tests.store_cases import bucket_query

pytestmark = [pytest.mark.slow, pytest.mark.shared_ray]

CATALOG_SQL = "SELECT * EXCLUDE (ingested_at) FROM episodes ORDER BY episode_uid"
QUARANTINE_SQL = "SELECT * EXCLUDE (quarantined_at) FROM quarantine"  # when a job quarantined it


def local_files(corpus: Path) -> dict[str, bytes]:
    """Every file of the local corpus but hidden ones (temp files, the catalog's digest cache) and the commands' locks
    (`job/<kind>.lock`, `jobs.output_lock`: which of them a bucket's job folder gets depends on the command)."""
    return {
        p.relative_to(corpus).as_posix(): p.read_bytes()
        for p in sorted(corpus.rglob("*"))
        if p.is_file() and p.suffix != ".lock" and not any(part.startswith(".") for part in p.relative_to(corpus).parts)
    }


def bucket_objects(url: str, s3: S3Server) -> dict[str, bytes]:
    """Every object of the bucket corpus but the protocol's own (`.eidata/`: commit records, lease) and the commands'
    locks (`local_files`)."""
    fs, path = filesystem(url, s3.options())
    keys = [k for k in list_keys(fs, path) if not any(p.startswith(".") for p in k.removeprefix(path).split("/"))]
    keys = [k for k in keys if not k.endswith(".lock")]
    return {k.removeprefix(path + "/"): fs.cat_file(k) for k in keys}


def table(data: bytes) -> list[dict]:
    return pq.read_table(io.BytesIO(data)).to_pylist()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_the_demo_on_a_bucket_writes_the_local_run_s_objects(s3: S3Server, prefix: str, tmp_path: Path) -> None:
    quiet = pytest.MonkeyPatch()
    quiet.setattr("builtins.print", lambda *a, **k: None)
    try:
        assert run_pipeline_demo(tmp_path / "local") == 0
        bucket = f"s3://out/{prefix}"
        assert run_pipeline_demo(tmp_path / "bucket", bucket=bucket, storage=s3.options()) == 0
    finally:
        quiet.undo()
    local_corpus, url = tmp_path / "local" / "corpus", f"{bucket}/corpus"
    local, remote = local_files(local_corpus), bucket_objects(url, s3)
    # quarantine parts are named by the time their job wrote them: compared by content through the query below
    parts = "catalog/quarantine/"
    assert len([n for n in local if n.startswith(parts)]) == len([n for n in remote if n.startswith(parts)]) > 0
    local = {n: v for n, v in local.items() if not n.startswith(parts)}
    remote = {n: v for n, v in remote.items() if not n.startswith(parts)}
    assert sorted(local) == sorted(remote)

    raw_url, raw_path = f"{bucket}/raw".encode(), str((tmp_path / "local" / "raw").resolve()).encode()
    differ = {
        name
        for name in local
        if name.endswith("meta/episodes.jsonl")  # lineage raw_path
        or name.startswith("catalog/episodes/")  # raw_path and ingested_at
        or name.startswith("catalog/source_findings/")  # the raw source's root and file
        or name == "job/spec.yaml"  # URLs for the paths (and the storage options, their secret masked)
        or name.endswith("/manifest.json")  # created_at, and the snapshot hash of the catalog parts
    }
    same = sorted(set(local) - differ)
    assert len(same) > 90 and any(n.startswith("job/") for n in same)
    assert [n for n in same if sha(local[n]) != sha(remote[n])] == []
    local_text = {n: local[n] for n in differ if n.endswith("meta/episodes.jsonl")}
    assert local_text and all(remote[n].replace(raw_url, raw_path) == local[n] for n in local_text)
    # the captions reached the bucket (the episodes' lineage, equal to the local run's above) and its catalog
    assert bucket_query(url, "SELECT count(caption) AS n FROM episodes", s3.options()).to_pylist()[0]["n"] > 0

    def swapped(rows: list[dict]) -> list[str]:
        """Rows as sorted text, the raw corpus's URL read as its local path wherever it is named."""
        return sorted(str(r).replace(raw_url.decode(), raw_path.decode()) for r in rows)

    findings = [n for n in differ if n.startswith("catalog/source_findings/")]
    assert findings and all(swapped(table(remote[n])) == swapped(table(local[n])) for n in findings)
    for sql in (CATALOG_SQL, QUARANTINE_SQL):
        assert swapped(bucket_query(url, sql, s3.options()).to_pylist()) == swapped(
            run_query(local_corpus, sql).to_pylist()
        )
    manifest = "manifests/demo_train/manifest.json"
    a, b = Manifest.model_validate_json(local[manifest]), Manifest.model_validate_json(remote[manifest])
    assert a.catalog_snapshot_hash != b.catalog_snapshot_hash  # the catalog's parts differ as above
    assert a.model_copy(update={"created_at": b.created_at, "catalog_snapshot_hash": b.catalog_snapshot_hash}) == b
    spec = remote["job/spec.yaml"].decode()
    assert f"{bucket}/raw/" in spec and f"{bucket}/corpus" in spec and s3.secret_key not in spec
    assert (tmp_path / "bucket" / "report.html").stat().st_size > 10_000
