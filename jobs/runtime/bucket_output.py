"""A job whose `output:` is a bucket URL (`s3://bucket/corpus`, DESIGN.md 3.2): the job runs on a local scratch corpus
that stands for the bucket, and what it commits there is published to the bucket exactly once.

`job_output(spec, job)` checks the output before any work (the bucket, the credential, and that the store refuses a
second conditional create: `ingest.storage.preflight.preflight_output`), takes the output's lease (a second job on the
output gets `OutputLeasedError` naming the first), recovers the bucket's datasets and rebuilds the scratch from them
(`ingest.storage.bucket_output.BucketOutput.open`), and yields the spec with `output` set to the scratch: the job's
local code (discovery's skip of what is done, staging, the committers, the quarantine parts) runs on it unchanged.
A committer attaches each dataset's publisher to its writer (`attach_publisher`: the scratch names its bucket). On a
clean exit the datasets' meta, the catalog and the job folder are published; on any exit the lease is released. Local
outputs pass through."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ingest.lerobot.writer import LeRobotWriter
from ingest.storage.bucket_output import BucketOutput, bucket_of_scratch
from ingest.storage.preflight import preflight_output
from jobs.spec_models import JobSpec
from schemas.storage import StorageOptions

LEASE_TTL_S = 300.0  # a killed job's output is free again after this (the ttl must exceed clock skew: minutes)
LEASE_TTL_ENV = "EIDATA_LEASE_TTL_S"  # another ttl, in seconds (tests use a few)


@contextmanager
def job_output(
    spec: JobSpec, job: str, *, scratch: Path | None = None
) -> Iterator[tuple[JobSpec, BucketOutput | None]]:
    """(the spec to run, the bucket output or None for a local one); see the module's docstring."""
    if not isinstance(spec.output, str):
        yield spec, None
        return
    preflight_output(spec.output, spec.output_storage)
    ttl_s = float(os.environ.get(LEASE_TTL_ENV) or LEASE_TTL_S)
    out = BucketOutput(spec.output, spec.output_storage, scratch=scratch, job=job, ttl_s=ttl_s)
    out.open()
    try:
        yield spec.model_copy(update={"output": out.scratch}), out
        out.publish()
    finally:
        out.close()


def attach_publisher(
    writer: LeRobotWriter, corpus_root: Path, dataset: str, options: StorageOptions | None
) -> LeRobotWriter:
    """When `corpus_root` is a bucket output's scratch corpus, publish `writer`'s commits (dataset `dataset` of it)
    to the bucket; else leave it be. Runs in a committer, which holds no lease itself (the job's driver does)."""
    url = bucket_of_scratch(corpus_root)
    if url is not None:
        writer.on_commit = BucketOutput(url, options, scratch=corpus_root).publisher(dataset).on_commit
    return writer
