"""A LeRobot dataset in a bucket, written exactly once by the local writer, published commit by commit (DESIGN 3.2).

The writer works unchanged in a local scratch folder, so every byte it makes is the byte a local output gets. After
each commit (its `on_commit` hook) the publisher puts the episode's immutable files at their final keys with a
conditional create, then writes the commit record (`commit_log`), the commit point: it carries the jsonl lines the
commit appended and the next `info.json` text, so the meta files are a pure function of the records (`derived_meta`).
There is no staging key: a final key that no record names is invisible to every reader and recovery deletes it.
`recover` (under the output's lease, before any work) and `hydrate` (the scratch rebuilt from the records alone) let a
rerun on another machine continue at the same episode index with the same tasks as the killed run.
"""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from adapters.storage.commit_log import CommitConflictError, CommitLog, CommitRecord
from adapters.storage.multipart import PartPlan, abort_uploads, put_final
from adapters.storage.objects import put_changed
from adapters.storage.root import Root
from schemas.lerobot import INFO_PATH, split_lines
from schemas.storage import STATE_DIR

PUT_THREADS = 8  # an episode's files are put at once: its parquet and one mp4 per camera
# where a dataset's immutable files live: the episodes', and those stages derive from them (`adapters.storage.derived`)
EPISODE_TOPS = ("data", "videos", "latents")
CLAIMS_DIR = f"{STATE_DIR}/claims"  # who may complete a final key put in parts (`adapters.storage.multipart`)


class PublishError(RuntimeError):
    """Publishing a commit to the bucket failed; the writer's later commits are refused until a rerun recovers."""


def record_meta(journal: dict[str, Any]) -> dict[str, Any]:
    """What a commit record keeps of a writer's commit journal: the text each meta file gained and the next
    `info.json` as text (its key order is lerobot's, and a record is stored with sorted keys)."""
    return {
        "appends": {rel: op["text"] for rel, op in sorted(journal["appends"].items())},
        "info": json.dumps(journal["info"], indent=4, ensure_ascii=False),
        "episodes": [e["episode_index"] for e in journal["episodes"]],
    }


def record_group(journal: dict[str, Any]) -> str:
    """The raw episode the commit's episodes were cut from (their lineage), else their indices."""
    lineage = journal["episodes"][0].get("eidata") or {}
    return lineage.get("raw_uid") or "episodes " + ",".join(str(e["episode_index"]) for e in journal["episodes"])


def derived_meta(records: list[CommitRecord]) -> dict[str, bytes]:
    """The dataset's meta files from its records: each jsonl the concatenation of the text every record appended to
    it, with the lines a meta change rewrote (`adapters.storage.object_store`) replaced in order, `info.json` the last
    record's. Byte for byte what the local writer's journals leave on disk."""
    if not records:
        return {}
    lines: dict[str, list[str]] = {}
    info = ""
    whole: dict[str, bytes] = {}  # meta files a stage wrote whole (GR00T's modality.json: meta_change.py)
    for r in records:
        for rel, by_line in r.meta.get("lines", {}).items():  # a meta change's rewritten lines (meta_change.py)
            for n, text in by_line.items():
                lines[rel][int(n)] = text
        for rel, text in r.meta.get("appends", {}).items():  # a derived files' record appends nothing (derived.py)
            lines.setdefault(rel, []).extend(split_lines(text))
        info = r.meta.get("info", info)
        whole.update((rel, text.encode()) for rel, text in r.meta.get("files", {}).items())
    out = dict(sorted(({rel: "".join(parts).encode() for rel, parts in lines.items()} | whole).items()))
    out[INFO_PATH] = info.encode()  # last: a reader trusting info's totals sees complete lines
    return out


