"""A stage's edits of a bucket dataset's meta (captions: tasks added, episode lines rewritten) published as one commit
record (DESIGN.md 3.2).

The stage's writer applies a meta update on the scratch corpus as on a local output. What reaches the bucket is the
difference between the scratch's meta and the records' (`meta_change`): per jsonl file the lines rewritten and the text
appended, the new text of a meta file a stage writes whole (GR00T's `modality.json`), and the next `info.json`, as one
commit record with no object (`publish_meta_change`). After it `derived_meta` gives byte for byte the scratch's files;
a stage killed before it leaves the bucket as it was.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from adapters.storage.commit_log import CommitRecord
from adapters.storage.publish import DatasetPublisher, derived_meta
from schemas.lerobot import INFO_PATH, split_lines


class MetaChangeError(RuntimeError):
    """The scratch's meta is not the records' meta plus rewritten lines and appends (a line removed or moved)."""


def meta_change(old: dict[str, bytes], new: dict[str, bytes], where: str = "") -> dict[str, Any] | None:
    """The record meta that turns the meta files `old` into `new` (both {rel: bytes}, `INFO_PATH` among them);
    None when they are equal. A jsonl file may have lines rewritten in place and lines appended, nothing else."""
    if old == new:
        return None
    if set(old) - set(new):
        raise MetaChangeError(f"{where}: the stage removed {sorted(set(old) - set(new))}")
    lines: dict[str, dict[str, str]] = {}
    appends: dict[str, str] = {}
    files: dict[str, str] = {}
    for rel in sorted(set(new) - {INFO_PATH}):
        if not rel.endswith(".jsonl"):  # a meta file written whole (GR00T's modality.json): its new text
            if old.get(rel) != new[rel]:
                files[rel] = new[rel].decode()
            continue
        before, after = split_lines(old.get(rel, b"").decode()), split_lines(new[rel].decode())
        if len(after) < len(before):
            raise MetaChangeError(f"{where}/{rel}: {len(before)} lines in the bucket, {len(after)} after the stage")
        if changed := {str(n): a for n, (b, a) in enumerate(zip(before, after, strict=False)) if a != b}:
            lines[rel] = changed
        if len(after) > len(before):
            appends[rel] = "".join(after[len(before) :])
    change = {"lines": lines, "appends": appends, "info": new[INFO_PATH].decode(), "episodes": []}
    return change | ({"files": files} if files else {})


def scratch_meta(scratch: Path, like: dict[str, bytes]) -> dict[str, bytes]:
    """The scratch dataset's meta files: those the records derive (`like`) and any new jsonl or json beside them."""
    meta = Path(scratch) / "meta"
    found = [*meta.glob("*.jsonl"), *meta.glob("*.json")]
    rels = set(like) | {p.relative_to(scratch).as_posix() for p in found}
    return {rel: (Path(scratch) / rel).read_bytes() for rel in sorted(rels) if (Path(scratch) / rel).exists()}


def publish_meta_change(publisher: DatasetPublisher) -> CommitRecord | None:
    """Commit the scratch's meta edits as one record (call under the output's lease, after the stage's writers
    closed); None when the stage changed nothing. The meta objects are rewritten by `publisher.finish`."""
    old = derived_meta(publisher.log.records(refresh=True))
    if not old:
        return None  # a dataset the bucket has no record of: nothing a stage after ingest may create
    change = meta_change(old, scratch_meta(publisher.scratch, old), publisher.prefix)
    if change is None:
        return None
    digest = hashlib.sha256(json.dumps(change, sort_keys=True).encode()).hexdigest()[:16]
    return publisher.log.commit(f"meta change {digest}", {}, change, in_place=True)
