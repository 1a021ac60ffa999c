"""What the corpus report plots, read from the catalog (DuckDB views) and the datasets' own files.

Aggregations run in SQL over the catalog; per-episode arrays (masks, wrist trajectories, a few frames) come from the
datasets, read one dataset or one episode at a time.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from adapters.lerobot_format.files import load_info, read_jsonl
from adapters.storage.root import Root
from ingest.lerobot.settled import settle_dataset
from ingest.lerobot.video_read import decode_frames
from ingest.qa.dataset import DatasetBehaviour, DatasetQA, geometry_findings
from jobs.catalog.behaviour import corpus_thresholds
from jobs.catalog.dataset_qa import POOLED_COLUMNS, pool, step_findings
from jobs.catalog.parts import parquet_files
from jobs.catalog.query import run_query
from jobs.report.keypoints import camera_model, drawable_keypoints, project
from schemas.behaviour import BehaviourConfig
from schemas.canonical import (
    ACTION,
    HAND_KEYPOINTS,
    HAND_VALID,
    HANDS,
    STATE,
    STATE_NATIVE,
    WRIST_POS,
    hand_dims,
    keypoint_kind,
    main_video_key,
)
from schemas.catalog import CATALOG_SCHEMA
from schemas.corpus import EPISODES_DIR, EpisodeLineage
from schemas.lerobot import EPISODES_PATH, INFO_PATH, InfoJson
from schemas.qa import DatasetFinding, QAConfig
from schemas.robots.registry import Effector, default_registry
from schemas.verdicts import STEP


class ReportError(RuntimeError):
    """The corpus cannot be reported on (no catalog, unreadable dataset meta)."""


# -- catalog aggregates -----------------------------------------------------------------------------------------


def require_catalog(root: Path) -> None:
    """A catalog with every column this version's report reads, else a ReportError naming the command that makes it
    (a catalog an older eidata built lacks newer columns: tier_notes, tier_details)."""
    parts = parquet_files(root, EPISODES_DIR)
    if not parts:
        raise ReportError(f"{root}: no catalog ({EPISODES_DIR}/*.parquet); run `eidata catalog {root}` first")
    have = set(pq.read_schema(parts[0]).names)  # read once: per column it cost 0.35 s a call (an episode page each)
    if missing := [c for c in CATALOG_SCHEMA.names if c not in have]:
        raise ReportError(
            f"{root}: the catalog was built by an older eidata (no column {', '.join(missing[:3])}); run "
            f"`eidata catalog {root}` to rebuild it"
        )


def sql_text(text: str) -> str:
    """`text` as an SQL string literal (a dataset or an episode_uid in a WHERE)."""
    return "'" + text.replace("'", "''") + "'"


POOLED_AT_ONCE = 256  # datasets whose episodes `pooled_again` reads in one query


def pooled_again(
    root: Path, datasets: Sequence[str], config: BehaviourConfig
) -> Iterator[tuple[str, DatasetQA | None, DatasetBehaviour | None]]:
    """Each of `datasets` (in order) pooled from its episodes' catalog columns with `config`
    (`jobs.catalog.dataset_qa.pool`): the few a figure draws, whose records it plots, and any whose `dataset_qa` row
    was judged with other thresholds. `POOLED_AT_ONCE` datasets' rows are Python objects at a time."""
    columns = ", ".join(POOLED_COLUMNS)
    for start in range(0, len(datasets), POOLED_AT_ONCE):
        chunk = list(datasets[start : start + POOLED_AT_ONCE])
        names = ", ".join(sql_text(d) for d in chunk)
        where = f"WHERE dataset IN ({names})"
        rows = run_query(root, f"SELECT {columns} FROM episodes {where} ORDER BY dataset, episode_index").to_pylist()
        steps = step_findings(run_query(root, f"SELECT * FROM verdicts {where} AND stage = '{STEP}'").to_pylist())
        by: dict[str, list[dict[str, Any]]] = {d: [] for d in chunk}
        for r in rows:
            by[r["dataset"]].append(r)
        for d in chunk:
            yield (d, *pool(d, by[d], steps, config))


