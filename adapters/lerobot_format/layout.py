"""LeRobot datasets on disk as input: where an episode's rows and frames are, for v2.x and v3.0 layouts, and one
dataset as read (`LoadedDataset`: its meta, episode locations, and the cameras and per-episode problems its reader
found), which the checks and `eidata validate` take.

v2.0 / v2.1: one parquet and one mp4 per (episode, camera), paths from the `info.json` templates (any spelling lerobot
uses: `schemas.lerobot.fill_path_template`), episode list in `meta/episodes.jsonl`. v3.0 (lerobot >= 0.4): many
episodes per file. `meta/episodes/chunk-XXX/file-XXX.parquet` rows give each episode's data file
(`data/chunk_index`, `data/file_index`), its global row range (`dataset_from_index`, `dataset_to_index`) and, per
camera, its mp4 (`videos/<key>/chunk_index`, `file_index`) and the span `[from_timestamp, to_timestamp)` of that
concatenated mp4 holding it; `meta/tasks.parquet` maps task strings to `task_index`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from adapters.lerobot_format.files import unreadable
from adapters.storage.location import Location
from schemas.arrow import leaf_type
from schemas.canonical import Camera
from schemas.corpus import DATASETS_DIR
from schemas.lerobot import INFO_PATH, InfoJson, fill_path_template
from schemas.lerobot_v3 import DATA_PATH_V30, TASKS_PATH_V30, VIDEO_PATH_V30
from schemas.quirks import Quirk

V3_EPISODES_DIR = "meta/episodes"


@dataclass(frozen=True)
class VideoClip:
    """Where one camera of one episode lives: a whole mp4 (v2: `end_s` None) or a span of a concatenated one (v3)."""

    file: str  # relative to the dataset root
    start_s: float = 0.0
    end_s: float | None = None


@dataclass(frozen=True)
class EpisodeLocation:
    """One episode of a dataset: declared length and tasks, data file (and v3 row range), one clip per camera."""

    episode_index: int
    length: int
    tasks: tuple[str, ...]
    data_file: str
    rows: tuple[int, int] | None = None  # v3: [dataset_from_index, dataset_to_index) global `index` range
    videos: dict[str, VideoClip] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # other native per-episode meta (JSON-able)


@dataclass
class LoadedDataset:
    """What one dataset root says, loaded once per adapter instance (and per process)."""

    root: Location
    subset: str
    version: str
    is_v3: bool
    info: InfoJson
    modality: dict[str, Any] | None
    tasks: dict[int, str]
    episodes: dict[int, EpisodeLocation]
    quirks: list[Quirk]
    cameras: dict[str, Camera | None] = field(default_factory=dict)  # video / image keys read -> canonical camera
    problems: dict[int, tuple[str, str | None, str | None]] = field(default_factory=dict)  # ep -> msg, file, field
    camera_notes: dict[str, str] = field(default_factory=dict)
    mp4_index: list[str] | None = None  # every mp4 under the root, relative; listed once when a template misses


def v2_locations(info: InfoJson, entries: list[Any]) -> list[EpisodeLocation]:
    """Locations from validated `episodes.jsonl` entries (`schemas.lerobot.EpisodeEntry`)."""
    out = []
    for e in sorted(entries, key=lambda e: e.episode_index):
        i = e.episode_index
        videos = {k: VideoClip(info.video_file(i, k)) for k in info.video_keys} if info.video_path else {}
        extra = dict(e.model_extra or {})
        if e.action_config is not None:
            extra["action_config"] = [s.model_dump() for s in e.action_config]
        out.append(EpisodeLocation(i, e.length, tuple(e.tasks), info.data_file(i), None, videos, extra))
    return out


def read_v3_tasks(root: Location) -> dict[int, str]:
    """`meta/tasks.parquet`: lerobot writes a pandas frame indexed by the task string (a named or unnamed index)."""
    with (root / TASKS_PATH_V30).readable() as src:
        table = pq.read_table(src)
    names = table.column_names
    text_col = "task" if "task" in names else None
    if text_col is None:
        index_cols = (table.schema.pandas_metadata or {}).get("index_columns", [])
        text_col = next((c for c in index_cols if isinstance(c, str) and c in names), None)
    if text_col is None:
        strings = [f.name for f in table.schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
        text_col = strings[0] if strings else None
    if text_col is None or "task_index" not in names:
        raise ValueError(f"{TASKS_PATH_V30}: no task text column or no 'task_index' column (columns {names})")
    return {int(i): str(t) for i, t in zip(table["task_index"].to_pylist(), table[text_col].to_pylist(), strict=True)}


def read_v3_locations(root: Location, info: InfoJson) -> list[EpisodeLocation]:
    """Episode rows of every `meta/episodes/chunk-*/file-*.parquet` (stats columns are not read)."""
    files = sorted((root / V3_EPISODES_DIR).glob("chunk-*/file-*.parquet"))
    if not files:
        raise ValueError(f"{V3_EPISODES_DIR}/: no chunk-*/file-*.parquet")
    data_tpl = info.data_path or DATA_PATH_V30
    video_tpl = info.video_path or VIDEO_PATH_V30
    out = []
    for path in files:
        with path.readable() as src:
            pf = pq.ParquetFile(src)
            rows_read = pf.read(columns=[c for c in pf.schema_arrow.names if not c.startswith("stats/")]).to_pylist()
        for row in rows_read:
            ep = int(row["episode_index"])
            data = fill_path_template(data_tpl, ep, int(row["data/chunk_index"]), None, int(row["data/file_index"]))
            videos = {}
            for key in info.video_keys:
                chunk, file_ = row.get(f"videos/{key}/chunk_index"), row.get(f"videos/{key}/file_index")
                if chunk is None or file_ is None:
                    continue
                start = float(row.get(f"videos/{key}/from_timestamp") or 0.0)
                end = row.get(f"videos/{key}/to_timestamp")
                end = float(end) if end is not None else start + int(row["length"]) / info.fps
                videos[key] = VideoClip(fill_path_template(video_tpl, ep, int(chunk), key, int(file_)), start, end)
            known = {"episode_index", "tasks", "length", "dataset_from_index", "dataset_to_index"}
            extra = {
                k: v
                for k, v in row.items()
                if k not in known and not k.startswith(("data/", "videos/", "meta/episodes/"))
            }
            rows = (int(row["dataset_from_index"]), int(row["dataset_to_index"]))
            tasks = tuple(str(t) for t in row.get("tasks") or ())
            out.append(EpisodeLocation(ep, int(row["length"]), tasks, data, rows, videos, extra))
    return sorted(out, key=lambda e: e.episode_index)


def read_v3_rows(path: Location, episode_index: int, rows: tuple[int, int]) -> pa.Table:
    """The rows of one episode in a data file holding many: by `episode_index`, else by the global `index` range."""
    with path.readable() as src:
        names = pq.ParquetFile(src).schema_arrow.names
        if "episode_index" in names:
            return pq.read_table(src, filters=pc.field("episode_index") == episode_index)
        if "index" in names:
            return pq.read_table(src, filters=(pc.field("index") >= rows[0]) & (pc.field("index") < rows[1]))
    raise ValueError("neither 'episode_index' nor 'index' column: cannot find the episode's rows")


def column_to_numpy(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A parquet column as (T, ...) in its own dtype: scalars (T,), fixed or variable lists (T, D), nested (T, A, B).

    float64 stays float64 (no precision lost here). Ragged lists raise ValueError.
    """
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    n = len(arr)
    shape: list[int] = []
    while pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type) or pa.types.is_fixed_size_list(arr.type):
        if arr.null_count:
            raise ValueError("null list entries")
        if pa.types.is_fixed_size_list(arr.type):
            width = arr.type.list_size
        else:
            lengths = np.diff(np.asarray(arr.offsets))
            width = int(lengths[0]) if len(lengths) else 0
            if np.any(lengths != width):
                raise ValueError(f"ragged lists (lengths {sorted(set(lengths.tolist()))[:5]})")
        shape.append(width)
        arr = arr.flatten()
    if arr.null_count:
        raise ValueError("null values")
    return np.asarray(arr.to_numpy(zero_copy_only=False)).reshape(n, *shape)


