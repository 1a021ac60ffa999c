"""RoboCOIN's annotation files beside a LeRobot dataset's `meta/` (`annotations/*.jsonl`), read into the episodes
they describe: subtasks and scenes as language with their spans, subtasks also as `action_config` segments, every
vocabulary into the lineage (`RoboCoinAnnotations`) so the per-frame index columns, kept as natives, read as text.

The format, from the maker's own loader (FlagOpen/RoboCOIN@b3261fe):
- each file is a vocabulary, one JSON object a line, `{"<name>_index": int, "<name>": text}`; the file names and keys
  are src/lerobot/datasets/utils.py:53-58 (paths) and :221-305 (`load_subtasks`, `load_scenes`, `load_*_annotation`);
- the data parquet holds, on each frame, the index into it: `subtask_annotation` [K] (every subtask under way at the
  frame; the entry whose text is "null" fills an empty slot), `scene_annotation` [1], and per arm, [0] left and
  [1] right, `eef_direction_*`, `eef_velocity_*`, `eef_acc_mag_*`, `gripper_mode_*`, `gripper_activity_*`
  (`_state` and `_action`): src/lerobot/datasets/lerobot_dataset.py:750-869 (`__getitem__`). Real RoboCOIN datasets
  declare these columns (tests/fixtures/lerobot_layouts/robocoin_v21, QianHuixun/New-Test@ff298f68 meta/info.json)
  and list "End", "null" and the subtask sentences among their subtasks (its README.md).
An annotation's time is its rows' timestamps (a span: [first, last], as `columns.span_s`); a line that also names an
`episode_index` is that episode's own, over the whole episode. Never silently dropped: a bad line (not JSON, keys
missing, an index given twice), an unreadable or unknown file, an index column without its file, a line naming an
unlisted episode are dataset quirks naming file and line; a frame whose index is not in its vocabulary, an episode's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

import numpy as np

from adapters.base import Language, RawEpisode
from adapters.hostile import bounds
from adapters.lerobot.columns import runs, span_s
from adapters.lerobot.quirks import noted
from adapters.storage.location import Location
from schemas.corpus import SourceAnnotation
from schemas.lerobot import ActionSegment
from schemas.quirks import Quirk, quirk
from schemas.quirks import listing as said
from schemas.settings import limit

ANNOTATIONS_DIR = "annotations"
# file -> (the vocabulary's name: its keys `<name>_index` / `<name>`, the per-frame columns indexing it)
VOCABULARIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "subtask_annotations.jsonl": ("subtask", ("subtask_annotation",)),
    "scene_annotations.jsonl": ("scene", ("scene_annotation",)),
    **{
        f"{name}_annotation.jsonl": (name, (f"{name}_state", f"{name}_action"))
        for name in ("eef_direction", "eef_velocity", "eef_acc_mag", "gripper_mode", "gripper_activity")
    },
}
EMPTY_SLOT = "null"  # lerobot_dataset.py:753-755 leaves it out of the frame's subtasks
LANGUAGE_KINDS = {"subtask": "subtask", "scene": "scene"}  # vocabularies that become the episode's language


class RoboCoinAnnotations(SourceAnnotation):
    """What the lineage keeps of a RoboCOIN dataset's annotation files: each per-frame index column's vocabulary."""

    kind: str = "robocoin_annotations"
    files: list[str]
    vocabularies: dict[str, dict[int, str]]  # native column -> index -> text


@dataclass
class DatasetAnnotations:
    """One dataset's annotation files, read once: vocabularies by file, episode-wide lines, what was wrong."""

    texts: dict[str, dict[int, str]] = field(default_factory=dict)  # file name -> index -> text
    episodes: dict[int, list[Language]] = field(default_factory=dict)  # episode_index -> its own lines
    quirks: list[Quirk] = field(default_factory=list)

    def vocabulary(self, column: str) -> tuple[str, str, dict[int, str]] | None:
        """(file, name, index -> text) of the vocabulary a per-frame column indexes, when its file was read."""
        for file, (name, columns) in VOCABULARIES.items():
            if column in columns and file in self.texts:
                return file, name, self.texts[file]
        return None


