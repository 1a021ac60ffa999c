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
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from adapters.storage.corpus import Corpus
from jobs.catalog.manifest_arg import manifest_folder, missing_hint
from jobs.catalog.manifest_read import entries_file
from jobs.catalog.rows import folder_names
from jobs.export.layout import Layout, consumer_layout, episode_column_types, without_intrinsics
from jobs.export.lerobot_v3.cameras import PlanError, default_cameras, resolve_cameras, slot_cameras, slot_columns
from jobs.export.lerobot_v3.entries import INDEX_COLUMN, ManifestEntries
from jobs.export.lerobot_v3.episodes import NO_CHANGE, OWN, Kind, PlanEpisodes, embodiment_of
from jobs.export.lerobot_v3.settle import Group, settle
from jobs.export.lerobot_v3.source import SourceDataset, common_features
from jobs.export.lerobot_v3.spaces import SpaceOf, space_features
from jobs.export.resize import Resizing, feature_hw, video_feature
from schemas.actions import ActionSpace
from schemas.canonical import ACTION, HAND_KEYPOINTS, IMAGE_PREFIX, STATE
from schemas.corpus import EpisodeLineage
from schemas.export_frames import ExportFrames
from schemas.export_layout import CAPTION_COLUMN, camera_source_column
from schemas.lerobot import INFO_PATH
from schemas.lerobot_features import features_v30, is_video, video_keys

MASKED_FEATURES = (ACTION, STATE, HAND_KEYPOINTS)  # a manifest's features whose stats count only the dims in use
PADDING_KEY = "padding"  # info of a masked feature in a manifest export: what an unused dim holds
PADDING = "the dim's masked median (meta/stats_by_embodiment.json all q50) where the episode does not use the dim"


