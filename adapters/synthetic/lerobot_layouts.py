"""Tiny LeRobot datasets in the exact layouts real datasets have, one per recorded case.

A case is a folder holding a real dataset's `meta/info.json`, as its maker wrote it, and `layout.json` (`LayoutRecord`):
where the file comes from, the value ranges its own `stats.json` shows (or "unknown"), and what its files on disk do
that the info.json does not say (mp4s under another folder, no videos at all, several episodes per v3 file, timestamps
at another rate). `materialize` writes a few episodes of that dataset: the same feature keys, shapes, dtypes, names and
path templates, `robot_type` and every other key of the info.json untouched (only the totals and splits follow the
episodes written), numbers drawn inside the recorded ranges (or, for episode 0, the real rows a case carries:
`RealRows`), frames encoded with the declared codec.

On-disk conventions follow lerobot's writers (`get_hf_features_from_features`, src/lerobot/datasets/utils.py):
shape-(1,) features are scalar columns, wider ones fixed-size lists; `image` features are `{bytes: PNG, path}` structs;
v2.x keeps `meta/episodes.jsonl`, `tasks.jsonl` and (v2.1) `episodes_stats.jsonl` (v2.0: `stats.json`); v3.0 keeps
`meta/episodes/chunk-000/file-000.parquet` and `meta/tasks.parquet`, data and frames of several episodes per file,
`from_timestamp` the running sum of episode durations. A v3 mp4 is one encode of its episodes' frames in order
(lerobot concatenates per-episode encodes by stream copy; PyAV cannot stream-copy AV1, whose decoder is not named
like an encoder), so keyframes fall where the encoder puts them, not at each episode's start. The pre-release v2.0
info.json (no `features`; `keys` / `shapes` / `names` / `videos`) is read for its features the same way.
"""

from __future__ import annotations

import json
import math
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field

from adapters.synthetic.video import synthetic_frame, write_mp4

BOOKKEEPING = ("timestamp", "frame_index", "episode_index", "index", "task_index")
TASKS = ("fold the cloth", "pick up the cube")
# the encoder for a declared `video.codec` (mp4v is MPEG-4 part 2, OpenCV's VideoWriter fourcc)
ENCODERS = {"av1": "libsvtav1", "h264": "libx264", "avc1": "libx264", "mp4v": "mpeg4", "hevc": "libx265"}
UNKNOWN_RANGE = (-1.0, 1.0)  # values drawn for a layout whose ranges are unknown: an assumption, said in layout.json


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repo: str | None
    path: str
    commit: str | None
    kind: str
    index_id: str | None = None  # the search index's file id (a dataset card whose repository was not resolved)