def hours_by_source_tier(root: Path) -> list[dict[str, Any]]:
    sql = """SELECT source, tier, sum(duration_s) / 3600 AS hours, count(*) AS episodes
             FROM episodes GROUP BY ALL ORDER BY source, tier"""
    return run_query(root, sql).to_pylist()


def durations_by_source(root: Path) -> dict[str, np.ndarray]:
    rows = run_query(root, "SELECT source, list(duration_s) AS d FROM episodes GROUP BY source ORDER BY source")
    # each list straight from Arrow: as Python floats first, 1M of them cost 0.3 CPU-s
    lists = rows["d"].combine_chunks()
    return {
        source: np.asarray(lists[k].values.to_numpy(zero_copy_only=False), np.float64)
        for k, source in enumerate(rows["source"].to_pylist())
    }


def quarantine_reasons(root: Path) -> list[dict[str, Any]]:
    sql = """SELECT source, stage, error_class, count(*) AS n, min(left(message, 160)) AS example
             FROM quarantine GROUP BY ALL ORDER BY n DESC, source, stage, error_class"""
    return run_query(root, sql).to_pylist()


def source_findings(root: Path) -> list[dict[str, Any]]:
    """What the sources could not give (`schemas.findings`): one row per finding, errors first."""
    sql = """SELECT source, subset, code, severity, message, root AS source_root FROM source_findings
             ORDER BY CASE severity WHEN 'error' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, source, subset, code"""
    return run_query(root, sql).to_pylist()


def coverage_by_source(root: Path) -> list[dict[str, Any]]:
    sql = """SELECT source, count(*) AS episodes, count(*) FILTER (WHERE latents_ready) AS latents,
                    count(*) FILTER (WHERE caption_ready) AS captions
             FROM episodes GROUP BY source ORDER BY source"""
    return run_query(root, sql).to_pylist()


# -- per dataset ------------------------------------------------------------------------------------------------

FRAMES_PER_CAMERA = 8  # an episode page's strip, evenly spaced from the first frame to the last


@dataclass
class DatasetView:
    """One dataset's meta as the report needs it (episodes.jsonl lines with their lineage)."""

    root: Path
    name: str  # relative to the corpus root
    info: InfoJson
    episodes: list[dict[str, Any]]

    def lineage(self, i: int) -> EpisodeLineage:
        return EpisodeLineage.of(self.episodes[i])

    @property
    def embodiment(self) -> str:
        ft = self.info.features.get(ACTION)
        return str((ft.info or {}).get("embodiment") if ft is not None and ft.info else self.info.robot_type)

    def mask(self, i: int) -> np.ndarray | None:
        m = self.lineage(i).mask
        if m is None:
            m = info_mask(self.info)
        return None if m is None else np.asarray(m, bool)

    def columns(self, i: int, names: list[str]) -> dict[str, np.ndarray]:
        path = self.root / self.info.data_file(int(self.episodes[i]["episode_index"]))
        with path.readable() as src:  # the door declares the file: the memory limit's refusal names it
            have = [n for n in names if n in pq.read_schema(src).names]
            table = pq.read_table(src, columns=have)
        return {n: np.asarray(table[n].to_pylist(), np.float64) for n in have}

    def frames(self, i: int, key: str, count: int) -> tuple[list[int], list[np.ndarray]]:
        """`count` frames of episode `i`'s camera `key` (`frame_indices`), as decoded: (indices, frames); a frame the
        video lacks is left out."""
        wanted = frame_indices(int(self.episodes[i]["length"]), count)
        path = self.root / self.info.video_file(int(self.episodes[i]["episode_index"]), key)
        got = dict(decode_frames(path, wanted)) if wanted else {}
        kept = [t for t in wanted if t in got]
        return kept, [got[t] for t in kept]


