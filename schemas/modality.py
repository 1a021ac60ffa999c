"""GR00T's `meta/modality.json`: a model, a writer, and checks against `info.json`. The format: NVIDIA/Isaac-GR00T
`getting_started/data_preparation.md`.

`state` / `action` entries are zero-based `[start, end)` slices of a 1-D numeric column (`observation.state` /
`action` unless `original_key` names another); `video` maps an alias to a video feature (default
`observation.images.<alias>`); `annotation` maps `<source>.<type>` to an integer column indexing `tasks.jsonl`
(default `annotation.<source>.<type>`). Unknown keys are kept, so a file read and written back loses nothing.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from schemas.lerobot import MODALITY_PATH, InfoJson, MetaRecord
from schemas.lerobot_features import NUMERIC_DTYPES, FeatureSpec
from schemas.quirks import Quirk, quirk

Group = Literal["state", "action"]
DEFAULT_COLUMN: dict[str, str] = {"state": "observation.state", "action": "action"}
VIDEO_PREFIX = "observation.images."
ANNOTATION_PREFIX = "annotation."
EULER_ORDERS = ("rpy", "ryp", "pry", "pyr", "yrp", "ypr")
ROTATION_WIDTH: dict[str, int] = {
    "axis_angle": 3,
    "quaternion": 4,
    "rotation_6d": 6,
    "matrix": 9,
    **{f"euler_angles_{o}": 3 for o in EULER_ORDERS},
}
INTEGER_DTYPES = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"}


class SliceSpec(MetaRecord):
    """One named `[start, end)` slice of a state or action column."""

    start: int
    end: int
    original_key: str | None = None
    rotation_type: str | None = None
    absolute: bool | None = None
    dtype: str | None = None
    range: list[float] | None = None


class ColumnSpec(MetaRecord):
    """A `video` or `annotation` entry: the column it names when not the default one."""

    original_key: str | None = None


class ModalityJson(BaseModel):
    """`meta/modality.json`. Key order is kept as read (GR00T concatenates slices in that order)."""

    model_config = ConfigDict(extra="allow")

    state: dict[str, SliceSpec] = {}
    action: dict[str, SliceSpec] = {}
    video: dict[str, ColumnSpec] = {}
    annotation: dict[str, ColumnSpec] = {}

    def column(self, group: Group, key: str) -> str:
        return getattr(self, group)[key].original_key or DEFAULT_COLUMN[group]

    def video_column(self, alias: str) -> str:
        return self.video[alias].original_key or f"{VIDEO_PREFIX}{alias}"

    def annotation_column(self, key: str) -> str:
        return self.annotation[key].original_key or f"{ANNOTATION_PREFIX}{key}"

    def to_json(self) -> dict[str, Any]:
        groups = ("state", "action", "video", "annotation")
        return {g: {k: v.to_json() for k, v in getattr(self, g).items()} for g in groups} | dict(self.model_extra or {})

    def dumps(self) -> str:
        """As GR00T's own files are written: `json.dump(..., indent=4)`."""
        return json.dumps(self.to_json(), indent=4, ensure_ascii=False) + "\n"

    @classmethod
    def parse(cls, raw: Any, where: Path | str = MODALITY_PATH) -> ModalityJson:
        try:
            return cls.model_validate(raw)
        except ValidationError as e:
            err = e.errors()[0]
            loc = ".".join(map(str, err["loc"])) or "file"
            raise ValueError(f"{where}: not a GR00T modality.json ({loc}: {err['msg']})") from e


# -- checks against info.json ------------------------------------------------------------------------------------


_q = functools.partial(quirk, path=MODALITY_PATH)


def _vector_feature(name: str, ft: FeatureSpec | None, where: str) -> tuple[int | None, list[Quirk]]:
    """Width of a 1-D numeric feature, or the quirk saying why `name` is not one."""
    if ft is None:
        return None, [_q("modality_unknown_column", "error", f"{where}: column {name!r} is not a feature in info.json")]
    if ft.dtype not in NUMERIC_DTYPES or len(ft.shape) != 1:
        msg = f"{where}: column {name!r} is {ft.dtype}{list(ft.shape)}, not a 1-D numeric vector"
        return None, [_q("modality_not_vector", "error", msg)]
    return ft.shape[0], []