def is_numeric(t: pa.DataType) -> bool:
    t = leaf_type(t)
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)


def recorded_frames(root: Location) -> dict[int, dict[str, int]]:
    """episode index -> image key -> the frames `lerobot record` left as files for it: it writes each frame as
    `images/{image_key}/episode_{episode_index:06d}/frame_{frame_index:06d}.png` (lerobot 0.3.3 `datasets/utils.py`
    DEFAULT_IMAGE_PATH, `LeRobotDataset._get_image_file_path`) and encodes them and writes the parquet only when the
    episode is saved, so a run stopped before that leaves these frames as the episode's only data."""
    images = root / "images"
    if not images.is_dir():
        return {}
    out: dict[int, dict[str, int]] = {}
    for key in sorted(e.name for e in images.listing() if e.is_dir):
        for e in (images / key).listing():
            ep = e.name.removeprefix("episode_")
            if e.is_dir and e.name.startswith("episode_") and ep.isdigit():
                n = sum(1 for f in (images / key / e.name).listing() if f.name.endswith((".png", ".jpg", ".jpeg")))
                if n:
                    out.setdefault(int(ep), {})[key] = n
    return out


def frames_said(counts: dict[str, int]) -> str:
    """The frames one episode holds under images/, as a reason says them ("" when none)."""
    if not counts:
        return ""
    per = ", ".join(f"{key}: {n}" for key, n in counts.items())
    return (
        f"; images/ holds {sum(counts.values())} frames of this episode ({per}): an aborted lerobot record that "
        "never encoded them nor wrote their parquet"
    )