def frame_indices(length: int, count: int = FRAMES_PER_CAMERA) -> list[int]:
    """`count` frame indices evenly spaced over `length` frames, first and last included, each once."""
    return sorted({round(float(x)) for x in np.linspace(0, length - 1, min(count, length))}) if length > 0 else []


def dataset_view(root: Path, name: str, indices: Collection[int] | None = None, first: int = 0) -> DatasetView:
    """Dataset `name` (relative to `root`) with only the episodes.jsonl lines the caller needs: those whose
    `episode_index` is in `indices` and the file's `first` lines, in file order; the file is read line by line and
    left at the last one wanted (a report needs a few episodes of a dataset, never every dataset's lines at once)."""
    ds = Path(root) / name
    settle_dataset(ds)
    wanted, lines = set(indices or ()), []
    try:
        info = load_info(ds / INFO_PATH)
        if (wanted or first) and (ds / EPISODES_PATH).is_file():
            # only the wanted lines parsed where no first lines are asked for (`schemas.episode_lines`)
            for k, (_, line) in enumerate(read_jsonl(ds / EPISODES_PATH, None if first else frozenset(wanted))):
                at = int(line["episode_index"])
                if k < first or at in wanted:
                    lines.append(line)
                    wanted.discard(at)
                if k + 1 >= first and not wanted:
                    break
    except (ValueError, OSError, KeyError) as err:
        raise ReportError(f"{ds}: unreadable meta ({err})") from err
    return DatasetView(Root(ds).location(), name, info, lines)  # its files read through the storage door


def info_mask(info: InfoJson) -> list[int] | None:
    """The action mask info.json declares for the dataset's episodes (an episode's own lineage mask overrides it)."""
    ft = info.features.get(ACTION)
    return None if ft is None else (ft.info or {}).get("mask")


def has_hands(info: InfoJson) -> bool:
    """Human hand data: the dataset declares hands with MANO keypoints (`info.has_hands` of the keypoint feature)."""
    ft = info.features.get(HAND_KEYPOINTS)
    return ft is not None and bool((ft.info or {}).get("has_hands"))


def _human(info: InfoJson) -> bool:
    """A human dataset (its embodiment's effector is a human hand), whether or not its hands have fingers: a wrist
    tracked alone (Aria MPS wrist-and-palm poses) is in the human frame too."""
    registry = default_registry()
    return info.robot_type in registry and registry.get(info.robot_type).effector is Effector.human


# -- wrist trajectories -----------------------------------------------------------------------------------------


@dataclass
class Trajectory:
    label: str
    frame: str  # what the xyz are relative to
    wrists: dict[str, np.ndarray]  # hand -> (T,3)


def wrist_trajectories(views: list[DatasetView]) -> list[Trajectory]:
    """Each view's one episode (`CorpusMasks.wrists`: the first of its dataset whose mask has a wrist position) as
    the wrists of its canonical state."""
    out = []
    for ds in views:
        m = ds.mask(0)
        hands = [h for k, h in enumerate(HANDS) if m is not None and m[hand_dims(k, WRIST_POS)].all()]
        state = ds.columns(0, [STATE])[STATE]
        wrists = {h: state[:, hand_dims(HANDS.index(h), WRIST_POS)] for h in hands}
        frame = "first camera pose, gravity-aligned" if _human(ds.info) else "robot base"
        out.append(Trajectory(f"{ds.name} #{ds.episodes[0]['episode_index']}", frame, wrists))
    return out


# -- frame strips -----------------------------------------------------------------------------------------------


