"""BEHAVIOR-1K's per-episode annotation files -> language segments of the episodes they describe.

The 2025 challenge demos (LeRobot v2.1, robot_type R1Pro) name the file in `meta/info.json`: `annotation_path`,
`annotations/task-{episode_chunk:04d}/episode_{episode_index:08d}.json` (the dataset card's info.json; BEHAVIOR-1K
docs/challenge/dataset.md @ 20c201c7: "annotations: language annotations for each episode"). One JSON object per
episode (no maker reader is public; the fields as the maker's documentation page embeds one and as the readers of the
real files index them, e.g. RLinf/RLinf's `skill_segments.py` tests and the BEHAVIOR challenge baselines):
`task_name` (the activity), `meta_data` (`task_duration`, `valid_duration` [start, end] in frames);
`skill_annotation`: per skill `skill_description` ([one verb phrase of 31: "move to", "pick up from", ...]),
`object_id` ([[object, ...]]), `frame_duration` [start, end] in frames of the episode at its fps (30), or a list of
such pairs when a skill is interrupted, and more keys kept as they are; `primitive_annotation`: coarser steps,
`primitive_description`, `object_id`, `skill_idxes`, `frame_duration`.

Each skill interval becomes `Language(kind="subtask")` and each primitive interval `Language(kind="primitive")`,
text = the verb phrase and its objects, [start_s, end_s] = the row times of its first and last frame on the episode's
clock. Which frame ends a segment is not settled by the files (the maker's page has both [55, 300] -> [301, 641] and
[642, 900] -> [900, 1245]): the end frame is read as the last one reached, a boundary exact to one frame (33 ms).
The whole file, as read, goes to the lineage (`BehaviorAnnotation`). A missing, malformed or out-of-range file, a
task that is not the episode's, and an annotation file no listed episode claims are quirks naming file and field.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.base import Language, RawEpisode
from adapters.lerobot.embodiment import alnum
from adapters.lerobot.quirks import noted
from adapters.lerobot_format.files import read_json
from adapters.storage.location import Location
from schemas.corpus import SourceAnnotation
from schemas.lerobot import InfoJson, MetaFileError, fill_path_template
from schemas.quirks import Quirk, quirk

TEMPLATE_KEY = "annotation_path"  # the info.json key naming the per-episode file
ANNOTATIONS_DIR = "annotations"


class _Segment(BaseModel):
    """One skill or primitive entry; other keys are kept as they are (`extra="allow"`)."""

    model_config = ConfigDict(extra="allow")

    frame_duration: list[Any] = Field(min_length=1)
    object_id: list[Any] = Field(default_factory=list)


class _File(BaseModel):
    model_config = ConfigDict(extra="allow")

    task_name: str | None = None
    meta_data: dict[str, Any] = Field(default_factory=dict)
    skill_annotation: list[_Segment] = Field(default_factory=list)
    primitive_annotation: list[_Segment] = Field(default_factory=list)


class BehaviorAnnotation(SourceAnnotation):
    """What the episode lineage keeps of a BEHAVIOR-1K annotation file: the file and its entries as read."""

    kind: str = "behavior_1k_annotation"
    file: str
    task_name: str | None
    meta_data: dict[str, Any]
    skills: list[dict[str, Any]]
    primitives: list[dict[str, Any]]


def intervals(value: Any, where: str) -> list[tuple[int, int]]:
    """`frame_duration` -> [(start, end)]: one [start, end] pair or a list of them; ValueError naming `where`."""
    if isinstance(value, list) and len(value) == 2 and all(type(x) is int for x in value):
        start, end = value
        if start < 0 or end < start:
            raise ValueError(f"{where}: frame_duration {value} is not a [start, end] range")
        return [(start, end)]
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        return [pair for v in value for pair in intervals(v, where)]
    raise ValueError(f"{where}: frame_duration {value!r} is neither [start, end] nor a list of them")


def _words(value: Any) -> list[str]:
    """The strings of a nested list (object ids, descriptions), in order."""
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list):
        return [w for v in value for w in _words(v)]
    return []


def segment_text(entry: _Segment, key: str) -> str:
    """`pick up from (radio_89, coffee_table_koagbh_0)`: the verb phrase and the objects it names."""
    verb = " ".join(_words((entry.model_extra or {}).get(key)))
    objects = list(dict.fromkeys(_words(entry.object_id)))
    return f"{verb} ({', '.join(objects)})" if objects else verb


def annotation_file(info: InfoJson, episode_index: int) -> str | None:
    """The episode's annotation file relative to the dataset root, from info.json's `annotation_path` (or None)."""
    template = (info.model_extra or {}).get(TEMPLATE_KEY)
    if not isinstance(template, str):
        return None
    return fill_path_template(template, episode_index, info.episode_chunk(episode_index))


def _segments(doc: _File, rel: str, ts: np.ndarray) -> list[Language]:
    """The language segments of a validated file on the episode's row clock `ts`; ValueError naming the field."""
    out = []
    for key, kind, desc in (
        ("skill_annotation", "subtask", "skill_description"),
        ("primitive_annotation", "primitive", "primitive_description"),
    ):
        for i, entry in enumerate(getattr(doc, key)):
            where = f"{rel}: {key}[{i}]"
            text = segment_text(entry, desc)
            if not text:
                raise ValueError(f"{where}: no {desc}")
            for start, end in intervals(entry.frame_duration, where):
                if start >= len(ts):
                    raise ValueError(f"{where}: frames [{start}, {end}] start after the episode's {len(ts)} rows")
                if end >= len(ts) + 1:
                    raise ValueError(f"{where}: frames [{start}, {end}] end after the episode's {len(ts)} rows")
                out.append(Language(text, kind, float(ts[start]), float(ts[min(end, len(ts) - 1)])))
    return out


