"""What one LeRobot v3.0 export holds: a whole canonical dataset, or a curated manifest's episodes across sources.

A manifest becomes ONE dataset, so every episode must have the same features:
- numeric features: those every selected dataset declares with the same dtype, shape and names; a source's native
  columns differ by robot and are left out (counted in the plan's notes), and the per-dataset `info` (e.g. the
  action's embodiment mask) is dropped, the episode's embodiment being an episode column instead;
- cameras: `--cameras` (video keys or short names, `none` for no video), by default the camera most episodes have plus
  every other camera all of those have. An episode whose dataset lacks a chosen camera, or holds it at another size, is
  skipped and counted (a black stand-in would teach a policy that the camera went dark);
- tasks merged by text, numbered in order of first appearance; per-episode columns (source, subset, tier, embodiment,
  episode_uid, split, weight, the v2.1 dataset and episode) that lerobot keeps (`meta.episodes[i]`, its `episodes`
  filter); train episodes first, then val, `info.json` `splits` in lerobot's range form {"train": "0:T", "val": "T:N"}.
Every plan lays its features out for the trainers that read them (`jobs/export/layout.py`).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from ingest.storage.corpus import Corpus
from jobs.export.layout import Layout, consumer_layout, episode_column_types, episode_columns, without_intrinsics
from schemas.canonical import ACTION, HAND_KEYPOINTS, STATE
from schemas.corpus import EpisodeLineage
from schemas.export_layout import CAPTION_COLUMN
from schemas.lerobot import EPISODES_PATH, EPISODES_STATS_PATH, INFO_PATH, TASKS_PATH, fill_path_template, read_jsonl
from schemas.lerobot_v3 import features_v30
from schemas.manifest import ENTRIES_PARQUET

IMAGE_PREFIX = "observation.images."
MASKED_FEATURES = (ACTION, STATE, HAND_KEYPOINTS)  # a manifest's features whose stats count only the dims in use
PADDING_KEY = "padding"  # info of a masked feature in a manifest export: what an unused dim holds
PADDING = "the dim's masked median (meta/stats_by_embodiment.json all q50) where the episode does not use the dim"


class SourceDataset:
    """A canonical v2.1 dataset `root` of `corpus` read for export: info, tasks, episodes and episode stats, loaded
    once; its episode files opened through the corpus (`Corpus.open_file`: a bucket's by ranged GETs where they lie)."""

    def __init__(self, root: Path, corpus: Corpus) -> None:
        self.root, self.corpus = Path(root), corpus
        self.info: dict[str, Any] = json.loads((self.root / INFO_PATH).read_text(encoding="utf-8"))
        self.tasks = {o["task_index"]: o["task"] for _, o in read_jsonl(self.root / TASKS_PATH)}
        self.episodes = {o["episode_index"]: o for _, o in read_jsonl(self.root / EPISODES_PATH)}
        stats_path = self.root / EPISODES_STATS_PATH
        self.stats = {o["episode_index"]: o["stats"] for _, o in read_jsonl(stats_path)} if stats_path.exists() else {}

    @property
    def features(self) -> dict[str, Any]:
        return self.info["features"]

    def chunk(self, episode_index: int) -> int:
        return episode_index // int(self.info.get("chunks_size", 1000))

    def data_file(self, episode_index: int) -> Path:
        return self.root / fill_path_template(self.info["data_path"], episode_index, self.chunk(episode_index))

    def video_file(self, episode_index: int, key: str) -> Path:
        return self.root / fill_path_template(self.info["video_path"], episode_index, self.chunk(episode_index), key)


@dataclass
class EpisodeRef:
    """One episode to export: its dataset, its index there, extra episode columns, and the task every frame gets
    instead of its own (the caption, `--caption-as-task`; None keeps the frames' tasks)."""

    source: SourceDataset
    episode_index: int
    extra: dict[str, Any] = field(default_factory=dict)
    task: str | None = None


class PlanError(ValueError):
    """The selection cannot become one v3.0 dataset (names the manifest or dataset and the cause)."""


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


def resolve_cameras(wanted: list[str] | None, available: list[str]) -> list[str] | None:
    """Video keys from keys or short names (`head` -> `observation.images.head`); None = not chosen."""
    if wanted is None:
        return None
    if [w.lower() for w in wanted] == ["none"]:
        return []
    out = []
    for w in wanted:
        key = w if w.startswith(IMAGE_PREFIX) else IMAGE_PREFIX + w
        if key not in available:
            raise PlanError(f"camera {w!r} is not among {sorted(available)}")
        out.append(key)
    return out


def _ref(
    src: SourceDataset, index: int, cameras: list[str], caption_as_task: bool, extra: dict[str, Any]
) -> EpisodeRef:
    """One episode to export with the layout's episode columns (and the caption as its task when asked and known)."""
    columns = episode_columns(src.episodes.get(index, {}), src.features, cameras)
    task = columns[CAPTION_COLUMN] if caption_as_task else None
    return EpisodeRef(src, index, extra | columns, task=task)


def dataset_plan(
    corpus: Corpus,
    root: Path,
    name: str,
    cameras: list[str] | None,
    *,
    keep_nd: bool = False,
    caption_as_task: bool = False,
) -> ExportPlan:
    """The whole dataset `root` of `corpus`, its features as they are (natives included) in the consumer layout, its
    task indices and splits kept."""
    src = SourceDataset(root, corpus)
    videos = [k for k, ft in src.features.items() if ft["dtype"] == "video"]
    chosen = resolve_cameras(cameras, videos)
    chosen = videos if chosen is None else chosen
    feats = {k: ft for k, ft in src.features.items() if ft["dtype"] != "video" or k in chosen}
    fps = int(src.info["fps"])
    layout = consumer_layout(feats, keep_nd=keep_nd)
    eps = [_ref(src, i, chosen, caption_as_task, {}) for i in sorted(src.episodes)]
    return ExportPlan(
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


def _signature(ft: dict[str, Any]) -> tuple[Any, ...]:
    return ft["dtype"], list(ft["shape"]), ft.get("names")


def _common_features(sources: list[SourceDataset], notes: list[str]) -> dict[str, Any]:
    first = sources[0].features
    out = {}
    dropped: set[str] = set()
    declared: Counter[str] = Counter()
    for src in sources:
        for key, ft in src.features.items():
            if ft["dtype"] != "video":
                declared[key] += 1
                if not all(key in s.features and _signature(ft) == _signature(s.features[key]) for s in sources):
                    dropped.add(key)
    for key, ft in first.items():
        if ft["dtype"] != "video" and key not in dropped:
            out[key] = {k: v for k, v in ft.items() if k != "info"}
    for key in sorted(dropped):
        notes.append(f"feature {key} left out: {declared[key]} of {len(sources)} datasets declare it, not identically")
    return out


def _default_cameras(entries: list[tuple[SourceDataset, int]]) -> list[str]:
    have = [frozenset(k for k, ft in s.features.items() if ft["dtype"] == "video") for s, _ in entries]
    counts = Counter(k for cams in have for k in cams)
    if not counts:
        return []
    top = max(sorted(counts), key=lambda k: counts[k])  # most episodes; ties by name
    with_top = [cams for cams in have if top in cams]
    return sorted(frozenset.intersection(*with_top), key=lambda k: (k != top, k))


def _lineage_columns(src: SourceDataset, index: int, rel: str) -> dict[str, Any]:
    line = src.episodes.get(index, {})
    lineage = EpisodeLineage.of(line)
    action = src.features.get("action", {})
    folder = Path(rel).parts
    # as the catalog decides them (jobs/catalog/rows.py): lineage first, then the dataset's own declarations
    embodiment = lineage.embodiment or (action.get("info") or {}).get("embodiment") or src.info.get("robot_type")
    return {
        "source": lineage.source or (folder[-2] if len(folder) >= 2 else folder[-1]),
        "subset": lineage.subset or folder[-1],
        "embodiment": embodiment or "unknown",
    }


def manifest_plan(
    corpus: Corpus, name: str, cameras: list[str] | None, *, keep_nd: bool = False, caption_as_task: bool = False
) -> ExportPlan:
    mdir = corpus.root / "manifests" / name
    if not (mdir / ENTRIES_PARQUET).is_file():
        raise PlanError(f"{mdir}: no {ENTRIES_PARQUET}; run `eidata curate ROOT --name {name}` first")
    rows = pq.read_table(mdir / ENTRIES_PARQUET).to_pylist()
    if not rows:
        raise PlanError(f"manifest {name}: no episodes")
    sources = {ds: SourceDataset(corpus.root / ds, corpus) for ds in dict.fromkeys(r["dataset"] for r in rows)}
    fps_set = {int(s.info["fps"]) for s in sources.values()}
    if len(fps_set) != 1:
        raise PlanError(f"manifest {name}: datasets at different rates {sorted(fps_set)} cannot be one dataset")
    fps = fps_set.pop()
    notes: list[str] = []
    feats = _common_features(list(sources.values()), notes)
    entries = [(sources[r["dataset"]], r["episode_index"]) for r in rows]
    all_cams = sorted({k for s in sources.values() for k, ft in s.features.items() if ft["dtype"] == "video"})
    chosen = resolve_cameras(cameras, all_cams)
    chosen = _default_cameras(entries) if chosen is None else chosen
    shapes = {k: Counter(tuple(s.features[k]["shape"]) for s, _ in entries if k in s.features) for k in chosen}
    shape = {k: c.most_common(1)[0][0] for k, c in shapes.items()}
    video_feats = {}
    for k in chosen:
        first = next(s for s, _ in entries if k in s.features and tuple(s.features[k]["shape"]) == shape[k])
        video_feats[k] = without_intrinsics(first.features[k])  # each episode's are in its row
    layout = consumer_layout(video_feats | feats, keep_nd=keep_nd)
    plan = ExportPlan(name, fps, {}, None, [], layout, notes=notes, sources=[s.root for s in sources.values()])
    plan.column_types = episode_column_types(chosen)
    kept: dict[str, list[EpisodeRef]] = {"train": [], "val": []}
    for r, (src, index) in zip(rows, entries, strict=True):
        missing = [k for k in chosen if k not in src.features]
        resized = [k for k in chosen if k in src.features and tuple(src.features[k]["shape"]) != shape[k]]
        if missing or resized or index not in src.episodes:
            why = f"no camera {','.join(missing)}" if missing else f"camera size {','.join(resized)}"
            plan.skipped[why if index in src.episodes else "episode not in its dataset"] += 1
            continue
        extra = _lineage_columns(src, index, r["dataset"])
        extra |= {"tier": r["tier"], "episode_uid": r["episode_uid"], "split": r["split"], "weight": r["weight"]}
        extra |= {"source_dataset": r["dataset"], "source_episode_index": int(index)}
        kept.setdefault(r["split"], []).append(_ref(src, index, chosen, caption_as_task, extra))
    plan.episodes = kept["train"] + kept["val"] + [e for s, v in kept.items() if s not in ("train", "val") for e in v]
    if not plan.episodes:
        raise PlanError(f"manifest {name}: every episode was skipped ({dict(plan.skipped)})")
    n_train = len(kept["train"])
    plan.splits = {"train": f"0:{n_train}"} | ({"val": f"{n_train}:{len(plan.episodes)}"} if kept["val"] else {})
    robot_types = {src.info.get("robot_type") for src in sources.values()}
    plan.robot_type = robot_types.pop() if len(robot_types) == 1 else None  # mixed: per-episode `embodiment`
    for key in MASKED_FEATURES:  # what a dim an episode does not use holds (masked_stats.py)
        if key in layout.features and len(layout.features[key]["shape"]) == 1:
            layout.features[key]["info"] = {**(layout.features[key].get("info") or {}), PADDING_KEY: PADDING}
    plan.features = features_v30(layout.features, fps)
    plan.masked_stats = True
    return plan
