"""A stage after ingest (caption, catalog, ...) on a corpus in a bucket (`s3://bucket/corpus`, DESIGN.md 3.2), and a
read-only local copy of such a corpus for the readers that open files by path (the report).

`bucket_corpus(url, options, job)` takes the output's lease (a running ingest or another stage refuses it), recovers
and hydrates the scratch corpus as `ingest.storage.bucket_output.BucketOutput` does for ingest, and yields the scratch:
the stage's local code runs on it unchanged. On a clean exit every dataset's meta edits are committed as one record each
(`ingest.storage.meta_change`), then `BucketOutput.publish` rewrites the meta from the records and mirrors `catalog/`
and `job/`. A stage that rebuilds the catalog there reads the episode digests from the commit records
(`scratch_digests`). The scratch holds no episode file, so a stage that decodes episodes (VLM captions, latents)
needs them fetched first: those do not run on a bucket yet.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from adapters.storage.location import options_for, register
from ingest.storage.bucket_output import SYNCED_DIRS, BucketOutput, bucket_of_scratch
from ingest.storage.meta_change import publish_meta_change
from ingest.storage.objects import list_keys
from ingest.storage.preflight import preflight_output
from ingest.storage.publish import derived_meta
from jobs.catalog.build import DigestsFor
from jobs.runtime.bucket_output import LEASE_TTL_ENV, LEASE_TTL_S
from schemas.storage import StorageOptions, is_remote


@contextmanager
def bucket_corpus(url: str, options: StorageOptions | None, job: str, *, scratch: Path | None = None) -> Iterator[Path]:
    """The scratch corpus standing for `url` while the stage `job` runs on it; see the module's docstring."""
    preflight_output(url, options)
    ttl_s = float(os.environ.get(LEASE_TTL_ENV) or LEASE_TTL_S)
    out = BucketOutput(url, options, scratch=scratch, job=job, ttl_s=ttl_s)
    register(out.url, options)  # the stage's catalog rebuild finds the credential by the scratch's URL
    out.open()
    try:
        yield out.scratch
        for rel in out.datasets():
            publish_meta_change(out.publisher(rel))
        out.publish()
    finally:
        out.close()
        register(out.url, None)


def scratch_digests(corpus_root: Path) -> DigestsFor | None:
    """For `rebuild_catalog(corpus_root, digests_for=...)` in a stage: the commit records' digests when
    `corpus_root` is a bucket's scratch corpus (its options as `bucket_corpus` registered them), else None."""
    from jobs.catalog.bucket import bucket_digests

    url = bucket_of_scratch(corpus_root)
    return None if url is None else bucket_digests(corpus_root, options_for(url))


def copy_corpus(url: str, dest: Path, options: StorageOptions | None = None) -> Path:
    """A read-only local copy of the corpus at `url` in `dest` (replaced): each dataset's meta derived from its
    commit records and the episode files they name, then `catalog/` and `job/`. No lease: a reader trusts the records,
    so objects of a commit in flight are not copied. Returns `dest`."""
    reader = BucketOutput(url, options, scratch=dest)  # no lease taken: only its listings and publishers
    fs, path = reader.fs, reader.path
    dest = Path(dest)
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)

    def fetch(key: str, rel: str) -> None:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_bytes(fs.cat_file(key))

    for rel in reader.datasets():
        pub = reader.publisher(rel)
        records = pub.log.records()
        for name, data in derived_meta(records).items():
            (dest / rel / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / rel / name).write_bytes(data)
        for r in records:
            for obj in r.objects:
                fetch(pub.log.final_key(obj), f"{rel}/{obj}")
    for top in SYNCED_DIRS:
        for key in list_keys(fs, f"{path}/{top}"):
            fetch(key, key.removeprefix(path + "/"))
    return dest


@contextmanager
def readable_corpus(root: str | Path, options: StorageOptions | None = None) -> Iterator[Path]:
    """A corpus folder to read by path: `root` itself, or for a bucket URL a temporary `copy_corpus` named as the URL's
    last part (removed after the block)."""
    if not is_remote(str(root)):
        yield Path(root)
        return
    with tempfile.TemporaryDirectory(prefix="eidata-corpus-") as tmp:
        yield copy_corpus(str(root), Path(tmp) / str(root).rstrip("/").rsplit("/", 1)[-1], options)
