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

from adapters.storage.root import Root

COMMITS_DIR = ".eidata/commits"
COMPACTED_DIR = ".eidata/compacted"
STAGING_DIR = ".eidata/staging"


def digest_of(data: bytes) -> dict[str, Any]:
    """What a commit record says of an object: its size and sha256."""
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


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
    """The commit records of the output at `root`. Mutating calls (`stage`, `commit`, `recover`) need its lease."""

    def __init__(self, root: Root) -> None:
        self.root, self.output = root, root.path
        self._records: list[CommitRecord] | None = None
        self._keys: set[str] = set()  # the final keys the records name

    @staticmethod
    def _record(seq: int) -> str:
        return f"{COMMITS_DIR}/{seq:012d}.json"

    def final_key(self, rel: str) -> str:
        return self.root.key(rel)

    def records(self, refresh: bool = False) -> list[CommitRecord]:
        """Every committed record, in sequence order (read once, then kept up to date by `commit`): the newest
        compaction, then the records after it (one listing from there, a GET each)."""
        if self._records is None or refresh:
            out = self._compacted()
            keys = self.root.keys(COMMITS_DIR, start_after=self._record(len(out)) if out else None)
            out += [CommitRecord.from_bytes(self.root.read(k)) for k in keys if k.endswith(".json")]
            for i, r in enumerate(out, start=1):
                if r.seq != i:
                    raise RuntimeError(f"{self.output}: commit records are not contiguous at {i} (found {r.seq})")
            self._records = out
            self._keys = {self.final_key(rel) for r in out for rel in r.objects}
        return self._records

    def _compacted(self) -> list[CommitRecord]:
        keys = [k for k in self.root.keys(COMPACTED_DIR) if k.endswith(".jsonl")]
        if not keys:
            return []
        out = [CommitRecord.from_bytes(line) for line in self.root.read(keys[-1]).splitlines()]
        if len(out) != int(keys[-1].rsplit("/", 1)[-1].removesuffix(".jsonl")):
            raise RuntimeError(f"{self.root.key(keys[-1])}: holds {len(out)} records, its name says otherwise")
        return out

    def compact(self) -> str | None:
        """Every record so far in one object, `compacted/<n>.jsonl` (their bytes, one a line), so that the next job
        reads one object and the records after it instead of n (call under the lease, when no commit is running:
        the end of a job). Older compactions are deleted. Returns the key written, None when there was nothing new."""
        records = self.records(refresh=True)
        rel = f"{COMPACTED_DIR}/{len(records):012d}.jsonl"
        existing = self.root.keys(COMPACTED_DIR)
        wrote = None
        if records and rel not in existing:
            self.root.create(rel, b"".join(r.to_bytes() for r in records))
            wrote = self.root.key(rel)
        for old in existing:
            if old != rel:
                self.root.remove(old)
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
        self.root.put(f"{STAGING_DIR}/{rel}", data)
        return digest_of(data)

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
        if not self.root.create(self._record(record.seq), record.to_bytes()):
            self._records = None
            raise CommitConflictError(
                f"{self.root.key(self._record(record.seq))} exists: another writer committed to {self.output}"
            )
        records.append(record)
        self._keys.update(self.final_key(rel) for rel in record.objects)
        if not in_place:
            self.apply(record)
        return record

    def apply(self, record: CommitRecord) -> None:
        """Copy the record's staged objects to their final keys and drop them from staging; safe to repeat."""
        for rel, want in record.objects.items():
            staged = f"{STAGING_DIR}/{rel}"
            if self.root.exists(staged):
                size = self.root.info(staged)["size"]
                if size != want["size"]:
                    where = self.root.key(staged)
                    raise RuntimeError(f"{where}: {size} bytes staged, record {record.seq} says {want['size']}")
                self.root.copy(staged, rel)
                self.root.remove(staged)
            elif not self.root.exists(rel):
                where = self.final_key(rel)
                raise RuntimeError(f"{where}: committed in record {record.seq} but neither staged nor in place")

    def recover(self) -> list[str]:
        """After a killed writer (under the lease): finish the last record, delete the staged garbage; returns it."""
        if records := self.records(refresh=True):
            self.apply(records[-1])
        garbage = self.root.keys(STAGING_DIR)
        for k in garbage:
            self.root.remove(k)
        return [self.root.key(k) for k in garbage]
