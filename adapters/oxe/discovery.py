"""Discovery of the episodes of one TFDS builder: a ref per TFRecord record, shard by shard.

Every record is read once (CRC check, protobuf parse, no image decoding) to hash its content, so an episode found
again later in the walk (e.g. in another split) is reported, skipped or kept by option `duplicates`. A broken shard
yields a ref with `error` set for each record it costs (see `adapters.oxe.adapter` for the cases).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from google.protobuf.message import DecodeError

from adapters.base import AdapterError, EpisodeRef
from adapters.oxe.builder import Builder
from adapters.oxe.decode import content_hash
from adapters.oxe.options import OXEOptions
from adapters.oxe.tfrecord import parse_example, scan_records
from adapters.storage.location import Location


@dataclass(frozen=True)
class ShardAt:
    """One shard file of a split: what a raw id and a ref's locator name."""

    split: str
    index: int
    path: Location

    def raw_id(self, record: int) -> str:
        return f"{self.split}/{self.index:05d}/{record:06d}"


class RecordDiscovery:
    """One walk over a builder's shards: a ref per record; later copies of an episode go to `duplicates` or an
    error ref."""

    def __init__(
        self,
        builder: Builder,
        options: OXEOptions,
        error: Callable[..., AdapterError],
        new_ref: Callable[..., EpisodeRef],
        duplicates: list[dict[str, str]],
    ) -> None:
        self.builder, self.options, self.duplicates = builder, options, duplicates
        self.error, self.new_ref = error, new_ref  # the adapter's: its errors and refs
        self.seen: dict[str, str] = {}  # content hash -> raw id of the kept copy

    def _ref(self, at: ShardAt, index: int, reason: str | None = None, fld: str = "", **locator: Any) -> EpisodeRef:
        """The ref of record `index`; with `reason`, flagged with it (`fld`: the field named)."""
        raw_id, builder = at.raw_id(index), self.builder
        loc = {"builder_dir": str(builder.path), "split": at.split, "shard": at.index, "record": index, **locator}
        error = None if reason is None else self.error(reason, file=at.path, episode=raw_id, field=fld)
        paths = (str(at.path), str(builder.path / "features.json"))
        return self.new_ref(raw_id, paths, subset=builder.name, locator=loc, error=error)

    def discover_shard(self, split: str, shard_idx: int, shard: Location, expected: int | None) -> Iterator[EpisodeRef]:
        at = ShardAt(split, shard_idx, shard)
        if not shard.is_file():
            for i in range(expected or 0):
                yield self._ref(at, i, "shard file listed in dataset_info.json is missing", "tfrecord:missing")
            return
        hashing = self.options.duplicates != "keep"
        found = 0
        for rec in scan_records(shard, read_payloads=hashing, verify=self.options.verify_crc):
            if rec.span is None:  # framing lost: this record and every later one in the shard are unreadable
                err = rec.error
                assert err is not None
                index = err.index if err.index is not None else found
                reason = f"{err.reason} (byte offset {err.offset})"
                yield self._ref(at, index, reason, f"tfrecord:{err.kind}", offset=err.offset)
                for later in range(index + 1, expected or 0):
                    msg = (
                        f"record not reachable: the shard's framing breaks at byte offset {err.offset} "
                        f"(record {index}: {err.kind}); dataset_info.json lists {expected} records"
                    )
                    yield self._ref(at, later, msg, f"tfrecord:{err.kind}")
                return
            span = rec.span
            found = span.index + 1
            where = {"offset": span.offset, "length": span.length}
            if rec.error is not None:
                reason = f"{rec.error.reason} (byte offset {span.offset})"
                yield self._ref(at, span.index, reason, f"tfrecord:{rec.error.kind}", **where)
                continue
            if not hashing:
                yield self._ref(at, span.index, **where)
                continue
            assert rec.payload is not None
            yield from self._record(at, span.index, rec.payload, where)
        for missing in range(found, expected or 0):
            msg = (
                f"shard ends after {found} records, dataset_info.json lists {expected} (truncated at a record boundary)"
            )
            yield self._ref(at, missing, msg, "tfrecord:truncated")

    def _record(self, at: ShardAt, index: int, payload: bytes, where: dict[str, Any]) -> Iterator[EpisodeRef]:
        builder = self.builder
        try:
            ex = parse_example(payload)
        except DecodeError as e:
            yield self._ref(at, index, f"record is not a tf.train.Example: {e}", "tf.train.Example", **where)
            return
        meta: dict[str, Any] = dict(where)
        fp = ex.get("episode_metadata/file_path")
        if isinstance(fp, list) and fp:
            meta["file_path"] = fp[0].decode("utf-8", errors="replace")
        eid = ex.get("episode_metadata/episode_id")
        if isinstance(eid, np.ndarray) and eid.size:
            meta["episode_id"] = int(eid[0])
        first = ex.get("steps/is_first")
        if isinstance(first, np.ndarray):
            meta["num_steps"] = int(first.size)
        digest = content_hash(ex, builder.features)
        meta["content_hash"] = digest
        raw_id = at.raw_id(index)
        kept = self.seen.get(digest)
        if kept is None:
            self.seen[digest] = raw_id
            yield self._ref(at, index, **meta)
        elif self.options.duplicates == "skip":
            self.duplicates.append({"subset": builder.name, "raw_id": raw_id, "duplicate_of": kept})
        else:
            msg = f"duplicate of episode {kept} (same actions, states and language; content hash {digest[:12]})"
            yield self._ref(at, index, msg + ": not counted twice", "content_hash", **meta, duplicate_of=kept)
