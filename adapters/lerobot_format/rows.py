"""The data pass of a LeRobot v2.x dataset's check (`adapters.lerobot_format.meta.DatasetMeta.load`): each
episode's parquet footer and its timestamp / frame_index / task_index / episode_index columns, read and checked as
lerobot 0.3.3 reads them, folded into one quirk per finding."""

from __future__ import annotations

from collections import defaultdict
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from adapters.lerobot_format.files import unreadable
from adapters.storage.location import Location
from schemas.arrow import leaf_type
from schemas.lerobot import INFO_PATH, TASKS_PATH, EpisodeEntry, InfoJson, TaskEntry
from schemas.quirks import TOLERANCE_S, Quirk, Severity, listing, quirk


class EpisodeFindings:
    """Per-episode findings of the data pass, folded into one quirk per code."""

    SPECS: ClassVar[dict[str, tuple[Severity, str]]] = {
        "unreadable_parquet": ("error", "parquet files cannot be read"),
        "episode_length_mismatch": ("error", "parquet row counts differ from episodes.jsonl (length vs rows)"),
        "parquet_columns_mismatch": ("warning", "parquet columns differ from the declared non-video features"),
        "no_frame_index_column": ("warning", "parquet files have no 'frame_index' column"),
        "frame_index_not_contiguous": ("warning", "'frame_index' is not 0..length-1"),
        "timestamp_offset": ("error", "timestamps do not start at 0 (video frame 0 is at 0 s)"),
        "timestamp_sync_violation": ("error", f"consecutive timestamps differ from 1/fps by more than {TOLERANCE_S}s"),
        "timestamp_mismatch": ("error", f"timestamps drift from frame_index/fps by more than {TOLERANCE_S}s"),
        "task_index_unknown": ("error", "task_index values not in tasks.jsonl"),
        "episode_index_mismatch": ("warning", "the parquet's 'episode_index' column names another episode"),
    }

    def __init__(self) -> None:
        self.episodes: dict[str, list[int]] = defaultdict(list)
        self.path: dict[str, str] = {}
        self.notes: dict[str, set[str]] = defaultdict(set)

    def hit(self, code: str, ep: int, rel: str, note: str | None = None) -> None:
        self.episodes[code].append(ep)
        self.path.setdefault(code, rel)
        if note:
            self.notes[code].add(note)

    def frames(
        self, ep: int, rel: str, cols: dict[str, np.ndarray], rows: int, fps: float, tasks: set[int] | None
    ) -> set:
        """One episode's `frame_index` / `timestamp` / `task_index` rows (`cols`, those present) checked, timestamps as
        lerobot does (consecutive diffs) and against frame_index/fps; returns the task indices seen (unknown ones are
        a finding unless `tasks` is None)."""
        fi = cols.get("frame_index", np.arange(rows))
        if "frame_index" in cols and not np.array_equal(fi, np.arange(rows)):
            self.hit("frame_index_not_contiguous", ep, rel)
        ts = cols.get("timestamp", np.zeros(0))
        if fps > 0 and len(ts):  # fps <= 0 is reported as fps_invalid
            if abs(ts[0]) > TOLERANCE_S:
                self.hit("timestamp_offset", ep, rel, f"{ts[0]:.6g}s")
            if len(ts) > 1 and np.any(np.abs(np.diff(ts) - 1.0 / fps) > TOLERANCE_S):
                self.hit("timestamp_sync_violation", ep, rel)
            elif np.any(np.abs(ts - ts[0] - (fi - fi[0]) / fps) > TOLERANCE_S):
                self.hit("timestamp_mismatch", ep, rel)
        ids = set(np.unique(cols["task_index"]).tolist()) if "task_index" in cols else set()
        for t in sorted(ids - tasks) if tasks is not None else ():
            self.hit("task_index_unknown", ep, rel, str(t))
        return ids

    def quirks(self, has_video: bool) -> list[Quirk]:
        out = []
        for code, (sev, what) in self.SPECS.items():
            if code in self.episodes:
                if code in ("timestamp_offset", "timestamp_mismatch") and not has_video:
                    sev = "warning"  # without videos nothing is looked up by timestamp
                extra = f" [{listing(sorted(self.notes[code]))}]" if self.notes[code] else ""
                named = sorted(set(self.episodes[code]))
                msg = f"{what}: episodes {listing(named)}{extra}"
                out.append(quirk(code, sev, msg, self.path[code], named))
        return out


def float64_quirk(names: set[str]) -> list[Quirk]:
    msg = f"float64 features (v2.1 writers use float32): {listing(sorted(names))}"
    return [quirk("float64_features", "warning", msg, INFO_PATH)] if names else []


def check_parquet_data(
    root: Location, info: InfoJson, episodes: list[EpisodeEntry], tasks: list[TaskEntry]
) -> list[Quirk]:
    """Reads only parquet footers and the timestamp / frame_index / task_index columns, each file opened beneath
    `root` (a local folder or one in an object store: `Location.readable`, bounded read-ahead)."""
    found = EpisodeFindings()
    used_tasks: set[int] = set()
    task_ids = {t.task_index for t in tasks}
    declared = {k for k, f in info.features.items() if not f.is_video}
    float64 = {k for k, f in info.features.items() if f.dtype == "float64"}
    read_all = True
    for e in episodes:
        ep, rel = e.episode_index, info.data_file(e.episode_index)
        if not (root / rel).is_file():
            read_all = False
            continue  # reported by check_file_presence
        try:
            with root.file(rel).readable() as src:
                pf = pq.ParquetFile(src)
                schema, rows = pf.schema_arrow, pf.metadata.num_rows
                cols = [c for c in ("timestamp", "frame_index", "task_index", "episode_index") if c in schema.names]
                table = pf.read(columns=cols)
            arr = {c: np.asarray(table[c].to_numpy(), np.float64 if c == "timestamp" else np.int64) for c in cols}
        except (OSError, pa.ArrowException, ValueError, TypeError) as err:  # corrupt file or odd column types
            found.hit("unreadable_parquet", ep, rel, unreadable("parquet", root / rel, err)[:120])
            read_all = False
            continue
        float64 |= {f.name for f in schema if pa.types.is_float64(leaf_type(f.type))}
        for name in sorted((declared ^ set(schema.names)) - {"frame_index"}):  # frame_index is reported on its own
            found.hit("parquet_columns_mismatch", ep, rel, name)
        if rows != e.length:
            found.hit("episode_length_mismatch", ep, rel, f"episode {ep}: {e.length} vs {rows}")
        if "frame_index" not in cols:
            found.hit("no_frame_index_column", ep, rel)
        used_tasks |= found.frames(ep, rel, arr, rows, info.fps, task_ids)
        if "episode_index" in cols and (held := sorted(set(np.unique(arr["episode_index"]).tolist()) - {ep})):
            found.hit("episode_index_mismatch", ep, rel, f"episode {ep}: {listing(held)}")
        read_all &= "task_index" in cols
    q = found.quirks(has_video=bool(info.video_keys)) + float64_quirk(float64)
    unused = [f"{t.task_index}: {t.task!r}" for t in tasks if t.task_index not in used_tasks]
    if used_tasks and unused and read_all:  # only conclusive when every episode's task_index was seen
        msg = f"tasks.jsonl entries no frame uses as task_index (e.g. GR00T annotation strings): {listing(unused)}"
        q.append(quirk("tasks_without_frames", "info", msg, TASKS_PATH))
    return q
