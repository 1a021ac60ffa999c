"""The consumer layout of an export (`schemas/export_layout.py`): which canonical column becomes which exported feature,
the per-frame table transform, and the episode columns. Shared by the v3.0 and v2.1 LeRobot exports; pure functions.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas.canonical import ACTION, INTRINSICS_KEY, feature_intrinsics
from schemas.corpus import EpisodeLineage
from schemas.export_layout import (
    ACTION_MASK_COLUMN,
    CAPTION_COLUMN,
    EPISODE_COLUMN_TYPES,
    INTRINSICS_TYPE,
    ND_NAMES_KEY,
    ND_SHAPE_KEY,
    frame_flag_key,
    intrinsics_column,
    is_policy_key,
)
from schemas.lerobot_features import VISUAL_DTYPES

_NOT_VECTOR = ("video", "image", "string")


@dataclass(frozen=True)
class Column:
    """One exported non-video column: its key, the canonical column it comes from, the shape it is flattened from."""

    key: str
    source: str
    nd_shape: tuple[int, ...] | None = None
    select: tuple[int, ...] | None = None  # the source column's dims taken, in order (a joint-space action)

    @property
    def reshaped(self) -> bool:
        """Its values are not the source column's rows as they are (flattened, or some dims taken): new stats."""
        return self.nd_shape is not None or self.select is not None


@dataclass(frozen=True)
class Layout:
    features: dict[str, Any]  # the exported features (v2.1 form, info order kept)
    columns: tuple[Column, ...]  # every non-video column, in feature order

    @property
    def source_columns(self) -> list[str]:
        return [c.source for c in self.columns]

    def apply(self, table: pa.Table) -> pa.Table:
        """An episode's canonical columns (`source_columns`) as the exported columns, in feature order."""
        arrays, names = [], []
        for col in self.columns:
            arr = table.column(col.source)
            if col.nd_shape is not None:
                arr = flatten_column(arr, math.prod(col.nd_shape))
            if col.select is not None:
                arr = select_dims(arr, col.select)
            arrays.append(arr)
            names.append(col.key)
        return pa.Table.from_arrays(arrays, names=names)


def flat_names(names: Any, shape: Sequence[int]) -> list[str]:
    """The names of a flattened (a, b, c) feature in C order: the product of its nested names joined by "." when it
    has one list per axis of the right lengths, else the indices (`0.3.2`)."""
    axes = names if isinstance(names, list) and len(names) == len(shape) else None
    if axes is None or any(not isinstance(a, list) or len(a) != n for a, n in zip(axes, shape, strict=True)):
        axes = [[str(i) for i in range(n)] for n in shape]
    return [".".join(map(str, combo)) for combo in itertools.product(*axes)]


def flatten_column(arr: pa.ChunkedArray | pa.Array, width: int) -> pa.Array:
    """Nested list rows (an ArrayND column) as fixed-size lists of `width` values, row order and C order kept."""
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    if isinstance(arr.type, pa.ExtensionType):
        arr = arr.storage
    n = len(arr)
    values = arr
    while (
        pa.types.is_list(values.type) or pa.types.is_fixed_size_list(values.type) or pa.types.is_large_list(values.type)
    ):
        values = pc.list_flatten(values)
    if len(values) != n * width:
        raise ValueError(f"a row holds {len(values) / max(n, 1):g} values, expected {width}")
    return pa.FixedSizeListArray.from_arrays(values, width)


def select_dims(arr: pa.ChunkedArray | pa.Array, dims: Sequence[int]) -> pa.Array:
    """Fixed-size list rows of a 1-D feature reduced to `dims`, in that order (a joint-space action's joints)."""
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    values = pc.list_flatten(arr).to_numpy(zero_copy_only=False).reshape(len(arr), -1)
    picked = np.ascontiguousarray(values[:, list(dims)])
    return pa.FixedSizeListArray.from_arrays(pa.array(picked.reshape(-1)), len(dims))


