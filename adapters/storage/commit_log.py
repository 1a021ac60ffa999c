"""Exactly-once writes on an object store with no atomic rename: immutable numbered commit records (DESIGN.md 3.2).

Under `<output>/.eidata/`: `staging/<key>` holds an object before its commit (plain puts: nothing trusts it);
`commits/<seq>.json` (seq from 1, contiguous) is one commit record: the group it commits, every object it makes
visible with its size and sha256, and the caller's meta. The record's conditional put is the commit point: two
writers can never both commit sequence n. Applying a record copies its staged objects to their final keys and deletes
them from staging; it is idempotent, and only the last record can be unapplied, so `recover` applies that one and
deletes the rest of staging. Readers trust `committed_keys()` (or meta derived from the records), never a listing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import fsspec

from adapters.storage.objects import copy, exists, list_keys, put, put_if_absent

COMMITS_DIR = ".eidata/commits"
COMPACTED_DIR = ".eidata/compacted"
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
        self._keys: set[str] = set()  # the final keys the records name

    def _record_key(self, seq: int) -> str:
        return f"{self.output}/{COMMITS_DIR}/{seq:012d}.json"

    def staged_key(self, rel: str) -> str:
        return f"{self.output}/{STAGING_DIR}/{rel}"

    def final_key(self, rel: str) -> str:
        return f"{self.output}/{rel}"

    def records(self, refresh: bool = False) -> list[CommitRecord]:
        """Every committed record, in sequence order (read once, then kept up to date by `commit`): the newest
        compaction, then the records after it (one listing from there, a GET each)."""
        if self._records is None or refresh:
            out = self._compacted()
            start_after = self._record_key(len(out)) if out else None
            keys = list_keys(self.fs, f"{self.output}/{COMMITS_DIR}", start_after=start_after)
            out += [CommitRecord.from_bytes(self.fs.cat_file(k)) for k in keys if k.endswith(".json")]
            for i, r in enumerate(out, start=1):
                if r.seq != i:
                    raise RuntimeError(f"{self.output}: commit records are not contiguous at {i} (found {r.seq})")
            self._records = out
            self._keys = {self.final_key(rel) for r in out for rel in r.objects}
        return self._records

    def _compacted(self) -> list[CommitRecord]:
        keys = [k for k in list_keys(self.fs, f"{self.output}/{COMPACTED_DIR}") if k.endswith(".jsonl")]
        if not keys:
            return []
        data = self.fs.cat_file(keys[-1])
        out = [CommitRecord.from_bytes(line) for line in data.splitlines()]
        if len(out) != int(keys[-1].rsplit("/", 1)[-1].removesuffix(".jsonl")):
            raise RuntimeError(f"{keys[-1]}: holds {len(out)} records, its name says otherwise")
        return out

    def compact(self) -> str | None:
        """Every record so far in one object, `compacted/<n>.jsonl` (their bytes, one a line), so that the next job
        reads one object and the records after it instead of n (call under the lease, when no commit is running:
        the end of a job). Older compactions are deleted. Returns the key written, None when there was nothing new."""
        records = self.records(refresh=True)
        folder = f"{self.output}/{COMPACTED_DIR}"
        key = f"{folder}/{len(records):012d}.jsonl"
        existing = list_keys(self.fs, folder)
        wrote = None
        if records and key not in existing:
            put_if_absent(self.fs, key, b"".join(r.to_bytes() for r in records))
            wrote = key
        for old in existing:
            if old != key:
                self.fs.rm_file(old)
        return wrote

    def committed_keys(self) -> set[str]:
        self.records()
        return set(self._keys)

    def is_committed(self, key: str) -> bool:
        """Whether a record names the final key `key` (a set lookup: no copy of every committed key)."""
        self.records()
        return key in self._keys

    def stage(self, rel: str, data: bytes) -> dict[str, Any]:
        """Put `data` in staging for final key `rel`; returns what the record will say of it."""
        put(self.fs, self.staged_key(rel), data)
        return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    def commit(
        self,
        group: str,
        objects: dict[str, dict[str, Any]],
        meta: dict[str, Any] | None = None,
        *,
        in_place: bool = False,
    ) -> CommitRecord:
        """Make `objects` (staged by `stage`, or with `in_place` already put at their final keys by the caller) visible
        as one group: one conditional put, then apply (nothing to apply in place: no request more)."""
        records = self.records()
        record = CommitRecord(seq=len(records) + 1, group=group, objects=dict(sorted(objects.items())), meta=meta or {})
        if not put_if_absent(self.fs, self._record_key(record.seq), record.to_bytes()):
            self._records = None
            raise CommitConflictError(
                f"{self._record_key(record.seq)} exists: another writer committed to {self.output}"
            )
        records.append(record)
        self._keys.update(self.final_key(rel) for rel in record.objects)
        if not in_place:
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
        """After a killed writer (under the lease): finish the last record, delete the staged garbage; returns it."""
        if records := self.records(refresh=True):
            self.apply(records[-1])
        garbage = list_keys(self.fs, f"{self.output}/{STAGING_DIR}")
        for k in garbage:
            self.fs.rm_file(k)
        return garbage