class DatasetPublisher:
    """One dataset at `root` (`bucket/corpus/datasets/<source>/<subset>`), written in `scratch`.

    Published episode files are deleted from the scratch folder, so it holds the meta and the episodes being staged,
    not the corpus. `parts`: which files go in parts (multipart upload; default: `StorageOptions`' thresholds)."""

    def __init__(self, root: Root, scratch: Path, *, parts: PartPlan | None = None) -> None:
        self.root, self.prefix, self.scratch = root, root.path, Path(scratch)
        self.parts = parts or PartPlan.of(None)
        self.log = CommitLog(root)
        self._failed: BaseException | None = None

    def recover(self) -> list[str]:
        """Roll the last record forward, delete staged and final keys no record names and the claims of those put in
        parts, abort the dataset's incomplete uploads, rewrite the meta. Returns the keys deleted or aborted."""
        garbage = self.log.recover() + abort_uploads(self.root.fs, self.prefix)
        committed = self.log.committed_keys()
        # a killed run's claims (its keys are deleted too), then the final keys no record names
        stale = [k for k in self.root.keys(CLAIMS_DIR) if self.root.key(k[len(CLAIMS_DIR) + 1 :]) not in committed]
        stale += [k for top in EPISODE_TOPS for k in self.root.keys(top) if self.root.key(k) not in committed]
        for rel in stale:
            self.root.remove(rel)
        self.publish_meta()
        return garbage + [self.root.key(rel) for rel in stale]

    def hydrate(self) -> bool:
        """Make the scratch folder the bucket's dataset without its episode files: the meta derived from the records
        (nothing else survives). False when the bucket has no record of this dataset (the scratch is then empty)."""
        shutil.rmtree(self.scratch, ignore_errors=True)
        meta = derived_meta(self.log.records())
        if not meta:
            return False
        (self.scratch / STATE_DIR).mkdir(parents=True)
        for rel, data in meta.items():
            path = self.scratch / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return True

    def on_commit(self, journal: dict[str, Any]) -> None:
        """`LeRobotWriter.on_commit`: publish the commit just applied in the scratch folder. A failure is final for
        this publisher (the scratch is a commit ahead of the bucket): the job stops and its rerun recovers."""
        if self._failed is not None:
            raise PublishError(f"{self.prefix}: an earlier commit failed to publish ({self._failed}); rerun the job")
        if "meta_update" in journal:
            raise PublishError(f"{self.prefix}: meta updates are not published to a bucket yet")
        try:
            self._publish(journal)
        except BaseException as e:
            self._failed = e
            if isinstance(e, CommitConflictError | PublishError):
                raise
            raise PublishError(f"{self.prefix}: publishing episodes {record_meta(journal)['episodes']}: {e}") from e

    def _publish(self, journal: dict[str, Any]) -> CommitRecord:
        rels = [rel for _, rel in journal["moves"]]
        return self.publish_files(record_group(journal), rels, record_meta(journal))

    def publish_files(self, group: str, rels: list[str], meta: dict[str, Any]) -> CommitRecord:
        """Put the scratch files `rels` at their final keys (conditional creates, at once), then commit them as one
        record of `group` with `meta`; the local copies are dropped."""
        with ThreadPoolExecutor(max_workers=min(len(rels), PUT_THREADS) or 1) as pool:  # the puts at once
            objects = dict(zip(rels, pool.map(self._put_object, rels), strict=True))
        record = self.log.commit(group, objects, meta, in_place=True)
        for rel in objects:
            (self.scratch / rel).unlink(missing_ok=True)
        return record

    def finish(self) -> list[str]:
        """A job's end: the meta rewritten, the records compacted (`CommitLog.compact`); returns the meta written."""
        written = self.publish_meta()
        self.log.compact()
        return written

    def _put_object(self, rel: str) -> dict[str, Any]:
        """Put one episode file at its final key (`put_final`); returns what the record says of it."""
        key = self.log.final_key(rel)
        if self.log.is_committed(key):
            raise CommitConflictError(f"{key}: already committed; the scratch folder is behind the bucket")
        # recovery deleted every uncommitted key: one taken since holds our bytes or is another writer's
        claim = self.root.key(f"{CLAIMS_DIR}/{rel}")
        return put_final(self.root.fs, key, self.scratch / rel, self.parts, claim=claim)[1]

    def publish_meta(self) -> list[str]:
        """Rewrite the meta files from the records where they differ; returns the files written."""
        meta = derived_meta(self.log.records())
        return [rel for rel, data in meta.items() if put_changed(self.root.fs, self.log.final_key(rel), data)]
