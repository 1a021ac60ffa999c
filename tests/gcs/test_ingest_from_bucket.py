"""`make demo`'s ingest job with its raw corpus in a bucket of the GCS emulator (every source's `root:` a gs:// URL, the
endpoint in the spec's `storage:`, anonymous as an emulator takes it), beside the same job on the local copy, with a
local output: the same datasets, every file byte for byte but the lineage's `raw_path` (the URL), the same counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gcs.server import GcsServer
from tests.store_cases import ingest_local_and_from_url


# slow: ~30 s; make test keeps every source read from gs:// (test_sources.py) and the ingest from s3:// roots
# (tests/s3/test_quarantine_bucket.py)
@pytest.mark.slow
@pytest.mark.shared_ray  # tests/ray_scope.py: the storage options reach the workers inside the pickled spec
def test_demo_ingest_from_gcs_writes_the_local_run_s_files(gcs: GcsServer, prefix: str, tmp_path: Path) -> None:
    ingest_local_and_from_url(tmp_path, f"gs://raw/{prefix}", {"endpoint_url": gcs.endpoint, "anon": True})
