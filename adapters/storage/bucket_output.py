"""An output in a bucket (`output: s3://bucket/corpus`, an export's `--out`): the job's lease, the local scratch the
job's local code writes into, the part plan and, for a corpus, a publisher per dataset (`publish`; DESIGN.md 3.2). An
export tree (`tree.BucketTree`) takes its lease, scratch and parts from here.

`open` takes the lease and rebuilds the scratch from the bucket, so a rerun on any machine skips what is committed or
quarantined exactly as a rerun on a local output does; `job/` leaves the bucket until the job's clean end (a killed job
leaves no "finished" mark). `publish` rewrites every dataset's meta from its records and makes the bucket's
`catalog/`, then `job/`, the scratch's. The scratch (`$EIDATA_SCRATCH/<hash of the URL>`, default
`~/.cache/eidata/scratch`) is never trusted across runs: `open` rebuilds it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from adapters.storage.atomic import undo_on_error
from adapters.storage.lease import Lease
from adapters.storage.multipart import PartPlan, abort_uploads
from adapters.storage.objects import list_keys, list_prefixes, put_changed
from adapters.storage.publish import DatasetPublisher
from adapters.storage.root import Root
from schemas.corpus import DATASETS_DIR, JOB_DIR
from schemas.storage import StorageOptions

SYNCED_DIRS = ("catalog", JOB_DIR)  # corpus folders the scratch holds whole and the bucket mirrors, in this order


def default_scratch(url: str) -> Path:
    base = Path(os.environ.get("EIDATA_SCRATCH") or Path.home() / ".cache" / "eidata" / "scratch")
    return base / hashlib.sha256(url.rstrip("/").encode()).hexdigest()[:16]


class BucketOutput:
    """`with BucketOutput(url, options, job="ingest") as out:` the lease held and the scratch rebuilt for the block."""

    def __init__(
        self,
        url: str,
        options: StorageOptions | None = None,
        *,
        scratch: Path | None = None,
        job: str = "ingest",
        ttl_s: float | None = None,
    ) -> None:
        self.storage = Root(url, options)  # the one handle
        self.url, self.options, self.fs, self.path = self.storage.where, options, self.storage.fs, self.storage.path
        self.parts = PartPlan.of(options)  # which objects go in parts (multipart upload)
        self.scratch = Path(scratch) if scratch is not None else default_scratch(self.url)
        self.lease = Lease(self.storage, job=job, ttl_s=ttl_s)
        self._publishers: dict[str, DatasetPublisher] = {}

    def datasets(self) -> list[str]:
        """`datasets/<source>/<subset>` of every dataset in the bucket with at least one commit record."""
        sources = list_prefixes(self.fs, f"{self.path}/{DATASETS_DIR}")
        subsets = [self._rel(subset) for source in sources for subset in list_prefixes(self.fs, source)]
        return [rel for rel in subsets if self.publisher(rel).log.records(refresh=True)]

    def _rel(self, key: str) -> str:
        return key.removeprefix(self.path + "/")

    def publisher(self, rel: str) -> DatasetPublisher:
        """The publisher of the dataset `rel` (`datasets/<source>/<subset>`), writing in `scratch / rel`."""
        if rel not in self._publishers:
            dataset = Root(self.storage.url(rel), self.options)
            self._publishers[rel] = DatasetPublisher(dataset, self.scratch / rel, parts=self.parts)
        return self._publishers[rel]

    def open(self) -> list[str]:
        """Take the lease, recover every dataset, rebuild the scratch; returns the garbage keys deleted."""
        self.lease.acquire()
        with undo_on_error(self.lease.release):
            garbage = abort_uploads(self.fs, self.path)  # a dead job's incomplete uploads, datasets without records too
            datasets = self.datasets()
            for rel in datasets:
                garbage += self.publisher(rel).recover()
            self.rebuild(datasets, SYNCED_DIRS)
            # the job folder is the running job's: out of the bucket until its clean end puts it back, so a killed
            # job leaves no "finished" mark there and its rerun takes the interrupted path (roll forward, catalog)
            for key in list_keys(self.fs, f"{self.path}/{JOB_DIR}"):
                self.fs.rm_file(key)
            return garbage

    def rebuild(self, datasets: Iterable[str], tops: Iterable[str], *, episodes: bool = False) -> Path:
        """The scratch made again from the bucket: each of `datasets` its meta derived from its records (`episodes`:
        and its committed episode files; a commit in flight is not seen), each folder of `tops` copied whole."""
        shutil.rmtree(self.scratch, ignore_errors=True)
        self.scratch.mkdir(parents=True)
        for rel in datasets:
            pub = self.publisher(rel)
            pub.hydrate()
            for obj in (o for r in pub.log.records() for o in r.objects) if episodes else ():
                (self.scratch / rel / obj).parent.mkdir(parents=True, exist_ok=True)
                (self.scratch / rel / obj).write_bytes(self.fs.cat_file(pub.log.final_key(obj)))
        for rel in tops:
            self.download(rel)
        return self.scratch

    def publish(self) -> list[str]:
        """Every dataset's meta from its records, then the scratch's `catalog/` and `job/`; returns the keys put."""
        written = []
        for rel in sorted(set(self._publishers) | set(self.datasets())):
            written += [f"{rel}/{m}" for m in self.publisher(rel).finish()]
        for rel in SYNCED_DIRS:  # the job folder last: its presence says the job before ran to its end
            written += self._upload(rel)
        return written

    def close(self) -> None:
        self.lease.release()

    def __enter__(self) -> BucketOutput:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def download(self, rel: str) -> None:
        """The bucket's folder `rel` (of the corpus) copied whole into the scratch."""
        for key in list_keys(self.fs, f"{self.path}/{rel}"):
            local = self.scratch / self._rel(key)
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(self.fs.cat_file(key))

    def _upload(self, rel: str) -> list[str]:
        """Make the bucket's `rel/` the scratch's: put what differs, delete what the scratch no longer has (a catalog
        rebuild replaces its parts). Hidden files (temp files, locks) stay local."""
        root = self.scratch / rel
        local = {
            p.relative_to(self.scratch).as_posix(): p
            for p in (sorted(root.rglob("*")) if root.exists() else [])
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
        }
        written = [name for name, p in local.items() if put_changed(self.fs, f"{self.path}/{name}", p.read_bytes())]
        for key in list_keys(self.fs, f"{self.path}/{rel}"):
            if self._rel(key) not in local:
                self.fs.rm_file(key)
        return written
