"""The action of an export where the robot has no description (issue 55): its native command, never padding.

A canonical dataset of a robot eidata has no description of fills no canonical dim: its `action` [50] and
`observation.state` [50] are one constant row, and its command is `action.native` (its joints
`observation.state.native`), at 10 Hz. A trainer that reads `action` would learn a constant. So an export of such a
dataset reads `action` from `action.native` and `observation.state` from `observation.state.native` (the natives
stay under their own keys too), and a manifest that mixes such robots with canonical ones becomes one dataset for
the canonical episodes and one per native command width (`NAME@native<W>`), each said in one line. Whatever the
plan, an export whose `action` takes one value per dim over all its frames is refused, naming the episodes
(`check_action_moves`).
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from jobs.catalog.manifest_arg import manifest_folder
from schemas.canonical import ACTION, ACTION_NATIVE, STATE, STATE_NATIVE
from schemas.lerobot import INFO_PATH
from schemas.manifest import ENTRIES_PARQUET

NATIVE_OF = {ACTION: ACTION_NATIVE, STATE: STATE_NATIVE}  # exported key -> the native column it is read from
NATIVE_GROUP = "@native"  # a manifest's dataset of native-command episodes: NAME@native<width>


class ConstantActionError(ValueError):
    """The export's `action` would take one value per dim over every frame: padding standing in for an action."""


def uses_native_action(features: Mapping[str, Any]) -> bool:
    """A dataset whose action mask fills no canonical dim and that keeps a native command: its `action` is padding."""
    info = (features.get(ACTION) or {}).get("info") or {}
    mask = info.get("mask")
    return ACTION_NATIVE in features and mask is not None and not any(mask)


def native_width(features: Mapping[str, Any]) -> int:
    return int(np.prod(features[ACTION_NATIVE]["shape"]))


def with_native_action(features: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str], str]:
    """`features` with `action` (and `observation.state` where a native state is kept) replaced by the natives'
    specs, the columns they are read from (`consumer_layout(from_columns=)`), and the line that says so."""
    out, columns = dict(features), {}
    for key, native in NATIVE_OF.items():
        if key in features and native in features:
            spec = copy.deepcopy(dict(features[native]))
            spec["info"] = {**(spec.get("info") or {}), "from": native, "action_kind": "native"}
            out[key], columns[key] = spec, native
    names = features[ACTION_NATIVE].get("names") or []
    shown = ", ".join(map(str, names[:3])) + (", ..." if len(names) > 3 else "")
    said = " and ".join(f"{k} from {v}" for k, v in columns.items())
    note = f"robot without a description: {said} (its command, {native_width(features)} dims: {shown}), at 10 Hz"
    return out, columns, note


def group_of(features: Mapping[str, Any]) -> str:
    """The dataset of a manifest export an episode of a dataset with `features` goes to: "" (the canonical one) or
    `@native<width>` (a robot without a description, by its command's width)."""
    return f"{NATIVE_GROUP}{native_width(features)}" if uses_native_action(features) else ""


def native_group_features(
    datasets: list[Mapping[str, Any]], common: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str], str]:
    """A native group's features: those its datasets share (`common`), plus each native they all keep at one
    shape (its names where they agree, else none: two robots' joints of one width), then `with_native_action`."""
    out = dict(common)
    for native in NATIVE_OF.values():
        specs = [ft.get(native) for ft in datasets]
        if any(s is None for s in specs) or len({tuple(s["shape"]) for s in specs if s}) != 1:
            continue
        first = {k: v for k, v in specs[0].items() if k != "info"}  # type: ignore[union-attr]
        if any(s.get("names") != first.get("names") for s in specs if s):
            first["names"] = None
        out[native] = first
    return with_native_action(out)


def _lineage(ref: Any) -> dict[str, Any]:
    return ref.source.episodes.get(ref.episode_index, {}).get("eidata") or {}


def declares_no_action(episodes: list[Any]) -> bool:
    """Every episode's lineage says it has no action at all (`action_kind` 'none'; before that column, a mask with no
    dim): video without a command, whose `action` is the canonical placeholder its mask marks unused."""
    kinds = [
        _lineage(r).get("action_kind") or ("canonical" if any(_lineage(r).get("mask") or []) else "none")
        for r in episodes
    ]
    return bool(kinds) and all(k == "none" for k in kinds)


NO_ACTION_NOTE = (
    "no episode has an action (catalog action_kind 'none'): `action` is the canonical placeholder, its mask all 0 "
    "(visual forecasting only; a policy wants `WHERE has_action`)"
)


