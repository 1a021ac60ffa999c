"""Never a constant `action` (issue 55): a robot eidata has no description of fills no canonical dim, so its `action`
[50] is one constant row and its command is `action.native`, which the export's action space takes by default
(`spaces.py`); whatever the plan, `check_action_moves` refuses a constant `action`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from adapters.lerobot_format.layout import column_to_numpy
from jobs.export.lerobot_v3.settle import named
from schemas.actions import ActionKind


class ConstantActionError(ValueError):
    """The export's `action` would take one value per dim over every frame: padding standing in for an action."""


def declares_no_action(episodes: list[Any]) -> bool:
    """Every episode has no action at all (`EpisodeRef.action_kind`, the catalog's reading: 'none'): video without a
    command, whose `action` is the canonical placeholder its mask marks unused."""
    return bool(episodes) and all(r.action_kind() == ActionKind.none for r in episodes)


NO_ACTION_NOTE = (
    "no episode has an action (catalog action_kind 'none'): `action` is the canonical placeholder, its mask all 0 "
    "(visual forecasting only; a policy wants `WHERE has_action`)"
)


def check_action_moves(
    episodes: list[Any], source_column: str, name: str, dims: Sequence[int] | None = None
) -> str | None:
    """Raise `ConstantActionError` when the column exported as `action` takes one value per dim over all the
    episodes' frames while they declare an action; stops reading at the first episode in which a dim moves. Episodes
    that declare none (video) keep the placeholder, said in the note returned. `dims`: the column's dims exported."""
    if declares_no_action(episodes):
        return NO_ACTION_NOTE
    lo: np.ndarray | None = None
    hi: np.ndarray | None = None
    frames = 0
    for ref in episodes:
        extent = ref.extent(source_column) or _read_extent(ref, source_column)
        if extent is None:
            continue
        e_lo, e_hi, n = extent
        if dims is not None:
            e_lo, e_hi = e_lo[list(dims)], e_hi[list(dims)]
        frames += n
        lo = e_lo if lo is None else np.fmin(lo, e_lo)
        hi = e_hi if hi is None else np.fmax(hi, e_hi)
        if np.any(hi > lo):
            return None
    if lo is None:
        return None
    raise ConstantActionError(
        f"{name}: `action` (read from {source_column}) takes one value per dim over all {frames} frames of "
        f"{len(episodes)} episodes ({named(episodes)}): a constant column would stand in for an action. These episodes "
        "have no action to train on (catalog action_kind 'none'): select episodes with one (`WHERE has_action`)"
    )


def _read_extent(ref: Any, column: str) -> tuple[np.ndarray, np.ndarray, int] | None:
    """(min, max, frames) of `column` over one episode read from its data file (an episode without stats)."""
    src = ref.source
    with src.corpus.open_file(src.data_file(ref.episode_index)) as f:
        col = pq.ParquetFile(f).read(columns=[column], use_threads=False).column(column)
    if len(col) == 0:
        return None
    values = column_to_numpy(col).astype(np.float64).reshape(len(col), -1)
    values = np.where(np.isfinite(values), values, np.nan)
    return np.nanmin(values, axis=0), np.nanmax(values, axis=0), len(values)
