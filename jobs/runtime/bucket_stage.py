"""A stage after ingest (caption, catalog, latents, text-embed, ...) on a corpus in a bucket (`s3://bucket/corpus`,
DESIGN.md 3.2), and a read-only local copy of such a corpus for the readers that open files by path (the report).

`bucket_corpus(url, options, job)` takes the output's lease (a running ingest or another stage refuses it), recovers
and hydrates the scratch corpus as `ingest.storage.bucket_output.BucketOutput` does for ingest, and yields the scratch:
the stage's local code runs on it unchanged. On a clean exit every dataset's meta edits are committed as one record each
(`ingest.storage.meta_change`), then `BucketOutput.publish` rewrites the meta from the records and mirrors `catalog/`
and `job/`. A stage that rebuilds the catalog there reads the episode digests from the commit records
(`scratch_digests`). `stage_corpus` is the same for a root that may be a folder or a URL (a stage's `CorpusWhere`).

The scratch holds no episode file. A stage that decodes episodes reads each file from the bucket where it is
(`ScratchCorpus.source` names the object; `adapters.storage.location.readable` opens it as a seekable file object
with bounded read-ahead, which PyAV decodes: `open_episode_file`, also for the VLM captions' frames), so nothing is
copied whole. A stage that derives files from the episodes (latents, text embeddings) writes them in the scratch as on
a local corpus, and its driver publishes each finished batch (`ScratchCorpus.publish`: the files put at their final
keys with `If-None-Match`, then one commit record naming them with their metadata, `ingest.storage.derived`), which
drops them from the scratch; what is done is read from the records (`ScratchCorpus.committed`), so a stage SIGKILLed
anywhere then rerun leaves the objects of an uninterrupted run, and the catalog's `latents_ready` follows the records.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field

from adapters.storage.location import locate, options_for, readable, register
from ingest.storage.bucket_output import SYNCED_DIRS, BucketOutput, bucket_of_scratch
from ingest.storage.derived import committed_derived, publish_derived
from ingest.storage.meta_change import publish_meta_change
from ingest.storage.objects import list_keys
from ingest.storage.preflight import preflight_output
from ingest.storage.publish import derived_meta
from jobs.catalog.build import DigestsFor
from jobs.runtime.bucket_output import LEASE_TTL_ENV, LEASE_TTL_S
from jobs.runtime.options import Arg, Opt, job_values
from schemas.storage import StorageOptions, is_remote


def _where(v: Any) -> Any:
    return Path(v) if isinstance(v, str) and not is_remote(v) else v


# a stage's corpus: a folder, or the URL of a corpus in a bucket (kept a string: a Path would fold `s3://`)
CorpusWhere = Annotated[
    Path | str,
    BeforeValidator(_where),
    Field(description="corpus folder (holding datasets/) or its bucket URL (s3://bucket/corpus)"),
]


def stage_values(command: str, args: Any, options: Sequence[Opt | Arg], model: type[BaseModel]) -> dict[str, Any]:
    """`jobs.runtime.stage.corpus_job_values`, but a bucket URL root passes as it is (`bucket_corpus` checks the
    bucket, the credential and the lease before any work)."""
    from jobs.runtime.stage import corpus_job_values

    if is_remote(str(args.root)):
        return job_values(args, options, model)
    return corpus_job_values(command, args, options, model)


@contextmanager
def stage_corpus(root: Path | str, options: StorageOptions | None, job: str) -> Iterator[Path]:
    """The corpus folder the stage `job` runs on: `root` itself, or for a bucket URL `bucket_corpus`'s scratch."""
    if not is_remote(str(root)):
        yield Path(root)
        return
    with bucket_corpus(str(root), options, job) as scratch:
        yield scratch


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


class ScratchCorpus:
    """A stage's view of the corpus folder it runs on: a local corpus (episode files read in place, derived files
    are the result as written), or a bucket's scratch corpus (`bucket_corpus`): episode files read from the bucket,
    derived files published there by batch and known done from the commit records. `what` names the stage in the
    records."""

    def __init__(self, corpus_root: Path, what: str) -> None:
        self.root, self.what = Path(corpus_root), what
        self.url = bucket_of_scratch(self.root)
        self._bucket: BucketOutput | None = None

    @property
    def _out(self) -> BucketOutput | None:
        """The bucket (its publishers; the lease is `bucket_corpus`'s), made on first use."""
        if self.url is not None and self._bucket is None:
            self._bucket = BucketOutput(self.url, options_for(self.url), scratch=self.root)
        return self._bucket

    def source(self, path: Path) -> str:
        """Where to read the episode file at `path` in the corpus folder: the path, or its object's URL."""
        if self.url is None:
            return str(path)
        return f"{self.url}/{Path(path).relative_to(self.root).as_posix()}"

    def committed(self, dataset_root: Path) -> dict[str, dict[str, str]] | None:
        """None on a local corpus (the files say what is done); in a bucket every derived file the dataset's records
        commit (relative to the dataset) -> its safetensors metadata."""
        if self._out is None:
            return None
        return committed_derived(self._out.publisher(Path(dataset_root).relative_to(self.root).as_posix()))

    def publish(self, paths: Iterable[str | Path]) -> int:
        """In a bucket, publish the derived files at `paths` (in the scratch, written whole), one record per dataset;
        locally nothing. Returns the number published. Runs in the stage's driver, which holds the lease."""
        if self._out is None:
            return 0
        by_dataset: dict[str, list[str]] = {}
        for p in paths:
            parts = Path(p).relative_to(self.root).parts  # datasets/<source>/<subset>/<file in the dataset>
            by_dataset.setdefault("/".join(parts[:3]), []).append("/".join(parts[3:]))
        for rel, files in sorted(by_dataset.items()):
            publish_derived(self._out.publisher(rel), self.what, files)
        return sum(map(len, by_dataset.values()))


@contextmanager
def open_episode_file(
    corpus_root: Path, path: Path, options: StorageOptions | None = None
) -> Iterator[str | IO[bytes]]:
    """An episode's file (an mp4) of the corpus at `corpus_root` as a library opens it (`decode_frames` takes
    either): the path, or for a bucket's scratch corpus the object as a seekable file object read by ranges. In a
    process other than the lease holder's pass the job's `options` (else the AWS environment decides)."""
    with readable(locate(ScratchCorpus(corpus_root, "").source(path), options)) as src:
        yield src


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
