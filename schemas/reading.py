"""How a source was read: the recipe part of an episode's identity (issue 98).

A corpus that keys an episode by its raw bytes alone cannot tell that a team fixed a spec (`robot: ur5e` -> `ur3e`,
`exclude_topics` added, a column map completed): the rerun said "already done". `SourceReading` is everything that
shaped a source's episodes besides its bytes: the adapter, its options with every default filled in, the robot and
default tier the spec gave, the canonicalize and QA settings that apply to the source (the job's, with only this
source's per-source entries), the video codec, and the code version. Its `fingerprint` is a hash of that record in
canonical JSON, stable across processes, machines and key order, as Hugging Face `datasets` fingerprints a transform
with its arguments, DVC a stage with its params and Bazel an action with its inputs.

Left out on purpose, and why: the root (the same raw files moved to another folder or bucket are read the same way:
raw uids are relative to it) and the storage options (credentials, endpoints: how bytes are fetched, not read).
A reading that differs only in `code` is said, not stopped on (`ReadingChange.code_only`): a new release re-reads on
request, never behind a user's back.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import Field

from schemas.frozen import Frozen

FINGERPRINT_CHARS = 16  # 64 bits of sha256: collisions among one corpus's readings are not a concern


class SourceReading(Frozen):
    """One source's effective reading (see the module)."""

    source: str = Field(description="the job's source name (the key, not part of the fingerprint)")
    adapter: str = Field(description="the adapter's registry name")
    options: dict[str, Any] = Field(description="the adapter's options, every default filled in")
    robot: dict[str, Any] | str | None = Field(None, description="the robot the spec declared, as given")
    tier: str | None = Field(None, description="the spec's default tier, when it set one")
    settings: dict[str, Any] = Field(description="canonicalize and QA settings as they apply to this source")
    codec: dict[str, Any] = Field(description="the video encoder settings that shape the written bytes")
    code: str = Field(description="the pipeline version that read it (`ingest.episode.PIPELINE_VERSION`)")

    def recipe(self) -> dict[str, Any]:
        """What the fingerprint covers: every field but the source's name."""
        return self.model_dump(mode="json", exclude={"source"})

    @property
    def fingerprint(self) -> str:
        text = json.dumps(self.recipe(), sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:FINGERPRINT_CHARS]


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """`{"a": {"b": 1}}` -> `{"a.b": 1}`; lists and scalars are leaves."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k in sorted(value):
            out.update(_flat(value[k], f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


class ReadingChange(Frozen):
    """What changed in a source's reading since its episodes were written, setting by setting."""

    source: str
    before: str = Field(description="the fingerprint its episodes and quarantine rows were written under")
    after: str = Field(description="the fingerprint the spec gives now")
    changes: list[str] = Field(description="one line per setting: `options.robot: 'ur5e' -> 'ur3e'`")
    episodes: int = Field(0, description="its written episodes read under `before`")
    quarantined: int = Field(0, description="its quarantine rows written under `before`")

    @property
    def code_only(self) -> bool:
        """Only the code version differs: said, never a reason to stop a run."""
        return all(c.startswith("code:") for c in self.changes)


def changes(before: SourceReading, after: SourceReading) -> list[str]:
    """Each setting whose value differs, `path: old -> new` (a setting only one side has: `(unset)`), sorted."""
    old, new = _flat(before.recipe()), _flat(after.recipe())
    unset = "(unset)"
    return [
        f"{k}: {old.get(k, unset)!r} -> {new.get(k, unset)!r}".replace(f"'{unset}'", unset)
        for k in sorted(old.keys() | new.keys())
        if old.get(k, unset) != new.get(k, unset)
    ]
