"""A dataset's per-episode meta lines (`episodes.jsonl`, `episodes_stats.jsonl`) read for some of its episodes.

A line whose first key is its `episode_index`, as every eidata writer and lerobot's write it (`dump_jsonl_line`, the
`jsonlines` package: the dict's order, `episode_index` first), is parsed only when its episode is asked for: a plan
over a manifest of 1 of a dataset's N episodes parses one line, not N (issue 75: a manifest export held every named
dataset's lines and stats, ~160 KB per episode). A line that does not begin so (another tool's order, a key written
with escapes, the key twice) is parsed to learn its index, as before. Kept lines can be cut to the fields a reader
uses (`kept_fields`), so what a plan holds per episode is its fields, not the episode's whole lineage.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from schemas.corpus import LINEAGE_KEY

if TYPE_CHECKING:
    import numpy as np

_HEAD = re.compile(rb'\s*\{\s*"episode_index"\s*:\s*(-?\d+)\s*[,}]')
_KEY = b'"episode_index"'


def head_index(raw: bytes) -> int | None:
    """The episode index a raw jsonl line opens with, read without parsing the line; None where it must be parsed to
    know (it does not open with the key, names the key again, or holds a \\u escape that could spell it)."""
    m = _HEAD.match(raw)
    if m is None or raw.count(_KEY) != 1 or b"\\u" in raw:
        return None
    return int(m.group(1))


def skipped(raw: bytes, episodes: Collection[int] | None) -> bool:
    """Whether the raw line can be passed over unparsed: it opens with the index of an episode not in `episodes`
    (None: every episode is read)."""
    if episodes is None:
        return False
    index = head_index(raw)
    return index is not None and index not in episodes


def wanted(obj: Any, episodes: Collection[int] | None) -> bool:
    """Whether a parsed line is kept: every line without `episodes`; else a line of an episode in it, or one whose
    `episode_index` is not an integer (the caller refuses it, naming it, as without the filter)."""
    if episodes is None or not isinstance(obj, dict):
        return True
    index = obj.get("episode_index")
    return not isinstance(index, int) or index in episodes


def kept_fields(line: Mapping[str, Any], top: Collection[str], nested: Mapping[str, Collection[str]]) -> dict[str, Any]:
    """The line with only the keys `top`, and of each mapping `nested` names (a line's lineage, `"eidata"`) only the
    keys it lists; a value there that is not a mapping is kept whole, for the reader to refuse as it would."""
    out = {k: line[k] for k in top if k in line}
    for key, keys in nested.items():
        if isinstance(of := line.get(key), Mapping):
            out[key] = {k: of[k] for k in keys if k in of}
        elif key in line:
            out[key] = of
    return out


# What a plan reads of an episode's `episodes.jsonl` line (issue 99): an export's `EpisodeRef.line` and train's index
# (`training.episodes`), cut so by `kept_fields`. The catalog holds it per episode (`plan_line`): the fields below
# beside its own `episode_index`, `num_frames` (the line's `length`) and `episode_uid`, so that a plan reads one
# column of the catalog instead of every dataset's `episodes.jsonl`.
PLAN_COLUMN = "plan_line"  # the catalog's column of these fields as JSON (`schemas.catalog`)
PLAN_TOP = ("episode_index", "tasks", "length")
PLAN_LINEAGE = ("episode_uid", "source", "subset", "embodiment", "mask", "action_kind", "caption")
SHARED_TOP = ("tasks",)  # in the catalog's `plan_line` text: what many episodes share (the rest are its columns)
SHARED_LINEAGE = PLAN_LINEAGE[1:]


def plan_fields(line: Mapping[str, Any], lineage_key: str) -> dict[str, Any]:
    """The line cut to what a plan reads (`PLAN_TOP`, of its lineage `PLAN_LINEAGE`)."""
    return kept_fields(line, PLAN_TOP, {lineage_key: PLAN_LINEAGE})


def shared_fields(line: Mapping[str, Any], lineage_key: str) -> dict[str, Any]:
    """The part of the plan's fields the catalog's `plan_line` holds: the line's tasks and its lineage's fields but
    its uid (equal across many episodes, so the column's dictionary holds each once)."""
    return kept_fields(line, SHARED_TOP, {lineage_key: SHARED_LINEAGE})


def joined_fields(shared: Mapping[str, Any], index: int, length: int, uid: str, lineage_key: str) -> dict[str, Any]:
    """The plan's fields of one episode (`plan_fields`) from the catalog: its `plan_line` parsed (`shared`, read-only:
    its values are shared with the other episodes that have the same text) and its own columns. The uid is the
    catalog's: the lineage's own where it has one."""
    out: dict[str, Any] = {"episode_index": index}
    if "tasks" in shared:
        out["tasks"] = shared["tasks"]
    out["length"] = length
    lineage = shared.get(lineage_key)
    if isinstance(lineage, Mapping):
        out[lineage_key] = {"episode_uid": uid, **lineage}
    elif lineage_key in shared:
        out[lineage_key] = lineage
    return out


class PlanLines(Mapping[int, dict[str, Any]]):
    """One dataset's planned episodes: episode_index -> its line cut to the plan's fields (`plan_fields`), made at
    each ask from the catalog's row (read-only: the values of a `plan_line` text are one object for every episode
    that has it), and of each its catalog's `native_moves` (`moves`: an array per distinct value, None where null)
    and its latents files (`latents`: video key -> the parsed text `schemas.image_latents.cataloged` gave, in
    info.json order, one read-only mapping per distinct set; None where the catalog does not know them: read the
    files) and its length (`length`)."""

    def __init__(self) -> None:
        self._rows: dict[int, tuple[Mapping[str, Any], int, str]] = {}
        self.moves: dict[int, np.ndarray | None] = {}
        self.latents: dict[int, Mapping[str, Mapping[str, Any]] | None] = {}
        self.written_ns = 0  # when the catalog's parts were written (their newest modification time)

    def length(self, index: int) -> int:
        return self._rows[index][1]

    def __getitem__(self, index: int) -> dict[str, Any]:
        shared, length, uid = self._rows[index]
        return joined_fields(shared, index, length, uid, LINEAGE_KEY)

    def shared(self, index: int) -> tuple[Mapping[str, Any], str]:
        """The episode's `plan_line` parsed (one object for every episode with the same text: what is derived from it
        alone is derived once, `SourceDataset.lineage`) and its uid, which its line's lineage gets beside it."""
        shared, _, uid = self._rows[index]
        return shared, uid

    def __contains__(self, index: object) -> bool:
        return index in self._rows

    def __iter__(self) -> Iterator[int]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


@dataclass
class PlanTexts:
    """One dataset's episodes as a description reads them from the catalog (gr00t's `describe`): their indices in
    the catalog's order and each distinct `plan_line` text, parsed (read-only: one object for every dataset with the
    same text), with how many of the episodes have it; nothing made per episode but its index."""

    episodes: list[int] = field(default_factory=list)
    texts: dict[str, tuple[Mapping[str, Any], int]] = field(default_factory=dict)  # text -> (its fields, episodes)