def _check_slice(group: Group, key: str, s: SliceSpec, column: str, ft: FeatureSpec, width: int) -> list[Quirk]:
    where = f"{group}.{key}"
    if not 0 <= s.start < s.end <= width:
        msg = f"{where}: [{s.start}, {s.end}) does not fit {column!r} of width {width}"
        return [_q("modality_slice_out_of_range", "error", msg)]
    out = []
    if s.rotation_type is not None:
        need = ROTATION_WIDTH.get(s.rotation_type)
        if need is None:
            msg = f"{where}: rotation_type {s.rotation_type!r} is not one of {sorted(ROTATION_WIDTH)}"
            out.append(_q("modality_rotation_type", "error", msg))
        elif need != s.end - s.start:
            msg = f"{where}: rotation_type {s.rotation_type} needs {need} values, the slice has {s.end - s.start}"
            out.append(_q("modality_rotation_type", "error", msg))
    if s.dtype is not None and s.dtype != ft.dtype:
        msg = f"{where}: dtype {s.dtype!r} but {column!r} is stored as {ft.dtype}"
        out.append(_q("modality_dtype_mismatch", "warning", msg))
    return out


def _check_overlaps(group: Group, spans: Mapping[str, list[tuple[int, int, str]]]) -> list[Quirk]:
    out = []
    for column, items in spans.items():
        for (_, e0, k0), (s1, _, k1) in itertools.pairwise(sorted(items)):
            if s1 < e0:
                msg = f"{group}.{k0} and {group}.{k1} overlap in {column!r}"
                out.append(_q("modality_slices_overlap", "warning", msg))
    return out


def check_modality(
    modality: ModalityJson, info: InfoJson, expected_names: Mapping[tuple[str, str], Sequence[str]] | None = None
) -> list[Quirk]:
    """What a GR00T loader would trip on: slices naming missing or non-vector columns, out of range, of the wrong
    rotation width or dtype, overlapping; video aliases of non-video features; annotations that are not integer
    task-index columns. `expected_names[(group, key)]`, when given, must equal the feature names the slice covers."""
    out: list[Quirk] = []
    for group in ("state", "action"):
        spans: dict[str, list[tuple[int, int, str]]] = {}
        for key, s in getattr(modality, group).items():
            column = modality.column(group, key)
            ft = info.features.get(column)
            width, bad = _vector_feature(column, ft, f"{group}.{key}")
            out += bad
            if width is None or ft is None:
                continue
            problems = _check_slice(group, key, s, column, ft, width)
            out += problems
            if any(p.code == "modality_slice_out_of_range" for p in problems):
                continue
            spans.setdefault(column, []).append((s.start, s.end, key))
            want = (expected_names or {}).get((group, key))
            have = (ft.flat_names() or [])[s.start : s.end]
            if want is not None and list(want) != have:
                msg = f"{group}.{key}: [{s.start}, {s.end}) of {column!r} names {have}, expected {list(want)}"
                out.append(_q("modality_names_mismatch", "error", msg))
        out += _check_overlaps(group, spans)
    for alias in modality.video:
        column = modality.video_column(alias)
        ft = info.features.get(column)
        if ft is None or not ft.is_visual:
            what = "is not a feature in info.json" if ft is None else f"is {ft.dtype}, not a video"
            out.append(_q("modality_video_not_video", "error", f"video.{alias}: {column!r} {what}"))
    for key in modality.annotation:
        column = modality.annotation_column(key)
        ft = info.features.get(column)
        if ft is None:
            msg = f"annotation.{key}: column {column!r} is not a feature in info.json"
            out.append(_q("modality_unknown_column", "error", msg))
        elif ft.dtype not in INTEGER_DTYPES or tuple(ft.shape) != (1,):
            msg = f"annotation.{key}: {column!r} is {ft.dtype}{list(ft.shape)}, not an integer index into tasks.jsonl"
            out.append(_q("modality_annotation_not_index", "error", msg))
    return out
