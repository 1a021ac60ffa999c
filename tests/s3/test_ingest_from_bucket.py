"""`make demo`'s ingest job with its raw corpus in a bucket of the real S3 server (every source's `root:` an s3:// URL,
the credential in the spec's `storage:`), beside the same job on the local copy: the same datasets, every file byte
for byte, but the lineage's `raw_path`, which names where the raw file was read (the URL); the same quarantine; the
secret in no file of the corpus."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from adapters.storage.urls import filesystem
from jobs.demo.corpus import SOURCES, write_demo_spec, write_raw_corpus
from jobs.ingest.job import run_ingest
from jobs.spec import load_spec
from tests.s3.server import SECRET_KEY, S3Server


def _files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted((out / "datasets").rglob("*")) if p.is_file()}


@pytest.mark.shared_ray  # tests/ray_scope.py: the storage options reach the workers inside the pickled spec
def test_demo_ingest_from_the_bucket_writes_the_local_run_s_files(s3: S3Server, prefix: str, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    roots = write_raw_corpus(raw, sources=SOURCES)
    fs, _ = filesystem("s3://", s3.options())
    for f in sorted(p for p in raw.rglob("*") if p.is_file()):
        fs.put_file(str(f), f"raw/{prefix}/{f.relative_to(raw).as_posix()}")
    reports = {}
    for kind in ("local", "bucket"):
        spec_path = write_demo_spec(tmp_path / f"{kind}.yaml", roots, tmp_path / f"out_{kind}")
        if kind == "bucket":
            doc = yaml.safe_load(spec_path.read_text())
            storage = {"endpoint_url": s3.endpoint, "access_key_id": s3.access_key, "secret_access_key": s3.secret_key}
            for source in doc["sources"]:
                source["root"] = f"s3://raw/{prefix}/{Path(source['root']).relative_to(raw.resolve()).as_posix()}"
                source["storage"] = storage
            spec_path.write_text(yaml.safe_dump(doc, sort_keys=False))
        reports[kind] = run_ingest(load_spec(spec_path), progress=False)
    local, bucket = _files(tmp_path / "out_local"), _files(tmp_path / "out_bucket")
    assert local.keys() == bucket.keys() and len(local) > 90
    swap = (f"s3://raw/{prefix}".encode(), str(raw.resolve()).encode())
    for name in local:
        theirs = bucket[name].replace(*swap) if name.endswith("meta/episodes.jsonl") else bucket[name]
        assert local[name] == theirs, name
    assert any(f"s3://raw/{prefix}/".encode() in bucket[n] for n in bucket if n.endswith("episodes.jsonl"))
    tally = {k: {s: (t.written, t.quarantined, t.frames) for s, t in r.tallies.items()} for k, r in reports.items()}
    assert tally["local"] == tally["bucket"] and all(w > 0 and q > 0 for w, q, _ in tally["local"].values())
    corpus = [p for p in (tmp_path / "out_bucket").rglob("*") if p.is_file()]
    assert not [p for p in corpus if SECRET_KEY.encode() in p.read_bytes()]
