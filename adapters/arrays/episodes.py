"""Where each episode of an array store lies under its layout (`layouts.yaml` `episodes`): a replay buffer's rows cut at
its `episode_ends`, one group per demo, or the whole file; and how many rows each array holds for one episode."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from adapters.arrays.layouts import Layout, matches
from adapters.arrays.stores import Store
from adapters.base import natural_key
from adapters.hostile import bounds


def episodes_of(store: Store, layout: Layout) -> Iterator[tuple[str, dict[str, Any]]]:
    """(label, locator) per episode of `store` under `layout`; ValueError when its episode index is unusable."""
    spec = layout.episodes
    if spec.ends:
        ends = store.read(spec.ends).astype(np.int64).reshape(-1)
        rows = base_rows(store, spec.base)
        bounds.check("rows", rows, bounds.limit("ROWS"), "the ROWS limit")
        if len(ends) == 0:
            raise ValueError(f"{spec.ends} is empty: the buffer holds no episode")
        if ends[0] <= 0 or np.any(np.diff(ends) <= 0) or ends[-1] > rows:
            raise ValueError(
                f"{spec.ends} must rise strictly from > 0 to at most the {rows} rows of {spec.base}/ "
                f"(found {ends[:3].tolist()}...{ends[-1]})"
            )
        starts = np.concatenate([[0], ends[:-1]])
        for i, (a, b) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
            yield f"episode_{i}", {"rows": [a, b]}
    elif spec.groups:
        groups = [g for g in matches(frozenset(store.groups), spec.groups)]
        if not groups:
            raise ValueError(f"no group {spec.groups}")
        for g in sorted(groups, key=natural_key):
            yield g.rsplit("/", 1)[-1], {"group": g}
    else:
        yield "", {}


def base_rows(store: Store, base: str) -> int:
    """The rows of a replay buffer: the length its arrays under `base` share (the most common one)."""
    lengths = [info.shape[0] for k, info in store.arrays.items() if k.startswith(base + "/") and info.shape]
    if not lengths:
        raise ValueError(f"no array under {base}/")
    values, counts = np.unique(lengths, return_counts=True)
    return int(values[np.argmax(counts)])


def rows_per_array(store: Store, base: str, start: int | None, stop: int | None, layout: Layout) -> dict[str, int]:
    """path under `base` -> the rows it holds for this episode, for every array that is not skipped."""
    prefix = base + "/" if base else ""
    out = {}
    for key, info in store.arrays.items():
        if not key.startswith(prefix) or not info.shape:
            continue
        rel = key[len(prefix) :]
        if any_of(rel, layout.skip) or (layout.episodes.ends and key == layout.episodes.ends):
            continue
        out[rel] = info.shape[0] if start is None else max(0, min(info.shape[0], stop) - start)
    return out


def any_of(rel: str, patterns: tuple[str, ...]) -> bool:
    return any(matches(frozenset([rel]), p) for p in patterns)


def join(base: str, rel: str) -> str:
    return f"{base}/{rel}" if base else rel
