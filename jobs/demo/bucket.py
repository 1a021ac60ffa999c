"""The demo pipeline with its raw corpus and its output in a bucket (issue 27): the raw files the demo wrote locally are
uploaded under `<bucket>/raw/`, every source's `root:` and the job's `output:` become URLs (`<bucket>/corpus`), and
the credential travels in the validated spec only (the spec file written beside the demo names none)."""

from __future__ import annotations

from pathlib import Path

from adapters.storage.urls import filesystem
from jobs.spec_models import JobSpec
from schemas.storage import StorageOptions


def upload_tree(local: Path, url: str, options: StorageOptions | None) -> int:
    """Put every file under `local` at `url/<its relative path>`; returns the number of objects."""
    fs, path = filesystem(url, options)
    files = sorted(p for p in Path(local).rglob("*") if p.is_file())
    for f in files:
        fs.put_file(str(f), f"{path}/{f.relative_to(local).as_posix()}")
    return len(files)


def bucket_spec(spec: JobSpec, raw: Path, bucket: str, options: StorageOptions | None) -> JobSpec:
    """`spec` (the demo's over the local raw corpus `raw`) reading its sources from `bucket/raw/...` and writing to
    `bucket/corpus`, `options` the store's (None: the AWS environment). Uploads the raw corpus first."""
    bucket, raw = bucket.rstrip("/"), Path(raw).resolve()
    upload_tree(raw, f"{bucket}/raw", options)
    doc = spec.model_dump(mode="python")
    for source in doc["sources"]:
        source["root"] = f"{bucket}/raw/{Path(source['root']).resolve().relative_to(raw).as_posix()}"
        source["storage"] = options
    doc["output"], doc["output_storage"] = f"{bucket}/corpus", options
    return JobSpec.model_validate(doc)  # validation checks each URL and registers the options, as load_spec does
