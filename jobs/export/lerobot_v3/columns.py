"""A manifest export's per-episode values held as columns (issue 75: a plan over a manifest of 100k episodes held a
dict per episode line, two numpy arrays per episode extent and a dict of extra columns per `EpisodeRef`, ~6-10 KB an
episode, so a manifest of ~110k episodes reached the default task limit of 640 MiB).

`Interner` gives one object for equal values (the mask, the tasks, the source that a dataset's episodes repeat),
equal meaning of the same types all the way down (1, 1.0 and True, 0.0 and -0.0 stay apart: a line reads back as it
was parsed); `LineColumns` holds a dataset's cut `episodes.jsonl` lines as one code per field per episode and gives
each back as the dict it was (`kept_fields`' order); `ExtentColumns` holds one column's (min, max, frames) of every
episode as 2-D arrays. Read-only: no reader changes a line or an extent.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar

import numpy as np

ABSENT = -1  # a field the line lacks
V = TypeVar("V")


def typed_key(value: Any) -> Any:
    """A hashable key equal only for values equal in type and value all the way down; TypeError for a value that
    cannot be one (a dict, a list holding a list)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        types = tuple(map(type, value))
        if float in types:
            return list, tuple(typed_key(v) for v in value)
        return list, tuple(value), types
    if isinstance(value, float):
        return float, value.hex()
    return type(value), value


class Interner:
    """One object for each distinct value (`typed_key`); a value that cannot be keyed is kept as it is."""

    def __init__(self) -> None:
        self.table: list[Any] = []
        self._codes: dict[Any, int] = {}

    def code(self, value: Any) -> int:
        """The value's place in `table` (a new place for a value that cannot be keyed)."""
        try:
            key = typed_key(value)
            found = self._codes.get(key)
        except TypeError:
            key, found = None, None
        if found is None:
            found = len(self.table)
            self.table.append(value)
            if key is not None:
                self._codes[key] = found
        return found

    def __call__(self, value: Any) -> Any:
        return self.table[self.code(value)]


class ByEpisode(Mapping[int, V]):
    """episode_index -> a value held at its place among values in the order given (an int64 array of the indices and
    its sort order); a subclass gives the value at a place (`at`)."""

    def _place(self, indices: Iterable[int]) -> None:
        self.index = np.fromiter(indices, np.int64)
        self._sorter = np.argsort(self.index, kind="stable")

    def row(self, index: object) -> int | None:
        """The place of episode `index`, None where none is held."""
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool) or not -(2**63) <= index < 2**63:
            return None
        at = int(np.searchsorted(self.index, index, sorter=self._sorter))
        if at == len(self.index) or self.index[self._sorter[at]] != index:
            return None
        return int(self._sorter[at])

    def at(self, row: int) -> V:
        raise NotImplementedError

    def __getitem__(self, index: int) -> V:
        row = self.row(index)
        if row is None:
            raise KeyError(index)
        return self.at(row)

    def __contains__(self, index: object) -> bool:
        return self.row(index) is not None

    def __iter__(self) -> Iterator[int]:
        return iter(self.index.tolist())

    def __len__(self) -> int:
        return len(self.index)


class LineColumns(ByEpisode[dict[str, Any]]):
    """episode_index -> its `episodes.jsonl` line cut to `top` and `nested`'s fields (`kept_fields`' dicts), held
    as an int32 code per field per episode into one table of distinct values per field; the lines in the order
    given, a later line of an index replacing an earlier one (as a dict built from them would)."""

    def __init__(
        self, lines: Iterable[tuple[int, dict[str, Any]]], top: tuple[str, ...], nested: str, inner: tuple[str, ...]
    ) -> None:
        self.top, self.nested, self.inner = top, nested, inner
        fields = len(top) + 1 + len(inner)  # the nested value's own code: ABSENT, 0 a mapping, else 1 + its value
        tables = [Interner() for _ in range(fields)]
        rows: dict[int, list[int]] = {}
        for index, line in lines:
            codes = [tables[j].code(line[k]) if k in line else ABSENT for j, k in enumerate(top)]
            sub = line.get(nested, None)
            if nested not in line:
                codes.append(ABSENT)
                codes += [ABSENT] * len(inner)
            elif isinstance(sub, dict):
                codes.append(0)
                codes += [tables[len(top) + 1 + j].code(sub[k]) if k in sub else ABSENT for j, k in enumerate(inner)]
            else:
                codes.append(1 + tables[len(top)].code(sub))
                codes += [ABSENT] * len(inner)
            rows[index] = codes
        self._place(rows)
        self._codes = np.array(list(rows.values()), np.int32).reshape(len(rows), fields)
        self._tables = [t.table for t in tables]

    def at(self, row: int) -> dict[str, Any]:
        codes, tables, top = self._codes[row].tolist(), self._tables, len(self.top)
        out = {k: tables[j][c] for j, (k, c) in enumerate(zip(self.top, codes, strict=False)) if c != ABSENT}
        own = codes[top]
        if own > 0:
            out[self.nested] = tables[top][own - 1]
        elif own == 0:
            inner = zip(self.inner, codes[top + 1 :], strict=True)
            out[self.nested] = {k: tables[top + 1 + j][c] for j, (k, c) in enumerate(inner) if c != ABSENT}
        return out


Extent = tuple[np.ndarray, np.ndarray, int]  # (min, max, frames) of a column over an episode


class ExtentColumns(ByEpisode[Extent]):
    """episode_index -> (min, max, frames) of one column, every episode's min and max rows of two 2-D float64 arrays
    (a list of rows where the episodes' widths differ), in the order given."""

    def __init__(self, extents: Iterable[tuple[int, Extent]]) -> None:
        found = dict(extents)
        self._place(found)
        lo, hi = [e[0] for e in found.values()], [e[1] for e in found.values()]
        self._frames = np.fromiter((e[2] for e in found.values()), np.int64, len(found))
        alike = len({a.shape for a in lo + hi}) <= 1
        self._lo: Any = np.stack(lo) if alike and lo else lo
        self._hi: Any = np.stack(hi) if alike and hi else hi

    def at(self, row: int) -> Extent:
        return self._lo[row], self._hi[row], int(self._frames[row])
