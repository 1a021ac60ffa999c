"""The canonical dataset an export reads (`SourceDataset`): its info and tasks, and of its episodes the ones a plan
names, each cut to the fields a plan reads; their stats when first asked (plain dicts: a plan of 100k episodes peaks at
657 MiB so, 417 with them held as columns, which issue 84 deleted: benchmarks/COMMAND_SURFACE.md)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Collection, Hashable, Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from adapters.lerobot_format.files import read_jsonl
from adapters.storage.corpus import Corpus
from jobs.export.layout import episode_columns
from jobs.export.lerobot_v3.cameras import PlanError
from schemas.canonical import ACTION_NATIVE
from schemas.corpus import LINEAGE_KEY, EpisodeLineage
from schemas.episode_lines import PlanLines, plan_fields
from schemas.lerobot import EPISODES_PATH, EPISODES_STATS_PATH, INFO_PATH, TASKS_PATH, InfoJson
from schemas.lerobot_features import is_video

T = TypeVar("T")
_NONE = object()


class SourceDataset:
    """A canonical v2.1 dataset `root` of `corpus` read for export: info, tasks, and the `episodes.jsonl` lines of
    `episodes` (None: all; a manifest's: those it names, the other lines unparsed, `schemas.episode_lines`) cut to
    what a plan reads (`schemas.episode_lines.plan_fields`: `EpisodeRef.line`, `.lineage`, the layout's episode
    columns, `spaces.episode_kind`), or `lines` as the catalog gives them (`adapters.storage.plan_lines`: no
    `episodes.jsonl` read); their stats read when first asked (`stats`, `extents`); its episode files
    opened through the corpus (`Corpus.open_file`: a bucket's by ranged GETs where they lie). `shared`: one object
    for each feature the datasets read with it declare alike (by its JSON text: ~17 KB of info per dataset, 2,988
    datasets in the 100k benchmark), and one info and its model for each info.json text; read-only, as the lines."""

    def __init__(
        self,
        root: Path,
        corpus: Corpus,
        episodes: Collection[int] | None = None,
        shared: dict[Any, Any] | None = None,
        lines: Mapping[int, dict[str, Any]] | None = None,
    ) -> None:
        self.root, self.corpus = Path(root), corpus
        self.wanted = None if episodes is None else frozenset(int(i) for i in episodes)
        text = (self.root / INFO_PATH).read_text(encoding="utf-8")
        # with `shared`: one info for every info.json of the same text, and its model (`meta`) made once; a corpus of
        # copies has a few (30,000 datasets at 1M episodes: 0.5 ms each to read, 0.2 to validate, issue 99)
        self._shared, self._text = shared, (hashlib.sha256(text.encode()).digest() if shared is not None else b"")
        if shared is not None and (info := shared.get(("info", self._text))) is not None:
            self.info: dict[str, Any] = info
        else:
            self.info = json.loads(text)
            if shared is not None and isinstance(features := self.info.get("features"), dict):
                self.info["features"] = {k: shared.setdefault(json.dumps(ft), ft) for k, ft in features.items()}
            if shared is not None:
                shared[("info", self._text)] = self.info
        self.tasks = {o["task_index"]: o["task"] for _, o in read_jsonl(self.root / TASKS_PATH)}
        self.episodes: Mapping[int, dict[str, Any]] = dict(self._lines()) if lines is None else lines
        self._extents: dict[str, dict[int, Extent]] = {}
        # the catalog's `native_moves` of the lines it gave (`PlanLines.moves`), else each column's from its stats
        self._moves: dict[str, Mapping[int, np.ndarray | None]] = {}
        if (moves := getattr(lines, "moves", None)) is not None:  # lines the catalog gave
            self._moves[ACTION_NATIVE] = moves
        # a catalog line's shared lineage (by its id, the object kept alive beside it) -> that lineage validated
        self._lineages: dict[int, tuple[Mapping[str, Any], EpisodeLineage]] = {}
        self._made: dict[tuple[int, Hashable], Any] = {}  # (id of a parsed plan_line, what) -> `per_text`'s

    def _held(self, index: int) -> tuple[EpisodeLineage, str] | None:
        """Of a line the catalog gave: the lineage its episodes of the same `plan_line` text share, validated once
        (`PlanLines.shared`, kept by its id with the object), and its uid; None for any other line."""
        lines = self.episodes
        if not isinstance(lines, PlanLines) or index not in lines:
            return None
        shared, uid = lines.shared(index)
        if not isinstance(raw := shared.get(LINEAGE_KEY), Mapping):
            return None
        if (held := self._lineages.get(id(raw))) is None:
            held = self._lineages[id(raw)] = (raw, EpisodeLineage.model_validate(raw))
        return held[1], uid

    def lineage(self, index: int) -> EpisodeLineage:
        """The lineage of the episode's line (`EpisodeLineage.of`; empty where its dataset lacks the episode). Of a
        line the catalog gave, the lineage shared by the episodes of its `plan_line` text, validated once, given the
        episode's uid: a plan validated each episode's 5-7 times, at each ask (70,350 calls for 10,050 episodes, issue
        99)."""
        if (held := self._held(index)) is None:
            return EpisodeLineage.of(self.episodes.get(index, {}))
        shared, uid = held
        return shared.model_copy(update={"episode_uid": uid})  # as `joined_fields` joins the line: its uid first

    def per_text(self, index: int, what: Hashable, make: Callable[[EpisodeLineage], T]) -> T:
        """`make(lineage)` of the episode (`what` names `make` and what else it depends on): of a line the catalog
        gave, made once per distinct `plan_line` text and kept, one object for every episode of that text (read-only:
        its lists are theirs too); of any other line, made at each ask."""
        lines = self.episodes
        if not isinstance(lines, PlanLines) or index not in lines:
            return make(self.lineage(index))
        at = (id(lines.shared(index)[0]), what)  # the parsed text, alive as long as the lines
        if (made := self._made.get(at, _NONE)) is _NONE:
            held = self._held(index)  # a lineage that is no mapping: as `lineage` reads it, uid-less
            made = self._made[at] = make(self.lineage(index) if held is None else held[0])
        return made  # type: ignore[no-any-return]

    def text(self, index: int) -> Hashable:
        """Which of its episodes share everything `per_text` makes (a plan's `episodes.Kind`): of a line the catalog
        gave, those of its `plan_line` text (the parsed object's id, alive as long as the lines); any other episode
        alone."""
        lines = self.episodes
        if isinstance(lines, PlanLines) and index in lines:
            return id(lines.shared(index)[0])
        return ("episode", index)

    def episode_columns(self, index: int, cameras: Sequence[str]) -> dict[str, Any]:
        """The layout's episode columns of the episode (`layout.episode_columns`: its mask, caption, each camera's
        intrinsics), made once per distinct `plan_line` text and cameras (`per_text`)."""
        make = lambda lineage: episode_columns({}, self.features, cameras, lineage)  # noqa: E731
        return self.per_text(index, ("columns", tuple(cameras)), make)

    def _lines(self) -> Iterator[tuple[int, dict[str, Any]]]:
        path = self.root / EPISODES_PATH
        for n, o in read_jsonl(path, self.wanted):
            index = o["episode_index"]
            if not isinstance(index, int) or isinstance(index, bool):
                raise PlanError(f"{path} line {n}: episode_index {index!r} is not an integer")
            yield index, plan_fields(o, LINEAGE_KEY)

    def _stats_lines(self) -> Iterator[dict[str, Any]]:
        path = self.root / EPISODES_STATS_PATH
        yield from (o for _, o in read_jsonl(path, self.wanted)) if path.exists() else ()

    @cached_property
    def stats(self) -> dict[int, dict[str, Any]]:
        """Its episodes' `episodes_stats.jsonl` stats, whole (a v2.1 writer keeps them), read at the first ask."""
        return {o["episode_index"]: o["stats"] for o in self._stats_lines()}

    def extents(self, column: str) -> dict[int, Extent]:
        """episode -> (min, max, frames) of `column` from its stats, that column's alone kept (`stats_extent`), as
        2-D arrays (`columns.ExtentColumns`)."""
        if column not in self._extents:
            if "stats" in self.__dict__:  # read whole already
                found = ((i, stats_extent(s.get(column))) for i, s in self.stats.items())
            else:
                found = ((o["episode_index"], stats_extent(o["stats"].get(column))) for o in self._stats_lines())
            self._extents[column] = {i: e for i, e in found if e is not None}
        return self._extents[column]

    def moves(self, column: str) -> Mapping[int, np.ndarray | None]:
        """episode -> per dim of `column`, whether it takes more than one value over the episode (its stats' max
        above its min; None without them): the catalog's for the command, else from `extents`."""
        if column not in self._moves:
            self._moves[column] = {i: hi > lo for i, (lo, hi, _) in self.extents(column).items()}
        return self._moves[column]

    @property
    def features(self) -> dict[str, Any]:
        return self.info["features"]

    @cached_property
    def meta(self) -> InfoJson:
        """`info` as the contract reads it (an episode's action kind falls back on its features)."""
        if self._shared is None:
            return InfoJson.model_validate(self.info)
        if (meta := self._shared.get(("meta", self._text))) is None:
            meta = self._shared[("meta", self._text)] = InfoJson.model_validate(self.info)
        return meta  # type: ignore[no-any-return]

    def data_file(self, episode_index: int) -> Path:
        return self.root / self.meta.data_file(episode_index)

    def video_file(self, episode_index: int, key: str) -> Path:
        return self.root / self.meta.video_file(episode_index, key)


Extent = tuple[np.ndarray, np.ndarray, int]  # (min, max, frames) of a column over an episode


def stats_extent(stats: dict[str, Any] | None) -> Extent | None:
    """(min, max, frames) of one column's stats (`episodes_stats.jsonl`), None without min and max."""
    stats = stats or {}
    if "min" not in stats or "max" not in stats:
        return None
    count = np.asarray(stats.get("count", [0]), np.int64).reshape(-1)
    lo, hi = (np.asarray(stats[k], np.float64).reshape(-1) for k in ("min", "max"))
    return lo, hi, int(count[0]) if count.size else 0


def _signature(ft: dict[str, Any]) -> tuple[Any, ...]:
    return ft["dtype"], list(ft["shape"]), ft.get("names")


def common_features(sources: list[SourceDataset], notes: list[str]) -> dict[str, Any]:
    """The numeric features every source declares alike (a key some source declares otherwise, or lacks, is left
    out, said in `notes`). One pass over the sources' features, each key's distinct signatures kept (by ==): it
    compared every source's with every other's, quadratic in the datasets (0.8 s at 300, issue 99)."""
    first = sources[0].features
    out = {}
    declared: Counter[str] = Counter(k for src in sources for k, ft in src.features.items() if not is_video(ft))
    having: Counter[str] = Counter()  # a declared key: how many sources have it, as a video or not
    signatures: dict[str, list[tuple[Any, ...]]] = {}  # and its distinct signatures among them
    for src in sources:
        for key in declared.keys() & src.features.keys():
            having[key] += 1
            seen, sig = signatures.setdefault(key, []), _signature(src.features[key])
            if not any(sig == s for s in seen):
                seen.append(sig)
    dropped = {k for k in declared if having[k] < len(sources) or len(signatures[k]) > 1}
    for key, ft in first.items():
        if not is_video(ft) and key not in dropped:
            out[key] = {k: v for k, v in ft.items() if k != "info"}
    for key in sorted(dropped):
        notes.append(f"feature {key} left out: {declared[key]} of {len(sources)} datasets declare it, not identically")
    return out