def footer_problem(root: Location, path: Location, frames: dict[str, int]) -> str | None:
    """Why the data parquet `path` of one episode (of several, in v3.0) cannot be read, or None when its footer
    reads: whatever one file is (a symlink out of the root, a hard link, a FIFO or a folder, missing, cut, not a
    parquet, gone since it was listed), it is that file's episodes' problem, never its dataset's (issue 85)."""
    if (escape := root.outside([str(path)])) is not None:  # a symlink out of the root
        return str(escape)
    if not path.is_file():
        if path.exists():
            return f"unreadable parquet ({path} is not a regular file: a FIFO, a socket or a folder; not read)"
        return "data parquet file is missing" + frames_said(frames)
    try:
        with path.readable() as src:
            pq.read_metadata(src)
    except (OSError, ValueError, pa.ArrowException) as err:  # ValueError: a hard link refused at the open
        return unreadable("parquet", path, err)
    return None


def find_datasets(corpus_root: Path) -> list[Path]:
    """Every dataset under `ROOT/datasets/` (a folder holding meta/info.json, at any depth; a folder whose name starts
    with a dot is skipped, a link to a folder is not followed), sorted. A dataset's own folders (data/, videos/,
    latents/) hold no datasets and are not listed: a folder is known as a dataset from its parent's listing, before
    `os.walk` would list it; paths are strings until the end: listing each of a 1M corpus's 30k datasets and a `Path`
    made of each folder were 1.3 CPU-s of every command (issue 99)."""
    base = os.path.join(corpus_root, DATASETS_DIR)
    if os.path.isfile(os.path.join(base, INFO_PATH)):
        return [Path(base)]
    found: list[str] = []
    for folder, names, _ in os.walk(base):
        below = []
        for name in names:
            sub = os.path.join(folder, name)
            if name.startswith("."):
                continue
            if not os.path.isfile(os.path.join(sub, INFO_PATH)):
                below.append(name)  # walked next (a link to a folder is not: os.walk's followlinks=False)
            elif not os.path.islink(sub):
                found.append(sub)
        names[:] = below
    return [Path(p) for p in sorted(found, key=path_order)]


def path_order(path: str) -> list[str]:
    """The order `Path`s sort in (by their parts: `a/b` before `a-b`), of strings: one list each, not 17 `Path`
    comparisons of 30k datasets (1 CPU-s)."""
    return path.split("/")
