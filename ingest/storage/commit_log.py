"""Exactly-once writes on an object store with no atomic rename: immutable numbered commit records (DESIGN.md 3.2).

Under `<output>/.eidata/`: `staging/<key>` holds an object before its commit (plain puts, rewritten freely by a rerun:
nothing trusts it); `commits/<seq>.json` (seq from 1, zero-padded, contiguous) is one commit record: the group it
commits (e.g. a raw episode's uid), every object it makes visible with its size and sha256, and the caller's meta. The
record's conditional put (`If-None-Match: *`) is the commit point: before it the group does not exist, after it it does,
and two writers can never both commit sequence n. Applying a record copies its staged objects to their final keys
(server-side) and deletes them from staging; it is idempotent, and only the last record can be unapplied (a record is
applied before the next is written), so `recover` applies that one and deletes the rest of staging as garbage.
Readers trust `committed_keys()` (or meta derived from the records), never a listing of final keys.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import fsspec

from ingest.storage.objects import copy, exists, list_keys, put, put_if_absent

COMMITS_DIR = ".eidata/commits"
STAGING_DIR = ".eidata/staging"


class CommitConflictError(RuntimeError):
    """A commit record with our sequence number exists: another writer committed (its lease was not ours)."""


@dataclass(frozen=True)
class CommitRecord:
    seq: int
    group: str
    objects: dict[str, dict[str, Any]]  # final key relative to the output -> {"size", "sha256"}
    meta: dict[str, Any] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        body = {"seq": self.seq, "group": self.group, "objects": self.objects, "meta": self.meta}
        return (json.dumps(body, sort_keys=True, separators=(",", ":")) + "\n").encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> CommitRecord:
        d = json.loads(data)
        return cls(seq=d["seq"], group=d["group"], objects=d["objects"], meta=d.get("meta", {}))


class CommitLog:
    """The commit records of one output. Mutating calls (`stage`, `commit`, `recover`) need the output's lease."""

    def __init__(self, fs: fsspec.AbstractFileSystem, output: str) -> None:
        self.fs, self.output = fs, output.rstrip("/")
        self._records: list[CommitRecord] | None = None

    def _record_key(self, seq: int) -> str:
        return f"{self.output}/{COMMITS_DIR}/{seq:012d}.json"

    def staged_key(self, rel: str) -> str:
        return f"{self.output}/{STAGING_DIR}/{rel}"

    def final_key(self, rel: str) -> str:
        return f"{self.output}/{rel}"

    def records(self, refresh: bool = False) -> list[CommitRecord]:
        """Every committed record, in sequence order (read once, then kept up to date by `commit`)."""
        if self._records is None or refresh:
            keys = list_keys(self.fs, f"{self.output}/{COMMITS_DIR}")
            out = [CommitRecord.from_bytes(self.fs.cat_file(k)) for k in keys if k.endswith(".json")]
            for i, r in enumerate(out, start=1):
                if r.seq != i:
                    raise RuntimeError(f"{self.output}: commit records are not contiguous at {i} (found {r.seq})")
            self._records = out
        return self._records

    def committed_groups(self) -> set[str]:
        return {r.group for r in self.records()}

    def committed_keys(self) -> set[str]:
        return {self.final_key(rel) for r in self.records() for rel in r.objects}

    def stage(self, rel: str, data: bytes) -> dict[str, Any]:
        """Put `data` in staging for final key `rel`; returns what the record will say of it."""
        put(self.fs, self.staged_key(rel), data)
        return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    def commit(
        self, group: str, objects: dict[str, dict[str, Any]], meta: dict[str, Any] | None = None
    ) -> CommitRecord:
        """Make `objects` (staged by `stage`) visible as one group: one conditional put, then apply."""
        records = self.records()
        record = CommitRecord(seq=len(records) + 1, group=group, objects=dict(sorted(objects.items())), meta=meta or {})
        if not put_if_absent(self.fs, self._record_key(record.seq), record.to_bytes()):
            self._records = None
            raise CommitConflictError(
                f"{self._record_key(record.seq)} exists: another writer committed to {self.output}"
            )
        records.append(record)
        self.apply(record)
        return record

    def apply(self, record: CommitRecord) -> None:
        """Copy the record's staged objects to their final keys and drop them from staging; safe to repeat."""
        for rel, want in record.objects.items():
            staged, final = self.staged_key(rel), self.final_key(rel)
            if exists(self.fs, staged):
                size = self.fs.info(staged)["size"]
                if size != want["size"]:
                    raise RuntimeError(f"{staged}: {size} bytes staged, record {record.seq} says {want['size']}")
                copy(self.fs, staged, final)
                self.fs.rm_file(staged)
            elif not exists(self.fs, final):
                raise RuntimeError(f"{final}: committed in record {record.seq} but neither staged nor in place")

    def recover(self) -> list[str]:
        """After a killed writer (call under the lease): finish the last record, delete uncommitted staged objects.
        Returns the garbage deleted."""
        records = self.records(refresh=True)
        if records:
            self.apply(records[-1])
        garbage = list_keys(self.fs, f"{self.output}/{STAGING_DIR}")
        for k in garbage:
            self.fs.rm_file(k)
        return garbage