@dataclass
class Strip:
    """Sampled frames of one episode, with the keypoints drawn on them or beside them."""

    dataset: str
    episode: int
    camera: str
    frame_indices: list[int]
    frames: list[np.ndarray]
    keypoints: np.ndarray | None = None  # (K,2,21,3) at the sampled frames, hands with data only
    hands: list[int] = field(default_factory=list)
    projected: list[np.ndarray] | None = None  # per frame (2,21,2) pixels, NaN where not drawable
    method: str = "none"  # "projected" | "side panel" | "none"
    note: str = ""


def frame_strip(ds: DatasetView, count: int = 6) -> Strip | None:
    """`count` evenly spaced frames of the dataset's first episode, main camera; keypoints for human data."""
    key = main_video_key(ds.info.video_keys)  # the camera the latents, captions and training look at
    if key is None or not ds.episodes:
        return None
    idx, frames = ds.frames(0, key, count)
    strip = Strip(ds.name, int(ds.episodes[0]["episode_index"]), key, idx, frames)
    ft = ds.info.features.get(HAND_KEYPOINTS)
    if ft is None or keypoint_kind(ft.info) == "none":
        strip.note = "no hand keypoints: neither human hands nor a robot hand's"
        return strip
    cols = ds.columns(0, [HAND_KEYPOINTS, STATE_NATIVE, HAND_VALID])  # HAND_VALID: absent in older datasets
    valid = cols[HAND_VALID] > 0 if HAND_VALID in cols else None
    kp = drawable_keypoints(ds.info, cols[HAND_KEYPOINTS].reshape(-1, 2, 21, 3), valid)  # masked: NaN, not drawn
    strip.hands = [h for h in range(2) if np.any(np.nan_to_num(kp[:, h]))]
    if not strip.hands:
        strip.note = "keypoints are all zero: the source tracks no hands (video only)"
        return strip
    strip.keypoints = kp[idx]
    h, w = strip.frames[0].shape[:2]
    cam, why = camera_model(ds.info, key, cols.get(STATE_NATIVE), (w, h))
    # projected when the camera is known and the points fall in front of it; else a side panel with the reason
    if cam is None:
        strip.method, strip.note = "side panel", f"side panel: {why}"
        return strip
    projected, visible = [], 0
    for t in strip.frame_indices:
        uv = np.full((2, 21, 2), np.nan)
        for h in strip.hands:
            uv[h], front = project(kp[t, h], cam.ref_from_camera[t], cam.lens)  # kp[t]: frame t's keypoints
            visible += int(front.sum())
        projected.append(uv)
    if visible == 0:
        strip.method = "side panel"
        strip.note = "side panel: with the stored camera trajectory and intrinsics every keypoint is behind the camera"
        return strip
    strip.method, strip.projected = "projected", projected
    strip.note = f"projected with {cam.source} and the stored camera trajectory"
    return strip


# -- geometry QA ------------------------------------------------------------------------------------------------


@dataclass
class QAView:
    """The geometry QA of every dataset (pooled from the catalog's `qa_*` columns) and what fails."""

    config: QAConfig
    summaries: list[DatasetQA]
    failed: dict[str, list[DatasetFinding]]  # dataset -> failed invariants
    overviews: list[str]  # each summary's invariants in a line (`ingest.qa.dataset.geometry_overview`)


def qa_by_dataset(root: Path) -> QAView:
    """Each dataset's pooled QA (`ingest.qa.dataset.geometry_summary`, pooled by the catalog build: its `dataset_qa`
    view, with its overview in a line), with its findings against the thresholds stored with the corpus's episodes
    at ingest. Datasets without QA (other tools', older ingests) are left out."""
    config, _ = corpus_thresholds(root)
    sql = "SELECT geometry, geometry_overview FROM dataset_qa WHERE geometry IS NOT NULL ORDER BY dataset"
    pooled = run_query(root, sql)
    summaries = [DatasetQA.model_validate_json(g) for g in pooled["geometry"].to_pylist()]
    failed = {s.dataset: geometry_findings(s, config) for s in summaries}
    return QAView(config, summaries, failed, pooled["geometry_overview"].to_pylist())