@dataclass
class ExportPlan:
    name: str
    fps: int
    features: dict[str, Any]  # the exported features, v3.0 form (`layout.features` with `fps`)
    robot_type: str | None
    episodes: PlanEpisodes  # as columns, an `EpisodeRef` made at each ask (`episodes.py`)
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
    kinds: list[Kind] = []
    at: dict[Hashable, int] = {}  # its catalog text -> its kind
    indices = sorted(src.episodes)
    for i in indices:
        if src.text(i) not in at:
            at[src.text(i)] = len(kinds)
            columns = src.episode_columns(i, chosen)  # the layout's episode columns
            kinds.append(Kind(src, columns, task=columns[CAPTION_COLUMN] if caption_as_task else None))
    refs = PlanEpisodes(kinds, np.array([at[src.text(i)] for i in indices], np.int64), np.array(indices, np.int64))
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
    resizing = sized(eps.resized(chosen, frames := frames or ExportFrames()), name)
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
            "embodiment": embodiment_of(src, lineage) or "unknown",
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
    of = SpaceOf(ActionSpace.canonical) if group is None else group.of
    if group is None:  # every entry, read here (those whose dataset lacks the episode are counted out below)
        table = ManifestEntries.read(entries)
        if not len(table):
            raise PlanError(f"manifest {name}: no episodes")
        lacking_datasets(corpus, name, table.datasets)
        shared: dict[str, Any] = {}  # the features datasets declare alike, one object each
        named = table.named()
        sources = {ds: SourceDataset(corpus.root / ds, corpus, named[ds], shared) for ds in named}
        rows = table.episodes(sources, lambda src, ds, _: Kind(src, dataset=ds), alive=False)
        del table
    else:  # the group's, its datasets as `manifest_groups` read them (and checked: `lacking_datasets`)
        rows = group.episodes
        sources = {k.dataset: k.source for k in (rows.kinds[c] for c, _ in rows.by_kind())}
    fps_set = {int(s.info["fps"]) for s in sources.values()}
    if len(fps_set) != 1:
        raise PlanError(f"manifest {name}: datasets at different rates {sorted(fps_set)} cannot be one dataset")
    fps = fps_set.pop()
    chosen = resolve_cameras(cameras, sorted({k for s in sources.values() for k in video_keys(s.features)}), slots=True)
    kinds = rows.by_kind()
    chosen = default_cameras([(rows.kinds[c].source, len(at)) for c, at in kinds]) if chosen is None else chosen
    fills = {ds: slot_cameras(src, chosen) for ds, src in sources.items()}
    reads = {ds: {k: c for k, c in fill.items() if c is not None and c != k} or NO_CHANGE for ds, fill in fills.items()}
    plan = ExportPlan(name, fps, {}, None, PlanEpisodes([], [], []), consumer_layout({}), sources=[], of=of)
    per_source: dict[str, Counter[str]] = {}
    reading = {ds: [fill[k] for k in chosen] for ds, fill in fills.items()}  # each slot's camera, per dataset
    made: list[Kind] = []  # the plan's kind of each of the rows' kinds, None for those skipped
    code = np.full(len(rows.kinds), -1, np.int64)
    skipped: list[tuple[int, str, int]] = []  # (first position, why, how many)
    for c, positions in kinds:
        kind = rows.kinds[c]
        src, ds, index, fill = kind.source, kind.dataset, int(rows.index[positions[0]]), fills[kind.dataset]
        columns = _lineage_columns(src, index, ds)
        tally = per_source.setdefault(columns["source"], Counter())
        missing = [k for k in chosen if fill[k] is None]
        if missing or index not in src.episodes:  # of a kind's every episode alike (`SourceDataset.text`)
            why = f"no camera {','.join(missing)}" if index in src.episodes else "episode not in its dataset"
            skipped.append((int(positions[0]), why, len(positions)))
            tally[why] += len(positions)
            continue
        tally["exported"] += len(positions)
        extra = columns | {"tier": OWN, "episode_uid": OWN, "split": OWN}
        extra |= {"weight": OWN, "source_dataset": ds, INDEX_COLUMN: OWN}
        episode = src.episode_columns(index, reading[ds])  # as `dataset_plan` gives them, the slots' named
        task = episode[CAPTION_COLUMN] if caption_as_task else None
        code[c] = len(made)
        made.append(Kind(src, slot_columns(extra | episode, fill), dataset=ds, task=task, cameras=reads[ds]))
    for _, why, n in sorted(skipped):  # counted in the order of their first episodes
        plan.skipped[why] += n
    kept = code[rows.kind] >= 0
    split = pc.dictionary_encode(rows.own["split"], null_encoding="encode")
    splits, split_of = split.dictionary.to_pylist(), split.indices.to_numpy(zero_copy_only=False)
    at = [np.flatnonzero(kept & (split_of == s)) for s in range(len(splits))]
    rank = [({"train": 0, "val": 1}.get(v, 2), a[0] if len(a) else 0) for v, a in zip(splits, at, strict=True)]
    order = sorted(range(len(splits)), key=lambda s: rank[s])  # train, val, then the others as their first comes
    ordered = [at[s] for s in order]
    n_train = sum(len(at) for s, at in zip(order, ordered, strict=True) if splits[s] == "train")
    has_val = any(len(at) for s, at in zip(order, ordered, strict=True) if splits[s] == "val")
    picked = rows.take(np.concatenate([np.zeros(0, np.int64), *ordered]))
    plan.episodes = PlanEpisodes(made, code[picked.kind], picked.index, picked.own)
    dropped = {s: t for s, t in per_source.items() if not t["exported"]}
    if dropped and (not allow_dropped_sources or not plan.episodes):
        said = "; ".join(f"source {s}: {sum(t.values())} episodes, {_reasons(t)}" for s, t in sorted(dropped.items()))
        hint = "choose cameras every source has (--cameras primary: each dataset's main camera), none for no video"
        hint += ", or --allow-dropped-sources to export the others" if plan.episodes else ""
        cams = [k.removeprefix(IMAGE_PREFIX) for k in chosen]
        raise PlanError(f"manifest {name}: the export would leave out {said} (cameras {cams}); {hint}")
    for s, t in sorted(dropped.items()):
        plan.notes.append(f"source {s} left out (--allow-dropped-sources): {sum(t.values())} episodes, {_reasons(t)}")
    exported = plan.episodes.sources()
    read = {c: exported[0].features[c] for c in of.columns.values()}  # the space's columns, one layout in a group
    feats, from_columns, select, note = space_features(common_features(exported, plan.notes) | read, of)
    plan.notes += [note] if note else []
    resizing = plan.resizing = sized(plan.episodes.resized(chosen, frames or ExportFrames()), f"manifest {name}")
    present = [plan.episodes.kinds[c] for c, _ in plan.episodes.by_kind()]  # in the order of their first episodes
    video_feats = {}
    for k in chosen:  # as an episode at the exported size has it (its codec is the one resized episodes get)
        first = next((e for e in present if k not in e.resize), present[0])
        feature = without_intrinsics(first.source.features[first.cameras.get(k, k)])  # each episode's are in its row
        video_feats[k] = video_feature(feature, resizing.targets[k])
    layout = plan.layout = consumer_layout(
        video_feats | feats, keep_nd=keep_nd, from_columns=from_columns, select=select
    )
    plan.sources = [s.root for s in exported]
    plan.column_types = episode_column_types(chosen) | {
        camera_source_column(k): pa.string() for k in chosen if any(k in e.cameras for e in present)
    }
    weights = pc.fill_null(plan.episodes.own["weight"].cast(pa.float64()), 0.0)
    total = sum(weights.to_pylist())  # as a sum over the episodes in order: the same float
    if total > 0 and len(plan.episodes) < len(rows):  # mean 1 over what is exported, as over the manifest
        new = weights.to_numpy(zero_copy_only=False) * len(plan.episodes) / total
        plan.episodes.own["weight"] = pa.array(new, pa.float64())
    plan.splits = {"train": f"0:{n_train}"} | ({"val": f"{n_train}:{len(plan.episodes)}"} if has_val else {})
    robot_types = sorted({str(t) for s in exported if (t := s.info.get("robot_type"))})
    plan.robot_type = "+".join(robot_types) or None  # mixed: 'a+b', each episode's in its `embodiment` column
    plan.masked_stats = of.space is ActionSpace.canonical  # no canonical mask applies to a command: lerobot's stats
    for key in MASKED_FEATURES if plan.masked_stats else ():  # the fill of a dim left unused (masked_stats.py)
        if key in layout.features and len(layout.features[key]["shape"]) == 1:
            layout.features[key]["info"] = {**(layout.features[key].get("info") or {}), PADDING_KEY: PADDING}
    plan.features = features_v30(layout.features, fps)
    return plan


def lacking_datasets(corpus: Corpus, name: str, datasets: list[str]) -> None:
    """PlanError naming the `datasets` of the manifest `name` that `corpus` lacks (their `info.json`), if any."""
    if lacking := [d for d in datasets if not (corpus.root / d / INFO_PATH).is_file()]:
        raise PlanError(f"manifest {name} names datasets this corpus lacks ({', '.join(lacking[:3])}): curate again")


def _reasons(tally: Counter[str]) -> str:
    return ", ".join(f"{n} {why}" for why, n in sorted(tally.items()) if why != "exported")


def sized(resizing: Resizing, name: str) -> Resizing:
    """`resizing`, unless `--frame-size auto` shrinks a camera too far (`Resizing.shrunk_too_far`): PlanError."""
    if (why := resizing.shrunk_too_far()) is not None:
        raise PlanError(f"{name}: {why}")
    return resizing
