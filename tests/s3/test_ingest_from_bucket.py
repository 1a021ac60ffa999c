"""`make demo`'s ingest job with its raw corpus in a bucket of the real S3 server (every source's `root:` an s3:// URL,
the credential in the spec's `storage:`), beside the same job on the local copy: the same datasets, every file byte
for byte, but the lineage's `raw_path`, which names where the raw file was read (the URL); the same quarantine; the
secret in no file of the corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.s3.server import SECRET_KEY, S3Server
from tests.store_cases import ingest_local_and_from_url


# slow: ~19 s; make test keeps tests/s3/test_quarantine_bucket.py (raw and output in the bucket, equal to the local run)
@pytest.mark.slow
@pytest.mark.shared_ray  # tests/ray_scope.py: the storage options reach the workers inside the pickled spec
def test_demo_ingest_from_the_bucket_writes_the_local_run_s_files(s3: S3Server, prefix: str, tmp_path: Path) -> None:
    storage = {"endpoint_url": s3.endpoint, "access_key_id": s3.access_key, "secret_access_key": s3.secret_key}
    ingest_local_and_from_url(tmp_path, f"s3://raw/{prefix}", storage)
    corpus = [p for p in (tmp_path / "out_url").rglob("*") if p.is_file()]
    assert not [p for p in corpus if SECRET_KEY.encode() in p.read_bytes()]
