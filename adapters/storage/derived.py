"""Files a stage derives from a bucket dataset's committed episodes (image latents, text embeddings), published
exactly once (DESIGN.md 3.2).

A stage writes each file in the bucket's scratch corpus as on a local corpus; its driver then publishes a batch of
finished files of one dataset (`publish_derived`): each put at its final key with a conditional create, then one commit
record naming them with their size, sha256 and safetensors metadata (the record meta's `derived` key), the commit
point. A rerun decides what is done from the records alone (`committed_derived`: no object fetched, no HEAD), and a
file's bytes are a function of its inputs, so a stage SIGKILLed at any point then rerun leaves the objects of an
uninterrupted run. An object at a final key is never replaced, so a stage that would rewrite a committed file
(another model, `--overwrite`) stops before any work.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from safetensors import SafetensorError, safe_open

from adapters.storage.commit_log import CommitRecord
from adapters.storage.publish import DatasetPublisher

DERIVED = "derived"  # a record meta's key: {file relative to the dataset: its safetensors metadata}


class DerivedFileError(ValueError):
    """A file handed to `publish_derived` that is not a readable safetensors file of the dataset's scratch."""


def file_metadata(path: Path) -> dict[str, str]:
    """The `__metadata__` of a safetensors file (its header only)."""
    try:
        with safe_open(str(path), framework="pt") as sf:
            return dict(sorted((sf.metadata() or {}).items()))
    except (OSError, SafetensorError) as e:
        raise DerivedFileError(f"{path}: not a readable safetensors file ({e})") from e


def committed_derived(publisher: DatasetPublisher) -> dict[str, dict[str, str]]:
    """Every derived file the dataset's records commit (relative to the dataset) -> its safetensors metadata."""
    return {rel: meta for record in publisher.log.records() for rel, meta in record.meta.get(DERIVED, {}).items()}


def publish_derived(publisher: DatasetPublisher, what: str, rels: list[str]) -> CommitRecord | None:
    """Publish the scratch files `rels` (relative to the dataset) the stage `what` wrote: put at their final keys,
    then one commit record; the local copies are dropped. Call under the output's lease. None for no file."""
    if not rels:
        return None
    rels = sorted(rels)
    meta: dict[str, Any] = {DERIVED: {rel: file_metadata(publisher.scratch / rel) for rel in rels}}
    # the record's group: the stage and a digest of the files it commits (never a raw episode's uid, which ingest's
    # skip of what is done reads)
    group = f"{what} " + hashlib.sha256("\n".join(rels).encode()).hexdigest()[:16]
    return publisher.publish_files(group, rels, meta)
