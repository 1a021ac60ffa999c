"""`eidata ingest` with `output: s3://bucket/corpus` (DESIGN.md 3.2): the job as on a local output, run on the scratch
corpus that stands for the bucket (`jobs.runtime.bucket_output.job_output`: preflight, the output's lease, recovery,
the scratch rebuilt from the bucket), its committers publishing each commit as it lands, and at its clean end the
datasets' meta, the catalog (rebuilt from the commit records) and the job folder published. A killed job's rerun
recovers the bucket first, then skips what the records and the quarantine say is done, as a local rerun does."""

from __future__ import annotations

from typing import Any

from jobs.ingest.report import IngestReport
from jobs.runtime.bucket_output import job_output
from jobs.spec_models import JobSpec


def run_ingest_to_bucket(spec: JobSpec, **kw: Any) -> IngestReport:
    """`jobs.ingest.job.run_ingest` for a bucket output; `kw` are its keyword arguments."""
    from jobs.ingest.job import run_ingest

    with job_output(spec, "ingest") as (local, _):
        report = run_ingest(local, **kw)
    return report