def read_annotations(root: Location, columns: set[str], episodes: set[int]) -> DatasetAnnotations:
    """The annotation files under `root/annotations`; `columns` are the dataset's declared features (an index column
    without its file is said), `episodes` the episode indices it lists."""
    out = DatasetAnnotations()
    found = sorted(e.name for e in (root / ANNOTATIONS_DIR).listing() if not e.is_dir)
    if other := [name for name in found if name not in VOCABULARIES]:  # one finding for them all
        msg = f"{len(other)} file(s) not read: {said(other)} (RoboCOIN's are {', '.join(VOCABULARIES)})"
        out.quirks.append(quirk("annotation_file_unknown", "warning", msg, f"{ANNOTATIONS_DIR}/{other[0]}"))
    for name in (n for n in found if n in VOCABULARIES):
        rel = f"{ANNOTATIONS_DIR}/{name}"
        try:
            data = bounds.read_bounded(root.file(rel), limit("SIDECAR_BYTES"), rel)
        except (OSError, ValueError) as err:  # outside the root, a Git LFS pointer, too large, unreadable: named
            out.quirks.append(quirk("annotation_unreadable", "error", f"{rel}: {err}", rel))
            continue
        out.texts[name] = _vocabulary(rel, VOCABULARIES[name][0], data, episodes, out)
    for name, (_, cols) in VOCABULARIES.items():
        if name not in out.texts and (declared := sorted(c for c in cols if c in columns)):
            msg = f"{declared} declared in info.json but {ANNOTATIONS_DIR}/{name} is absent: indices kept, no text"
            out.quirks.append(quirk("annotation_vocabulary_missing", "warning", msg, f"{ANNOTATIONS_DIR}/{name}"))
    return out


def _vocabulary(rel: str, name: str, data: bytes, episodes: set[int], out: DatasetAnnotations) -> dict[int, str]:
    texts: dict[int, str] = {}
    key, text_key = f"{name}_index", name

    def bad(lineno: int, why: str) -> None:
        out.quirks.append(quirk("annotation_line_invalid", "error", f"{rel}:{lineno}: line skipped, {why}", rel))

    for lineno, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            bad(lineno, f"not valid JSON ({err.msg})")
            continue
        text = obj.get(text_key) if isinstance(obj, dict) else None
        if not isinstance(text, str):
            bad(lineno, f"expected an object with a text {text_key!r} and an integer {key!r}")
            continue
        if isinstance(ep := obj.get("episode_index"), int) and not isinstance(ep, bool):
            if ep not in episodes:
                msg = f"{rel}:{lineno}: names episode {ep}, which the dataset does not list (line not applied)"
                out.quirks.append(quirk("annotation_unknown_episode", "error", msg, rel, [ep]))
            else:
                out.episodes.setdefault(ep, []).append(Language(text, LANGUAGE_KINDS.get(name, name)))
            continue
        index = obj.get(key)
        if not isinstance(index, int) or isinstance(index, bool):
            bad(lineno, f"{key!r} is {index!r}, not an integer")
        elif index in texts and texts[index] != text:
            bad(lineno, f"{key} {index} given twice ({texts[index]!r}, then {text!r}); the first kept")
        else:
            texts.setdefault(index, text)
    return texts


def annotate(raw: RawEpisode, notes: DatasetAnnotations | None) -> RawEpisode:
    """`raw` with its dataset's annotations: language and subtask segments from its index columns (a source's own
    `action_config` wins), its episode-wide lines, the vocabularies in `annotation`; unknown indices: episode quirks."""
    if notes is None or not (notes.texts or notes.episodes):
        return raw
    language = list(raw.language) + notes.episodes.get(int(raw.metadata.get("episode_index", -1)), [])
    segments: list[ActionSegment] = []
    quirks: list[Quirk] = []
    vocabularies: dict[str, dict[int, str]] = {}
    for column, stream in sorted(raw.signals.items()):
        found = notes.vocabulary(column)
        if found is None:
            continue
        file, name, texts = found
        vocabularies[column] = texts
        values = np.asarray(stream.values).reshape(len(stream), -1)
        if unknown := sorted({int(v) for v in np.unique(values)} - set(texts)):
            msg = f"{column}: index(es) {unknown} not in {ANNOTATIONS_DIR}/{file} (kept as indices)"
            quirks.append(quirk("annotation_index_unknown", "warning", msg, f"{ANNOTATIONS_DIR}/{file}"))
        if name in LANGUAGE_KINDS:
            for text, start, end in _spans(values, texts):
                language.append(Language(text, LANGUAGE_KINDS[name], *span_s(stream.timestamps, start, end)))
                if name == "subtask":
                    segments.append(ActionSegment(start_frame=start, end_frame=end, action_text=text, kind=name))
    if not vocabularies and language == raw.language:
        return raw
    out = replace(
        raw,
        language=list(dict.fromkeys(language)),
        action_config=raw.action_config or (sorted(segments, key=_order) or None),
        annotation=raw.annotation or RoboCoinAnnotations(files=sorted(notes.texts), vocabularies=vocabularies),
    )
    return noted(out, quirks)


def _spans(values: np.ndarray, texts: dict[int, str]) -> list[tuple[str, int, int]]:
    """(text, first row, end row) of each run of rows that hold an index (in any slot); the empty slot left out."""
    out = []
    for index in np.unique(values):
        text = texts.get(int(index))
        if text is None or text == EMPTY_SLOT:
            continue
        out += [(text, start, end) for start, end, on in runs(np.any(values == index, axis=1)) if on]
    return sorted(out, key=lambda t: (t[1], t[2], t[0]))


def _order(seg: ActionSegment) -> tuple[int, int, str]:
    return seg.start_frame, seg.end_frame, seg.action_text