def _row_clock(raw: RawEpisode) -> np.ndarray | None:
    """The episode's row timestamps (one per parquet row): its longest state or action stream's."""
    return max((s.timestamps for s in [*raw.states.values(), *raw.actions.values()]), key=len, default=None)


def with_annotation(raw: RawEpisode, root: Location, info: InfoJson, episode_index: int) -> RawEpisode:
    """`raw` with its annotation file's segments appended to its language and the file in its lineage; a file
    missing, malformed or not about this episode is an episode quirk naming it (the episode is read as it is)."""
    rel = annotation_file(info, episode_index)
    if rel is None:
        return raw
    found: list[Quirk] = []
    ts = _row_clock(raw)
    path = root / rel
    try:
        if not path.is_file():
            raise FileNotFoundError(rel)
        doc = _File.model_validate(read_json(path))
        if ts is None or not len(ts):
            raise ValueError(f"{rel}: the episode has no rows to place its segments on")
        language = _segments(doc, rel, ts)
    except FileNotFoundError:
        found.append(quirk("annotation_missing", "warning", f"{TEMPLATE_KEY} names {rel}: no such file", rel))
        return noted(raw, found)
    except ValidationError as err:
        e = err.errors()[0]
        msg = f"{rel}: not a BEHAVIOR annotation ({'.'.join(map(str, e['loc']))}: {e['msg']}); no segment read"
        return noted(raw, [quirk("annotation_malformed", "error", msg, rel)])
    except (MetaFileError, ValueError) as err:
        return noted(raw, [quirk("annotation_malformed", "error", f"{err}; no segment read", rel)])
    tasks = raw.metadata.get("meta_tasks") or []
    if doc.task_name and tasks and alnum(doc.task_name) not in {alnum(t) for t in tasks}:
        msg = f"{rel}: task_name {doc.task_name!r} but the episode's task is {tasks}; segments kept, said here"
        found.append(quirk("annotation_task_mismatch", "warning", msg, rel))
    annotation = BehaviorAnnotation(
        file=rel,
        task_name=doc.task_name,
        meta_data=doc.meta_data,
        skills=[s.model_dump() for s in doc.skill_annotation],
        primitives=[p.model_dump() for p in doc.primitive_annotation],
    )
    out = replace(raw, language=[*raw.language, *language], annotation=annotation)
    return noted(out, found) if found else out


def unmatched_files(root: Location, info: InfoJson, episodes: set[int]) -> list[Quirk]:
    """An annotation file under `annotations/` that no listed episode's `annotation_path` names: a dataset quirk
    (it describes an episode this copy does not hold, or is misnamed)."""
    if annotation_file(info, 0) is None or not (root / ANNOTATIONS_DIR).is_dir():
        return []
    expected = {annotation_file(info, e) for e in episodes}
    on_disk = sorted(
        p.relative_to(root).as_posix() if hasattr(p, "relative_to") else str(p)
        for p in (root / ANNOTATIONS_DIR).rglob("*.json")
    )
    stray = [p for p in on_disk if p not in expected]
    if not stray:
        return []
    head = ", ".join(stray[:5]) + (f" and {len(stray) - 5} more" if len(stray) > 5 else "")
    msg = f"{len(stray)} annotation file(s) no listed episode names ({TEMPLATE_KEY}): {head}; not read"
    return [quirk("annotation_unmatched", "warning", msg, ANNOTATIONS_DIR)]
