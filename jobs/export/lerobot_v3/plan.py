"""What one LeRobot v3.0 export holds: a whole canonical dataset, or a curated manifest's episodes across sources
(jobs/export/README.md, "LeRobot v3.0 and v2.1").

A manifest becomes ONE dataset per action width (`settle.py`), so every episode must have the same features: the
numeric features every selected dataset declares alike (a source's natives differ by robot and are left out, counted
in the notes; the per-dataset `info` is dropped, the episode's embodiment being an episode column); the cameras
(`cameras.py`: an episode whose dataset lacks a chosen camera is skipped and counted, since a black stand-in would
teach a policy that the camera went dark; a plan leaving out a whole source is refused unless
`allow_dropped_sources`), resized to one size (`jobs/export/resize.py`); tasks merged by text in order of first
appearance; the per-episode columns lerobot keeps (`meta.episodes[i]`); train episodes first, then val, `info.json`
`splits` in lerobot's range form {"train": "0:T", "val": "T:N"}; weights rescaled to mean 1 over the episodes
exported. Every plan lays its features out for the trainers that read them (`jobs/export/layout.py`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pyarrow as pa

from adapters.storage.corpus import Corpus
from jobs.catalog.manifest_arg import manifest_folder, missing_hint
from jobs.catalog.manifest_read import entries_file
from jobs.catalog.rows import folder_names
from jobs.export.layout import Layout, consumer_layout, episode_column_types, without_intrinsics
from jobs.export.lerobot_v3.cameras import PlanError, default_cameras, resolve_cameras, slot_cameras, slot_columns
from jobs.export.lerobot_v3.entries import ManifestRow, manifest_datasets, manifest_rows
from jobs.export.lerobot_v3.settle import Group, settle
from jobs.export.lerobot_v3.source import Extent, SourceDataset, common_features
from jobs.export.lerobot_v3.spaces import SpaceOf, episode_kind, space_features
from jobs.export.resize import NO_FITS, Resizing, feature_hw, plan_resizing, video_feature
from schemas.actions import ActionKind, ActionSpace
from schemas.canonical import ACTION, HAND_KEYPOINTS, IMAGE_PREFIX, STATE
from schemas.corpus import EpisodeLineage
from schemas.export_frames import ExportFrames
from schemas.export_layout import CAPTION_COLUMN, camera_source_column
from schemas.image_size import FrameFit
from schemas.lerobot import INFO_PATH
from schemas.lerobot_features import features_v30, is_video, video_keys

MASKED_FEATURES = (ACTION, STATE, HAND_KEYPOINTS)  # a manifest's features whose stats count only the dims in use
PADDING_KEY = "padding"  # info of a masked feature in a manifest export: what an unused dim holds
PADDING = "the dim's masked median (meta/stats_by_embodiment.json all q50) where the episode does not use the dim"


NO_CHANGE: Mapping[str, Any] = NO_FITS  # no camera read from another key, none resized
_KEYS: dict[tuple[str, ...], tuple[str, ...]] = {}  # one tuple for each set of extra columns' names


class EpisodeRef:
    """One episode to export: its dataset, its index there, extra episode columns, and the task every frame gets
    instead of its own (the caption, `--caption-as-task`; None keeps the frames' tasks). Slotted, its extra columns
    held as a tuple of values beside one shared tuple of their names (issue 75: a plan holds one per episode of the
    manifest, ~300 bytes each instead of ~2 KB with a dict)."""

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
        return self.source.per_text(self.episode_index, "embodiment", lambda lineage: _embodiment(self.source, lineage))

    def kind(self) -> ActionKind:
        """Its action kind as a plan settles it (`spaces.episode_kind` of its line and dataset), made once per
        distinct catalog text (`SourceDataset.per_text`)."""
        return self.source.per_text(self.episode_index, "kind", lambda _: episode_kind(self.line, self.source.features))


def _embodiment(src: SourceDataset, lineage: EpisodeLineage) -> str | None:
    """`EpisodeRef.embodiment` of an episode of `src` whose lineage the caller has."""
    info = (src.features.get(ACTION) or {}).get("info") or {}
    return lineage.embodiment or info.get("embodiment") or src.info.get("robot_type")


@dataclass
class ExportPlan:
    name: str
    fps: int
    features: dict[str, Any]  # the exported features, v3.0 form (`layout.features` with `fps`)
    robot_type: str | None
    episodes: list[EpisodeRef]
    layout: Layout
    keep_tasks: dict[int, str] | None = None  # a single dataset keeps its task indices
    splits: dict[str, str] | None = None
    notes: list[str] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    sources: list[Path] = field(default_factory=list)
    column_types: dict[str, Any] = field(default_factory=dict)  # arrow types of the episode columns that may be null
    masked_stats: bool = False  # a manifest: stats.json from `masked_stats.py`, exact over the frames that use a dim
    resizing: Resizing | None = None  # the cameras' exported sizes and what is resized to them (`resize.py`)
    of: SpaceOf = field(default_factory=lambda: SpaceOf(ActionSpace.canonical))  # how its action leaves


def _ref(ref: EpisodeRef, cameras: list[str], caption_as_task: bool, extra: Mapping[str, Any]) -> EpisodeRef:
    """`ref` given the layout's episode columns after `extra` (and the caption as its task when asked and known)."""
    columns = ref.source.episode_columns(ref.episode_index, cameras)
    ref.extra = dict(extra) | columns
    ref.task = columns[CAPTION_COLUMN] if caption_as_task else None
    return ref


def dataset_plan(
    corpus: Corpus,
    root: Path,
    name: str,
    cameras: list[str] | None,
    *,
    keep_nd: bool = False,
    caption_as_task: bool = False,
    frames: ExportFrames | None = None,
    space: ActionSpace | None = None,
    skip_without_action: bool = False,
) -> ExportPlan:
    """The whole dataset `root` of `corpus`, its features as they are (natives included) in the consumer layout, its
    action in `space` (`settle.py`), its task indices and splits kept; its cameras at `frames`' size (by default
    their own)."""
    src = SourceDataset(root, corpus)
    videos = video_keys(src.features)
    chosen = resolve_cameras(cameras, videos)
    chosen = videos if chosen is None else chosen
    feats = {k: ft for k, ft in src.features.items() if not is_video(ft) or k in chosen}
    fps = int(src.info["fps"])
    refs = [_ref(EpisodeRef(src, i), chosen, caption_as_task, {}) for i in sorted(src.episodes)]
    settled = settle(refs, space, skip_without_action, name)
    if len(settled.groups) > 1:
        robots = [g.robots for g in settled.groups]
        raise PlanError(
            f"{name}: its episodes' {settled.space.value} actions differ by robot ({robots}): export a manifest of each"
        )
    (group,) = settled.groups
    eps = group.episodes
    feats, from_columns, select, note = space_features(feats, group.of)
    notes = settled.left_out + ([note] if note else [])
    resizing = sized(plan_resizing(eps, chosen, frames := frames or ExportFrames()), name)
    for k, hw in resizing.targets.items():  # every episode of a dataset alike: its camera's intrinsics fitted too
        feats[k] = video_feature(feats[k], hw, frames.fit_for(feature_hw(feats[k]), hw))
    layout = consumer_layout(feats, keep_nd=keep_nd, from_columns=from_columns, select=select)
    return ExportPlan(
        of=group.of,
        resizing=resizing,
        notes=notes,
        name=name,
        fps=fps,
        features=features_v30(layout.features, fps),
        robot_type=src.info.get("robot_type"),
        episodes=eps,
        layout=layout,
        keep_tasks=src.tasks,
        splits=src.info.get("splits") or None,
        sources=[src.root],
        column_types=episode_column_types(chosen),
    )


def _lineage_columns(src: SourceDataset, index: int, rel: str) -> dict[str, Any]:
    """The episode's source, subset and embodiment as the catalog decides them (jobs/catalog/rows.py): its lineage's
    first, then its dataset's own declarations (its folder `rel`); made once per distinct catalog text (one dict for
    every episode of it, read-only)."""

    def made(lineage: EpisodeLineage) -> dict[str, Any]:
        source, subset = folder_names(rel)
        return {
            "source": lineage.source or source,
            "subset": lineage.subset or subset,
            "embodiment": _embodiment(src, lineage) or "unknown",
        }

    return src.per_text(index, ("lineage columns", rel), made)


def manifest_plan(
    corpus: Corpus,
    manifest: str | Path,
    cameras: list[str] | None,
    *,
    keep_nd: bool = False,
    caption_as_task: bool = False,
    allow_dropped_sources: bool = False,
    group: Group | None = None,
    frames: ExportFrames | None = None,
) -> ExportPlan:
    """The manifest's episodes (of one `settle.Group`, by default all in the canonical space) as one dataset;
    `manifest` as `--manifest` takes it (`jobs.catalog.manifest_arg`)."""
    mdir = Path(manifest_folder(manifest, corpus.root))
    name = mdir.name
    entries = entries_file(mdir)  # manifest.json read once: the entries file it names
    if not entries.is_file():
        raise PlanError(f"{mdir}: no {entries.name}{missing_hint(manifest, corpus.root)}")
    rows = manifest_rows(entries)
    if not rows:
        raise PlanError(f"manifest {name}: no episodes")
    if lacking := [d for d in dict.fromkeys(r.dataset for r in rows) if not (corpus.root / d / INFO_PATH).is_file()]:
        raise PlanError(f"manifest {name} names datasets this corpus lacks ({', '.join(lacking[:3])}): curate again")
    of = SpaceOf(ActionSpace.canonical) if group is None else group.of
    if group is not None:
        allowed = manifest_datasets((r.column("source_dataset"), r.episode_index) for r in group.episodes)
        rows = [r for r in rows if r.episode_index in allowed.get(r.dataset, ())]
    # the group's datasets as `manifest_groups` read them (the manifest's episodes), else read here
    known = {} if group is None else {r.column("source_dataset"): r.source for r in group.episodes}
    shared: dict[str, Any] = {}  # the features datasets declare alike, one object each
    sources = {
        ds: known.get(ds) or SourceDataset(corpus.root / ds, corpus, named, shared)
        for ds, named in manifest_datasets((r.dataset, r.episode_index) for r in rows).items()
    }
    fps_set = {int(s.info["fps"]) for s in sources.values()}
    if len(fps_set) != 1:
        raise PlanError(f"manifest {name}: datasets at different rates {sorted(fps_set)} cannot be one dataset")
    fps = fps_set.pop()
    chosen = resolve_cameras(cameras, sorted({k for s in sources.values() for k in video_keys(s.features)}), slots=True)
    chosen = default_cameras([sources[r.dataset] for r in rows]) if chosen is None else chosen
    fills = {ds: slot_cameras(src, chosen) for ds, src in sources.items()}
    reads = {ds: {k: c for k, c in fill.items() if c is not None and c != k} or NO_CHANGE for ds, fill in fills.items()}
    plan = ExportPlan(name, fps, {}, None, [], consumer_layout({}), sources=[], of=of)
    kept: dict[str, list[EpisodeRef]] = {"train": [], "val": []}
    per_source: dict[str, Counter[str]] = {}
    refs = _group_refs(group, rows, sources)
    reading = {ds: [fill[k] for k in chosen] for ds, fill in fills.items()}  # each slot's camera, per dataset
    for at, r in enumerate(rows):
        src, index, fill = sources[r.dataset], r.episode_index, fills[r.dataset]
        columns = _lineage_columns(src, index, r.dataset)
        tally = per_source.setdefault(columns["source"], Counter())
        missing = [k for k in chosen if fill[k] is None]
        if missing or index not in src.episodes:
            why = f"no camera {','.join(missing)}" if index in src.episodes else "episode not in its dataset"
            plan.skipped[why] += 1
            tally[why] += 1
            continue
        tally["exported"] += 1
        extra = columns | {"tier": r.tier, "episode_uid": r.episode_uid, "split": r.split}
        extra |= {"weight": r.weight, "source_dataset": r.dataset, "source_episode_index": int(index)}
        ref = refs[at] if refs is not None else EpisodeRef(src, index)
        episode = src.episode_columns(index, reading[r.dataset])  # as `_ref` gives them, the slots' named
        ref.extra = slot_columns(extra | episode, fill)
        ref.task = episode[CAPTION_COLUMN] if caption_as_task else None
        ref.cameras = reads[r.dataset]
        kept.setdefault(r.split, []).append(ref)
    plan.episodes = kept["train"] + kept["val"] + [e for s, v in kept.items() if s not in ("train", "val") for e in v]
    dropped = {s: t for s, t in per_source.items() if not t["exported"]}
    if dropped and (not allow_dropped_sources or not plan.episodes):
        said = "; ".join(f"source {s}: {sum(t.values())} episodes, {_reasons(t)}" for s, t in sorted(dropped.items()))
        hint = "choose cameras every source has (--cameras primary: each dataset's main camera), none for no video"
        hint += ", or --allow-dropped-sources to export the others" if plan.episodes else ""
        cams = [k.removeprefix(IMAGE_PREFIX) for k in chosen]
        raise PlanError(f"manifest {name}: the export would leave out {said} (cameras {cams}); {hint}")
    for s, t in sorted(dropped.items()):
        plan.notes.append(f"source {s} left out (--allow-dropped-sources): {sum(t.values())} episodes, {_reasons(t)}")
    exported = list({id(e.source): e.source for e in plan.episodes}.values())
    read = {c: exported[0].features[c] for c in of.columns.values()}  # the space's columns, one layout in a group
    feats, from_columns, select, note = space_features(common_features(exported, plan.notes) | read, of)
    plan.notes += [note] if note else []
    resizing = plan.resizing = sized(plan_resizing(plan.episodes, chosen, frames or ExportFrames()), f"manifest {name}")
    video_feats = {}
    for k in chosen:  # as an episode at the exported size has it (its codec is the one resized episodes get)
        first = next((e for e in plan.episodes if k not in e.resize), plan.episodes[0])
        feature = without_intrinsics(first.source.features[first.camera(k)])  # each episode's are in its row
        video_feats[k] = video_feature(feature, resizing.targets[k])
    layout = plan.layout = consumer_layout(
        video_feats | feats, keep_nd=keep_nd, from_columns=from_columns, select=select
    )
    plan.sources = [s.root for s in exported]
    plan.column_types = episode_column_types(chosen) | {
        camera_source_column(k): pa.string() for k in chosen if any(k in e.cameras for e in plan.episodes)
    }
    total = sum(float(e.column("weight") or 0.0) for e in plan.episodes)
    if total > 0 and len(plan.episodes) < len(rows):  # mean 1 over what is exported, as over the manifest
        for e in plan.episodes:
            e.extra = e.extra | {"weight": float(e.extra["weight"] or 0.0) * len(plan.episodes) / total}
    n_train = len(kept["train"])
    plan.splits = {"train": f"0:{n_train}"} | ({"val": f"{n_train}:{len(plan.episodes)}"} if kept["val"] else {})
    robot_types = sorted({str(t) for s in exported if (t := s.info.get("robot_type"))})
    plan.robot_type = "+".join(robot_types) or None  # mixed: 'a+b', each episode's in its `embodiment` column
    plan.masked_stats = of.space is ActionSpace.canonical  # no canonical mask applies to a command: lerobot's stats
    for key in MASKED_FEATURES if plan.masked_stats else ():  # the fill of a dim left unused (masked_stats.py)
        if key in layout.features and len(layout.features[key]["shape"]) == 1:
            layout.features[key]["info"] = {**(layout.features[key].get("info") or {}), PADDING_KEY: PADDING}
    plan.features = features_v30(layout.features, fps)
    return plan


def _group_refs(group: Group | None, rows: list[ManifestRow], sources: dict[str, SourceDataset]) -> list[Any] | None:
    """The group's refs (`manifest_groups`', one per row of its episodes, in order) for the rows, to be given their
    columns in place of new ones (one ref per episode alive, issue 75); None where they are not the rows'."""
    if group is None or len(group.episodes) != len(rows):
        return None
    same = all(
        ref.source is sources[r.dataset] and ref.episode_index == r.episode_index
        for ref, r in zip(group.episodes, rows, strict=True)
    )
    return group.episodes if same else None


def _reasons(tally: Counter[str]) -> str:
    return ", ".join(f"{n} {why}" for why, n in sorted(tally.items()) if why != "exported")


def sized(resizing: Resizing, name: str) -> Resizing:
    """`resizing`, unless `--frame-size auto` shrinks a camera too far (`Resizing.shrunk_too_far`): PlanError."""
    if (why := resizing.shrunk_too_far()) is not None:
        raise PlanError(f"{name}: {why}")
    return resizing