def consumer_layout(
    features: Mapping[str, Any],
    *,
    keep_nd: bool = False,
    from_columns: Mapping[str, str] | None = None,
    select: Mapping[str, Sequence[int]] | None = None,
) -> Layout:
    """The exported features of canonical `features` (v2.1 form): bool features under `observation.`/`action` moved
    under `frame.`, features of 2+ dimensions flattened (unless `keep_nd`), a camera's info as it is.
    `from_columns`: an exported key read from another canonical column (`action` from `action.native` for a robot
    without a description, `lerobot_v3/native.py`); `select`: the dims of that column it takes (a joint-space action,
    `lerobot_v3/spaces.py`), its feature already of their width."""
    from_columns, select = from_columns or {}, select or {}
    out: dict[str, Any] = {}
    columns = []
    for key, ft in features.items():
        if ft["dtype"] in VISUAL_DTYPES:
            out[key] = copy.deepcopy(ft)
            continue
        new = copy.deepcopy(dict(ft))
        dst = frame_flag_key(key) if ft["dtype"] == "bool" and is_policy_key(key) else key
        shape = tuple(int(s) for s in ft["shape"])
        nd = None
        if len(shape) > 1 and not keep_nd and ft["dtype"] not in _NOT_VECTOR:
            nd = shape
            new["shape"] = [math.prod(shape)]
            new["names"] = flat_names(ft.get("names"), shape)
            new["info"] = {**(ft.get("info") or {}), ND_SHAPE_KEY: list(shape), ND_NAMES_KEY: ft.get("names")}
        if dst in out or (dst in features and dst != key):
            raise ValueError(f"feature {key!r} would be exported as {dst!r}, which the dataset already has")
        out[dst] = new
        dims = tuple(int(d) for d in select[key]) if key in select else None
        columns.append(Column(dst, from_columns.get(key, key), nd, dims))
    return Layout(out, tuple(columns))


def episode_mask(
    line: Mapping[str, Any], features: Mapping[str, Any], lineage: EpisodeLineage | None = None
) -> list[int] | None:
    """The episode's action mask: its lineage's (`lineage`, else read from `line`), else its dataset's action info
    (`features.action.info.mask`), else None (a dataset written by another tool with no mask)."""
    mask = (EpisodeLineage.of(line) if lineage is None else lineage).mask
    if mask is None:
        mask = ((features.get(ACTION) or {}).get("info") or {}).get("mask")
    return None if mask is None else [int(bool(m)) for m in mask]


def episode_columns(
    line: Mapping[str, Any], features: Mapping[str, Any], cameras: Sequence[str], lineage: EpisodeLineage | None = None
) -> dict[str, Any]:
    """The layout's episode columns of one canonical episode (`episodes.jsonl` line, its lineage `lineage` where the
    caller has it validated) of a dataset with `features`: action mask, caption, and each exported camera's intrinsics
    as its dataset's feature info holds them."""
    lineage = EpisodeLineage.of(line) if lineage is None else lineage
    out: dict[str, Any] = {
        ACTION_MASK_COLUMN: episode_mask(line, features, lineage),
        CAPTION_COLUMN: lineage.caption_text(),
    }
    for key in cameras:
        K = feature_intrinsics((features.get(key) or {}).get("info"))
        out[intrinsics_column(key)] = None if K is None else np.asarray(K, dtype=np.float64).reshape(-1).tolist()
    return out


def episode_column_types(cameras: Sequence[str]) -> dict[str, pa.DataType]:
    """Arrow types of the layout's episode columns for these cameras."""
    return {**EPISODE_COLUMN_TYPES, **{intrinsics_column(k): INTRINSICS_TYPE for k in cameras}}


def without_intrinsics(feature: Mapping[str, Any]) -> dict[str, Any]:
    """A camera feature whose info no longer claims intrinsics (a manifest: they are per episode)."""
    out = copy.deepcopy(dict(feature))
    if isinstance(out.get("info"), dict):
        out["info"].pop(INTRINSICS_KEY, None)
    return out
