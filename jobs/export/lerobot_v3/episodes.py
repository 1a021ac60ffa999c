"""The episodes of an export's plan, held as columns (issue 99): `PlanEpisodes` keeps per episode its index and the
code of its `Kind` (numpy), and the manifest's own values (tier, uid, split, weight) as Arrow columns; what the
episodes of one dataset and one catalog text share (its lineage's columns, its mask, caption and intrinsics, the
cameras it reads and their fits) is one `Kind`. An `EpisodeRef` is made at each ask and not kept: a plan of 1M
episodes held one ref and its columns per episode, ~1.4 KB each (2.5 GiB, 85 CPU-s, benchmarks/COMMAND_SURFACE.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, overload

import numpy as np
import pyarrow as pa

from jobs.export.lerobot_v3.source import Extent, SourceDataset
from jobs.export.lerobot_v3.spaces import episode_kind
from jobs.export.resize import NO_FITS, Resizing, plan_resizing
from schemas.actions import ActionKind
from schemas.canonical import ACTION
from schemas.corpus import EpisodeLineage
from schemas.export_frames import ExportFrames
from schemas.image_size import FrameFit

NO_CHANGE: Mapping[str, Any] = NO_FITS  # no camera read from another key, none resized
_KEYS: dict[tuple[str, ...], tuple[str, ...]] = {}  # one tuple for each set of extra columns' names
OWN: Any = type("Own", (), {"__repr__": lambda _: "OWN"})()  # a `Kind`'s value that is each episode's own column
CHUNK = 65_536  # episodes whose own values are decoded at a time when iterating


class EpisodeRef:
    """One episode to export: its dataset, its index there, extra episode columns, and the task every frame gets
    instead of its own (the caption, `--caption-as-task`; None keeps the frames' tasks). Slotted, its extra columns
    held as a tuple of values beside one shared tuple of their names. A plan holds none: `PlanEpisodes` makes one at
    each ask (issue 99)."""

    __slots__ = ("_names", "_values", "cameras", "episode_index", "resize", "source", "task")

    def __init__(
        self,
        source: SourceDataset,
        episode_index: int,
        extra: Mapping[str, Any] | None = None,
        task: str | None = None,
        cameras: Mapping[str, str] = NO_CHANGE,
        resize: Mapping[str, FrameFit] = NO_CHANGE,
    ) -> None:
        self.source, self.episode_index, self.task = source, episode_index, task
        self.extra = extra or NO_CHANGE
        self.cameras = cameras  # exported video key -> its dataset's, where they differ
        self.resize = resize  # exported video key -> its fit, where resized

    @property
    def extra(self) -> Mapping[str, Any]:
        """Its extra episode columns, read-only (set them whole: `ref.extra = ref.extra | {...}`)."""
        return MappingProxyType(dict(zip(self._names, self._values, strict=True)))

    @extra.setter
    def extra(self, columns: Mapping[str, Any]) -> None:
        names = tuple(columns)
        self._names = _KEYS.setdefault(names, names)
        self._values = tuple(columns.values())

    def column(self, name: str, default: Any = None) -> Any:
        """Its extra column `name` (`default` without), read without making the mapping `extra` (a plan reads one or
        two of an episode's ~15 columns, per episode)."""
        try:
            return self._values[self._names.index(name)]
        except ValueError:
            return default

    def camera(self, key: str) -> str:
        """The video key of the episode's own dataset the exported camera `key` is read from."""
        return self.cameras.get(key, key)

    @property
    def line(self) -> dict[str, Any]:
        """Its `episodes.jsonl` line ({} where its dataset lacks it)."""
        return self.source.episodes.get(self.episode_index, {})

    @property
    def lineage(self) -> EpisodeLineage:
        """Read from its line at each ask, not kept: a manifest's plan holds a ref per episode (issue 75); a line the
        catalog gave is validated once per distinct text (`SourceDataset.lineage`)."""
        return self.source.lineage(self.episode_index)

    def action_kind(self) -> ActionKind:
        """Its action kind as the catalog and the trainer read it (`EpisodeLineage.action_kind_in`)."""
        return self.lineage.action_kind_in(self.source.meta)

    @property
    def stats(self) -> dict[str, Any]:
        """Its `episodes_stats.jsonl` stats ({} without)."""
        return self.source.stats.get(self.episode_index, {})

    def extent(self, column: str) -> Extent | None:
        """(min, max, frames) of `column` over the episode from its stats, None without: no data file read."""
        return self.source.extents(column).get(self.episode_index)

    def moves(self, column: str) -> np.ndarray | None:
        """Per dim of `column`, whether it takes more than one value over the episode (`SourceDataset.moves`), None
        without its stats: no data file read."""
        return self.source.moves(column).get(self.episode_index)

    @property
    def uid(self) -> str:
        """How a message names it: its episode_uid, else its dataset folder's name and its index."""
        uid = self.column("episode_uid") or self.lineage.episode_uid
        return str(uid or f"{self.source.root.name} episode {self.episode_index}")

    def embodiment(self) -> str | None:
        """Its embodiment as the catalog decides it (jobs/catalog/rows.py): its lineage's, else its dataset's action
        info's, else its robot_type."""
        return self.source.per_text(
            self.episode_index, "embodiment", lambda lineage: embodiment_of(self.source, lineage)
        )

    def kind(self) -> ActionKind:
        """Its action kind as a plan settles it (`spaces.episode_kind` of its line and dataset), made once per
        distinct catalog text (`SourceDataset.per_text`)."""
        return self.source.per_text(self.episode_index, "kind", lambda _: episode_kind(self.line, self.source.features))


def embodiment_of(src: SourceDataset, lineage: EpisodeLineage) -> str | None:
    """`EpisodeRef.embodiment` of an episode of `src` whose lineage the caller has."""
    info = (src.features.get(ACTION) or {}).get("info") or {}
    return lineage.embodiment or info.get("embodiment") or src.info.get("robot_type")


class Kind:
    """What the episodes of one dataset and one catalog text share in a plan (`SourceDataset.text`): their extra
    columns' names and values (`OWN` where each episode has its own, read from the plan's columns), the task, the
    cameras read and their fits. Set whole by the plan, for every episode of it at once."""

    __slots__ = ("cameras", "dataset", "names", "own", "resize", "source", "task", "values")

    def __init__(
        self,
        source: Any,
        extra: Mapping[str, Any] | None = None,
        *,
        dataset: str | None = None,
        task: str | None = None,
        cameras: Mapping[str, str] = NO_CHANGE,
        resize: Mapping[str, FrameFit] = NO_CHANGE,
    ) -> None:
        self.source, self.dataset, self.task, self.cameras, self.resize = source, dataset, task, cameras, resize
        self.names: tuple[str, ...] = ()
        self.values: tuple[Any, ...] = ()
        self.set_extra(extra or NO_CHANGE)

    def set_extra(self, columns: Mapping[str, Any]) -> None:
        names = tuple(columns)
        self.names, self.values = _KEYS.setdefault(names, names), tuple(columns.values())
        self.own = any(v is OWN for v in self.values)  # some value is each episode's own


class PlanEpisodes(Sequence[EpisodeRef]):
    """A plan's episodes in order: per episode its `Kind` (a code into `kinds`), its index in its dataset, and its
    own columns (`own`: name -> an Arrow array, one value per episode); an `EpisodeRef` made at each ask."""

    def __init__(
        self, kinds: list[Kind], kind: np.ndarray, index: np.ndarray, own: Mapping[str, pa.Array] | None = None
    ) -> None:
        self.kinds, self.kind = kinds, np.asarray(kind, np.int64)
        self.index = np.asarray(index, np.int64)
        self.own: dict[str, pa.Array] = dict(own or {})
        self._by_kind: list[tuple[int, np.ndarray]] | None = None

    @classmethod
    def of(cls, refs: Sequence[EpisodeRef]) -> PlanEpisodes:
        """Refs made one by one (a test's), each its own kind."""
        kinds = [Kind(r.source, r.extra, task=r.task, cameras=r.cameras, resize=r.resize) for r in refs]
        return cls(kinds, np.arange(len(refs)), np.array([r.episode_index for r in refs], np.int64))

    def __len__(self) -> int:
        return len(self.index)

    @overload
    def __getitem__(self, at: int) -> EpisodeRef: ...
    @overload
    def __getitem__(self, at: slice) -> PlanEpisodes: ...
    def __getitem__(self, at: int | slice) -> EpisodeRef | PlanEpisodes:
        if isinstance(at, slice):
            return self.take(np.arange(len(self))[at])
        at = range(len(self))[at]  # an IndexError past the end, as a list's
        kind = self.kinds[code := int(self.kind[at])]
        own = {n: self.own[n][at].as_py() for n, v in zip(kind.names, kind.values, strict=True) if v is OWN}
        return self._ref(code, int(self.index[at]), own)

    def __iter__(self) -> Iterator[EpisodeRef]:
        for start in range(0, len(self), CHUNK):
            end = min(start + CHUNK, len(self))
            own = {n: a.slice(start, end - start).to_pylist() for n, a in self.own.items()}
            kinds, indices = self.kind[start:end].tolist(), self.index[start:end].tolist()
            for j, (k, i) in enumerate(zip(kinds, indices, strict=True)):
                yield self._ref(k, i, {n: v[j] for n, v in own.items()} if own else {})

    def _ref(self, code: int, index: int, own: Mapping[str, Any]) -> EpisodeRef:
        kind = self.kinds[code]
        ref = EpisodeRef.__new__(EpisodeRef)
        ref.source, ref.episode_index, ref.task = kind.source, index, kind.task
        ref.cameras, ref.resize, ref._names = kind.cameras, kind.resize, kind.names
        if kind.own:
            ref._values = tuple(own[n] if v is OWN else v for n, v in zip(kind.names, kind.values, strict=True))
        else:
            ref._values = kind.values
        return ref

    def first(self, code: int, positions: np.ndarray) -> EpisodeRef:
        """The ref of the kind `code`'s first episode (at `positions[0]`), its own columns None: what its kind
        decides reads none of them (an Arrow value is slow to read one at a time)."""
        return self._ref(code, int(self.index[positions[0]]), dict.fromkeys(self.own))

    def take(self, positions: np.ndarray) -> PlanEpisodes:
        """The episodes at `positions`, in their order (the kinds shared)."""
        at = np.asarray(positions, np.int64)
        own = {n: a.take(pa.array(at)) for n, a in self.own.items()}
        return PlanEpisodes(self.kinds, self.kind[at], self.index[at], own)

    def by_kind(self) -> list[tuple[int, np.ndarray]]:
        """(kind code, the positions of its episodes) of each kind present, in the order of their first episodes;
        made once (the codes are not changed)."""
        if self._by_kind is not None:
            return self._by_kind
        codes, first, inverse = np.unique(self.kind, return_index=True, return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        bounds = np.cumsum(np.bincount(inverse, minlength=len(codes)))
        groups = np.split(order, bounds[:-1])
        self._by_kind = [(int(codes[g]), groups[g]) for g in np.argsort(first, kind="stable")]
        return self._by_kind

    def sources(self) -> list[Any]:
        """The datasets of the episodes, each once, in the order of their first episodes."""
        return list({id(s): s for s in (self.kinds[c].source for c, _ in self.by_kind())}.values())

    def resized(self, keys: Sequence[str], frames: ExportFrames) -> Resizing:
        """`plan_resizing` of the episodes, decided once per kind (its episodes' cameras, sizes and intrinsics are
        its own) and counted for each of its episodes; sets each kind's fits and fitted intrinsics."""
        groups = self.by_kind()
        refs = [self.first(code, positions) for code, positions in groups]
        out = plan_resizing(refs, keys, frames, [len(p) for _, p in groups])
        for (code, _), ref in zip(groups, refs, strict=True):
            kind = self.kinds[code]
            own = {n for n, v in zip(kind.names, kind.values, strict=True) if v is OWN}
            kind.set_extra({n: OWN if n in own else v for n, v in ref.extra.items()})
            kind.resize = ref.resize
        return out