class Range(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min: list[float]
    max: list[float]


class EmbodimentRule(BaseModel):
    """What a reader may resolve: one of `accept`, or anything but `reject`; `why` cites the evidence."""

    model_config = ConfigDict(extra="forbid")

    accept: list[str] | None = None
    reject: list[str] | None = None
    why: str


class RealRows(BaseModel):
    """Rows of the real dataset's first episode as recorded (its timestamps and numeric columns, values verbatim):
    `materialize` writes them as episode 0 instead of drawn values, so what the real recorder did to its clock and
    its columns reaches the reader."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="file, commit and rows the values were copied from")
    timestamp: list[float]
    columns: dict[str, list[list[float]]] = Field(description="feature key -> rows (one list per row)")


class LayoutRecord(BaseModel):
    """`layout.json` of a case."""

    model_config = ConfigDict(extra="forbid")

    name: str
    source: Source
    value_ranges: dict[str, Range] | Literal["unknown"]
    ranges_source: str
    embodiment: EmbodimentRule
    notes: str
    video_dir: str | None = Field(None, description="the folder the real mp4s are in when it is not `videos`")
    videos_absent: bool = Field(False, description="video features declared, no mp4 in the real dataset")
    v3_episodes_per_file: int | None = Field(None, description="v3: episodes per data / video file (default: all)")
    v3_video_episodes_per_file: dict[str, int] = Field(
        default_factory=dict, description="v3: a camera whose mp4s split at other episodes than the data files"
    )
    timestamp_hz: float | None = Field(None, description="the rate the real timestamps run at when not `fps`")
    no_episodes_stats: bool = Field(False, description="v2.1 without meta/episodes_stats.jsonl (stats.json instead)")
    undeclared_columns: list[str] = Field(
        default_factory=list, description="bookkeeping columns the real parquet has and `features` does not declare"
    )
    real_rows: RealRows | None = Field(None, description="episode 0 as the real dataset recorded it (an excerpt)")


@dataclass(frozen=True)
class Feature:
    key: str
    dtype: str
    shape: tuple[int, ...]
    names: Any = None
    codec: str | None = None  # video: the declared codec

    @property
    def is_camera(self) -> bool:
        return self.dtype in ("video", "image")

    @property
    def hw(self) -> tuple[int, int]:
        """(height, width) of a camera, channel-first or channel-last."""
        dims = [d for d in self.shape if d not in (1, 3, 4)] or list(self.shape[:2])
        return (dims[0], dims[1]) if len(dims) > 1 else (dims[0], dims[0])


@dataclass
class Case:
    root: Path  # the case folder
    info: dict[str, Any]
    record: LayoutRecord
    meta: dict[str, str] = field(default_factory=dict)  # the real dataset's other meta/ files (modality.json)

    @property
    def name(self) -> str:
        return self.root.name


@dataclass
class Written:
    """What `materialize` wrote, per episode, for comparisons."""

    root: Path
    fps: float
    lengths: list[int]
    timestamps: list[np.ndarray] = field(default_factory=list)
    columns: dict[str, list[np.ndarray]] = field(default_factory=dict)  # numeric feature -> per episode (T, *shape)
    cameras: dict[str, tuple[int, int]] = field(default_factory=dict)  # camera key -> (height, width)
    ends: dict[str, list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)  # camera -> (first, last) frames
    video_files: list[str] = field(default_factory=list)  # relative paths of the mp4s written


def load_case(folder: Path) -> Case:
    folder = Path(folder)
    info = json.loads((folder / "info.json").read_text(encoding="utf-8"))
    record = LayoutRecord.model_validate_json((folder / "layout.json").read_text(encoding="utf-8"))
    meta = {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.json"))}
    return Case(folder, info, record, {k: v for k, v in meta.items() if k not in ("info.json", "layout.json")})


def load_cases(folder: Path) -> list[Case]:
    return [load_case(p) for p in sorted(Path(folder).iterdir()) if (p / "layout.json").is_file()]


def features(info: dict[str, Any]) -> list[Feature]:
    """The declared features, from `features` or (pre-release v2.0) `keys` / `video_keys` / `shapes` / `names`."""
    if "features" in info:
        out = []
        for key, ft in info["features"].items():
            probe = ft.get("info") or ft.get("video_info") or {}
            codec = probe.get("video.codec") if ft["dtype"] == "video" else None
            out.append(Feature(key, ft["dtype"], tuple(ft["shape"]), ft.get("names"), codec))
        return out
    shapes, names, videos = info["shapes"], info.get("names", {}), info.get("videos", {})
    out = [Feature(k, "float32", (int(shapes[k]),), names.get(k)) for k in info["keys"]]
    for k in info.get("video_keys", []):
        s = shapes[k]
        codec = videos.get(k, {}).get("video.codec")
        out.append(Feature(k, "video", (s["height"], s["width"], s["channels"]), None, codec))
    for k in info.get("image_keys", []):
        s = shapes[k]
        out.append(Feature(k, "image", (s["height"], s["width"], s["channels"])))
    return (
        out
        + [Feature(k, "int64", (1,)) for k in ("frame_index", "episode_index", "index", "task_index")]
        + [Feature("timestamp", "float32", (1,))]
    )


def _fill(template: str, **values: Any) -> str:
    """A template filled with whichever of the given placeholders it names (every spelling lerobot used)."""
    names = {f for _, f, _, _ in string.Formatter().parse(template) if f}
    return template.format(**{k: v for k, v in values.items() if k in names})


def _values(ft: Feature, n: int, ranges: tuple[np.ndarray, np.ndarray] | None, phase: float) -> np.ndarray:
    """(n, *shape) smooth values inside [lo, hi] per component, in the feature's dtype; never constant unless the
    recorded range is a single value."""
    width = int(np.prod(ft.shape))
    t = np.arange(n)[:, None] / max(n - 1, 1)
    k = np.arange(width)[None, :]
    wave = 0.5 + 0.45 * np.sin(2 * np.pi * (t * (0.5 + 0.1 * (k % 5)) + phase + 0.37 * k))
    if ft.dtype == "bool":
        return (wave > 0.5).reshape(n, *ft.shape)
    lo, hi = ranges if ranges is not None else (np.full(width, UNKNOWN_RANGE[0]), np.full(width, UNKNOWN_RANGE[1]))
    v = lo + (hi - lo) * wave
    if ft.dtype.startswith(("int", "uint")):
        v = np.round(v * 3 + 3) if ranges is None else np.round(v)
    return v.astype(np.dtype(ft.dtype)).reshape(n, *ft.shape)


def _column(values: np.ndarray) -> pa.Array:
    """A scalar column for (T,) / (T, 1), else a fixed-size list (lerobot: Value vs Sequence(length))."""
    if values.ndim == 1 or values.shape[1:] == (1,):
        return pa.array(values.reshape(len(values)))
    flat = pa.array(values.reshape(-1))
    for width in reversed(values.shape[1:]):
        flat = pa.FixedSizeListArray.from_arrays(flat, width)
    return flat


def _png_column(frames: np.ndarray) -> pa.Array:
    pngs = [cv2.imencode(".png", cv2.cvtColor(f, cv2.COLOR_RGB2BGR))[1].tobytes() for f in frames]
    return pa.StructArray.from_arrays([pa.array(pngs), pa.array([None] * len(pngs), pa.string())], ["bytes", "path"])


def _stats(values: np.ndarray) -> dict[str, list]:
    v = values.reshape(len(values), -1).astype(np.float64)
    return {
        "min": v.min(0).tolist(),
        "max": v.max(0).tolist(),
        "mean": v.mean(0).tolist(),
        "std": v.std(0).tolist(),
        "count": [len(v)],
    }


def _ranges(record: LayoutRecord, key: str) -> tuple[np.ndarray, np.ndarray] | None:
    if record.value_ranges == "unknown" or key not in record.value_ranges:
        return None
    r = record.value_ranges[key]
    return np.asarray(r.min, np.float64), np.asarray(r.max, np.float64)


def _encode(path: Path, frames: np.ndarray, fps: float, codec: str | None) -> None:
    encoder = ENCODERS.get((codec or "h264").lower(), "libx264")
    preset = {"libsvtav1": "12", "libx264": "ultrafast"}.get(encoder)  # the fastest: these are test fixtures
    write_mp4(path, frames, round(fps), encoder, preset=preset)


def materialize(case: Case, root: Path, *, episodes: int = 2, seconds: float = 1.1, seed: int = 0) -> Written:
    """Write `episodes` episodes of `case`'s layout under `root` (about `seconds` each, the second a bit longer)."""
    root = Path(root)
    info, rec = json.loads(json.dumps(case.info)), case.record
    version = str(info.get("codebase_version", "v2.1"))
    fps = float(info["fps"])
    feats = features(info)
    lengths = [max(2, math.ceil((seconds + 0.2 * ep) * fps)) for ep in range(episodes)]
    real = rec.real_rows
    if real is not None:
        lengths[0] = len(real.timestamp)
    out = Written(root, fps, lengths)
    # an undeclared timestamp column: float64, what pandas writes for Python floats (an assumption)
    ts_dtype = next((np.dtype(f.dtype) for f in feats if f.key == "timestamp"), np.dtype(np.float64))
    hz = rec.timestamp_hz or fps
    rows_per_ep: list[dict[str, pa.Array]] = []
    camera_frames: dict[str, list[np.ndarray]] = {}
    start = 0
    for ep, n in enumerate(lengths):
        ts = (np.asarray(real.timestamp) if real is not None and ep == 0 else np.arange(n) / hz).astype(ts_dtype)
        out.timestamps.append(ts)
        cols: dict[str, pa.Array] = {}
        for i, ft in enumerate(feats):
            if ft.key in BOOKKEEPING:
                continue
            if ft.is_camera:
                h, w = ft.hw
                out.cameras[ft.key] = (h, w)
                frames = np.stack([synthetic_frame(h, w, t, seed * 100 + ep + i) for t in range(n)])
                out.ends.setdefault(ft.key, []).append((frames[0], frames[-1]))
                if ft.dtype == "image":
                    cols[ft.key] = _png_column(frames)
                else:
                    camera_frames.setdefault(ft.key, []).append(frames)
                continue
            if real is not None and ep == 0 and ft.key in real.columns:
                v = np.asarray(real.columns[ft.key], np.dtype(ft.dtype)).reshape(n, *ft.shape)
            else:
                v = _values(ft, n, _ranges(rec, ft.key), 0.13 * ep + 0.05 * i + seed)
            out.columns.setdefault(ft.key, []).append(v)
            cols[ft.key] = _column(v)
        book = {
            "timestamp": ts,
            "frame_index": np.arange(n),
            "episode_index": np.full(n, ep),
            "index": np.arange(start, start + n),
            "task_index": np.full(n, ep % len(TASKS)),
        }
        for key, v in book.items():
            if any(f.key == key for f in feats) or key in rec.undeclared_columns:
                cols[key] = pa.array(v if key == "timestamp" else v.astype(np.int64))
        rows_per_ep.append(cols)
        start += n
    writer = _write_v3 if version.startswith("v3") else _write_v2
    writer(root, info, rec, feats, out, rows_per_ep, camera_frames)
    _write_info(root, info, out, len(camera_frames) if not rec.videos_absent else 0)
    for name, text in case.meta.items():
        (root / "meta" / name).write_text(text, encoding="utf-8")
    return out


def _video_rel(rec: LayoutRecord, rel: str) -> str:
    if rec.video_dir and rel.startswith("videos/"):
        return f"{rec.video_dir}/{rel[len('videos/') :]}"
    return rel


def _write_v2(
    root: Path,
    info: dict[str, Any],
    rec: LayoutRecord,
    feats: list[Feature],
    out: Written,
    rows_per_ep: list[dict[str, pa.Array]],
    camera_frames: dict[str, list[np.ndarray]],
) -> None:
    chunks_size = int(info.get("chunks_size") or 1000)
    n_eps = len(out.lengths)
    video_tpl = info.get("video_path") or (info.get("videos") or {}).get("videos_path")
    for ep, cols in enumerate(rows_per_ep):
        chunk = ep // chunks_size
        place = {"episode_chunk": chunk, "chunk_index": chunk, "episode_index": ep, "total_episodes": n_eps}
        path = root / _fill(info["data_path"], **place)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(cols), path)
        for key, frames in camera_frames.items():
            if rec.videos_absent or video_tpl is None:
                continue
            rel = _video_rel(rec, _fill(video_tpl, video_key=key, image_key=key, **place))
            codec = next(f.codec for f in feats if f.key == key)
            _encode(root / rel, frames[ep], out.fps, codec)
            out.video_files.append(rel)
    meta = root / "meta"
    meta.mkdir(parents=True, exist_ok=True)
    lines = [{"episode_index": ep, "tasks": [TASKS[ep % len(TASKS)]], "length": n} for ep, n in enumerate(out.lengths)]
    (meta / "episodes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    tasks = [{"task_index": i, "task": t} for i, t in enumerate(TASKS[: min(len(TASKS), n_eps)])]
    (meta / "tasks.jsonl").write_text("".join(json.dumps(r) + "\n" for r in tasks), encoding="utf-8")
    per_ep = [{k: _stats(v[ep]) for k, v in out.columns.items()} for ep in range(n_eps)]
    if str(info.get("codebase_version")) == "v2.1" and not rec.no_episodes_stats:
        rows = [{"episode_index": ep, "stats": s} for ep, s in enumerate(per_ep)]
        (meta / "episodes_stats.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    else:
        stats = {k: _stats(np.concatenate(v)) for k, v in out.columns.items()}
        (meta / "stats.json").write_text(json.dumps(stats, indent=4), encoding="utf-8")


def _groups(n_eps: int, per_file: int) -> list[list[int]]:
    return [list(range(first, min(first + per_file, n_eps))) for first in range(0, n_eps, per_file)]


def _write_v3(
    root: Path,
    info: dict[str, Any],
    rec: LayoutRecord,
    feats: list[Feature],
    out: Written,
    rows_per_ep: list[dict[str, pa.Array]],
    camera_frames: dict[str, list[np.ndarray]],
) -> None:
    n_eps = len(out.lengths)
    data_tpl, video_tpl = info["data_path"], info.get("video_path")
    starts = np.concatenate([[0], np.cumsum(out.lengths)[:-1]]).astype(int)
    ep_rows: dict[str, list] = {
        "episode_index": list(range(n_eps)),
        "tasks": [[TASKS[ep % len(TASKS)]] for ep in range(n_eps)],
        "length": list(out.lengths),
        "data/chunk_index": [0] * n_eps,
        "data/file_index": [0] * n_eps,
        "dataset_from_index": starts.tolist(),
        "dataset_to_index": (starts + np.asarray(out.lengths)).tolist(),
    }
    for file_index, group in enumerate(_groups(n_eps, rec.v3_episodes_per_file or n_eps)):
        path = root / _fill(data_tpl, chunk_index=0, episode_chunk=0, file_index=file_index)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.concat_tables([pa.table(rows_per_ep[ep]) for ep in group]), path)
        for ep in group:
            ep_rows["data/file_index"][ep] = file_index
    # each camera in its own files (lerobot splits a camera's mp4 at video_files_size_in_mb on its own)
    for key, frames in camera_frames.items():
        per_file = rec.v3_video_episodes_per_file.get(key) or rec.v3_episodes_per_file or n_eps
        cols = {
            f"videos/{key}/{c}": [0.0] * n_eps for c in ("chunk_index", "file_index", "from_timestamp", "to_timestamp")
        }
        for file_index, group in enumerate(_groups(n_eps, per_file)):
            offset = 0.0
            for ep in group:
                cols[f"videos/{key}/file_index"][ep] = file_index
                cols[f"videos/{key}/from_timestamp"][ep] = offset
                offset += out.lengths[ep] / out.fps
                cols[f"videos/{key}/to_timestamp"][ep] = offset
            if rec.videos_absent or video_tpl is None:
                continue
            codec = next(f.codec for f in feats if f.key == key)
            rel = _video_rel(
                rec, _fill(video_tpl, video_key=key, chunk_index=0, episode_chunk=0, file_index=file_index)
            )
            _encode(root / rel, np.concatenate([frames[ep] for ep in group]), out.fps, codec)
            out.video_files.append(rel)
        ep_rows |= {c: [int(x) for x in v] if c.endswith("_index") else v for c, v in cols.items()}
    for key, values in out.columns.items():
        for stat in ("min", "max", "mean", "std"):
            ep_rows[f"stats/{key}/{stat}"] = [_stats(v)[stat] for v in values]
    ep_rows["meta/episodes/chunk_index"] = [0] * n_eps
    ep_rows["meta/episodes/file_index"] = [0] * n_eps
    (root / "meta/episodes/chunk-000").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(ep_rows), root / "meta/episodes/chunk-000/file-000.parquet")
    used = TASKS[: min(len(TASKS), n_eps)]
    pd.DataFrame({"task_index": list(range(len(used)))}, index=list(used)).to_parquet(root / "meta/tasks.parquet")
    stats = {k: _stats(np.concatenate(v)) for k, v in out.columns.items()}
    (root / "meta/stats.json").write_text(json.dumps(stats, indent=4), encoding="utf-8")


def _write_info(root: Path, info: dict[str, Any], out: Written, n_videos: int) -> None:
    """The maker's info.json with only the totals and splits following the episodes written."""
    n = len(out.lengths)
    info["total_episodes"], info["total_frames"] = n, int(sum(out.lengths))
    for key, value in (("total_tasks", min(len(TASKS), n)), ("total_videos", n * n_videos), ("total_chunks", 1)):
        if key in info:
            info[key] = value
    if info.get("splits"):
        info["splits"] = {"train": f"0:{n}"}
    (root / "meta").mkdir(parents=True, exist_ok=True)
    (root / "meta/info.json").write_text(json.dumps(info, indent=4), encoding="utf-8")