def check_action_moves(episodes: list[Any], source_column: str, name: str) -> str | None:
    """Raise `ConstantActionError` when the column exported as `action` takes one value per dim over all the
    episodes' frames while they declare an action; stops reading at the first episode in which a dim moves. Episodes
    that declare none (video) keep the placeholder, said in the note returned."""
    if declares_no_action(episodes):
        return NO_ACTION_NOTE
    lo: np.ndarray | None = None
    hi: np.ndarray | None = None
    frames = 0
    for ref in episodes:
        extent = _extent(ref, source_column)  # the episode's own stats: no data file read for it
        if extent is None:
            extent = _read_extent(ref, source_column)
        if extent is None:
            continue
        e_lo, e_hi, n = extent
        frames += n
        lo = e_lo if lo is None else np.fmin(lo, e_lo)
        hi = e_hi if hi is None else np.fmax(hi, e_hi)
        if np.any(hi > lo):
            return None
    if lo is None:
        return None
    more = f" and {len(episodes) - 3} more" if len(episodes) > 3 else ""
    named = ", ".join(_episode_name(r) for r in episodes[:3]) + more
    raise ConstantActionError(
        f"{name}: `action` (read from {source_column}) takes one value per dim over all {frames} frames of "
        f"{len(episodes)} episodes ({named}): a constant column would stand in for an action. These episodes have "
        "no action to train on (catalog action_kind 'none'): select episodes with one (`WHERE has_action`)"
    )


def _extent(ref: Any, column: str) -> tuple[np.ndarray, np.ndarray, int] | None:
    """(min, max, frames) of `column` over one episode from its stats (`meta/episodes_stats.jsonl`), None without."""
    stats = ref.source.stats.get(ref.episode_index, {}).get(column) or {}
    if "min" not in stats or "max" not in stats:
        return None
    count = np.asarray(stats.get("count", [0]), np.int64).reshape(-1)
    lo, hi = (np.asarray(stats[k], np.float64).reshape(-1) for k in ("min", "max"))
    return lo, hi, int(count[0]) if count.size else 0


def _read_extent(ref: Any, column: str) -> tuple[np.ndarray, np.ndarray, int] | None:
    """(min, max, frames) of `column` over one episode read from its data file (an episode without stats)."""
    src = ref.source
    with src.corpus.open_file(src.data_file(ref.episode_index)) as f:
        col = pq.ParquetFile(f).read(columns=[column], use_threads=False).column(column)
    if len(col) == 0:
        return None
    arr = col.combine_chunks()
    while pa.types.is_list(arr.type) or pa.types.is_fixed_size_list(arr.type) or pa.types.is_large_list(arr.type):
        arr = pc.list_flatten(arr)
    values = arr.to_numpy(zero_copy_only=False).astype(np.float64).reshape(len(col), -1)
    values = np.where(np.isfinite(values), values, np.nan)
    return np.nanmin(values, axis=0), np.nanmax(values, axis=0), len(values)


def _episode_name(ref: Any) -> str:
    uid = ref.extra.get("episode_uid") or _lineage(ref).get("episode_uid")
    return str(uid or f"{ref.source.root.name} episode {ref.episode_index}")


def manifest_groups(corpus: Any, manifest: str | Path) -> dict[str, int]:
    """The manifest's episodes (`manifest` as `--manifest` takes it) by action group (`group_of`), canonical first:
    {"": n, "@native34": m, ...}."""
    entries = Path(manifest_folder(manifest, corpus.root), ENTRIES_PARQUET)
    if not entries.is_file():  # no such manifest: one group, and the planner says what is wrong with it
        return {"": 0}
    rows = pq.read_table(entries, columns=["dataset"]).column(0).to_pylist()
    groups: dict[str, int] = {}
    for ds, n in Counter(rows).items():
        g = group_of(json.loads((corpus.root / ds / INFO_PATH).read_text(encoding="utf-8"))["features"])
        groups[g] = groups.get(g, 0) + n
    return dict(sorted(groups.items())) or {"": 0}


def groups_line(name: str, groups: Mapping[str, int]) -> str:
    """One line: the datasets a manifest mixing robots with and without a description is exported as."""
    parts = [
        f"{name}{g} ({n} episodes, {'canonical action' if not g else 'native command of width ' + g[7:]})"
        for g, n in groups.items()
    ]
    return f"robots without a description keep their command: exported as {len(parts)} datasets, " + ", ".join(parts)
