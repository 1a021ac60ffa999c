"""Write one LeRobot v3.0 dataset from episodes of canonical v2.1 datasets, as lerobot 0.6.1 lays one out.

Per episode (lerobot 0.6.1 `src/lerobot/datasets/dataset_writer.py` `save_episode` / `_save_episode_data`, and
`dataset_metadata.py` `save_episode` / `_save_episode_metadata`):
- its frames go into the current `data/chunk-CCC/file-FFF.parquet`, one row group per episode, with `index` running
  over the whole dataset and `episode_index` renumbered 0..N-1; a new file starts when the file's size plus the
  episode's would reach `data_files_size_in_mb` (the v2.1 episode's uncompressed parquet size, as the converter
  `convert_data` measures it);
- each camera's mp4 is stream-copied after the previous ones (`video.py`), a new file when
  `video_files_size_in_mb` would be reached (an episode the plan resizes is encoded first: `jobs/export/resize.py`);
- one row of `meta/episodes/`: episode_index, tasks, length, data/chunk_index, data/file_index, dataset_from_index,
  dataset_to_index, videos/<key>/{chunk_index, file_index, from_timestamp, to_timestamp}, `stats/<feature>/<stat>`,
  then our own columns (a manifest's source, subset, tier, ...), then meta/episodes/{chunk_index, file_index};
- stats of every numeric column recomputed with lerobot 0.6.1's definitions (quantiles included,
  `adapters/lerobot_format/stats.py`); a camera keeps the v2.1 episode stats (min/max/mean/std/count: quantiles of video
  pixels would need the frames decoded, which a stream copy does not do), and `meta/stats.json` aggregates the
  episodes one by one as lerobot's writer does (`aggregate_stats([stats, episode_stats])`).
Memory stays bounded: one episode's columns, the numeric columns of the episodes whose stats are computed together
(`STATS_BATCH_ROWS` frames), one buffered batch of episode rows, and the running stats.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from adapters.lerobot_format.stats import aggregate_stats, as_numpy, episodes_stats, flat_columns, jsonable
from ingest.lerobot.table import column_numpy
from jobs.export.layout import Layout
from jobs.export.lerobot_v3.episodes import EpisodeRef
from jobs.export.lerobot_v3.masked_stats import MaskedStats, as_lerobot
from jobs.export.lerobot_v3.plan import ExportPlan
from jobs.export.lerobot_v3.video import VideoFileWriter, probe_open
from jobs.export.resize import episode_video
from schemas.lerobot_features import FeatureSpec, hf_features, video_keys
from schemas.lerobot_v3 import (
    DATA_FILE_SIZE_IN_MB,
    DATA_PATH_V30,
    EPISODES_PATH_V30,
    INFO_PATH_V30,
    STATS_PATH_V30,
    TASKS_PATH_V30,
    VIDEO_FILE_SIZE_IN_MB,
    VIDEO_PATH_V30,
    info_v30,
    next_chunk_file,
)

MB = 1024**2
EPISODE_ROWS_PER_BATCH = 256
STATS_BATCH_ROWS = 20_000  # frames whose stats are computed together (`_flush_stats`): bounded memory, few calls


class TaskTable:
    """Task texts -> the export's task indices: a single source's own (`keep`), else in order of first appearance."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def keep(self, tasks: Mapping[int, str]) -> None:
        """Keep a single source's task indices (the converter keeps v2.1's `tasks.jsonl` as is)."""
        self.index = {t: i for i, t in sorted(tasks.items())}

    def of(self, task: str) -> int:
        return self.index.setdefault(task, len(self.index))

    def ordered(self) -> list[tuple[int, str]]:
        return sorted((i, t) for t, i in self.index.items())

    def __len__(self) -> int:
        return len(self.index)


@dataclass
class EpisodeFrames:
    """One episode's frames as exported, the uncompressed bytes of its source parquet, and its tasks."""

    table: pa.Table
    uncompressed: int
    tasks: list[str]


def read_episode(ref: EpisodeRef, layout: Layout, tasks: TaskTable, episode_index: int, start: int) -> EpisodeFrames:
    """The episode's columns in the export's layout, `episode_index` and `index` renumbered (from `start`), its tasks
    mapped to the export's indices (every frame to the caption's under `ref.task`)."""
    source = ref.source
    with source.corpus.open_file(source.data_file(ref.episode_index)) as f:  # an object: footer, columns by range
        src = pq.ParquetFile(f, memory_map=True)
        meta = src.metadata  # its uncompressed size places the episode in a file: the file is read once
        uncompressed = sum(
            meta.row_group(g).column(c).total_uncompressed_size
            for g in range(meta.num_row_groups)
            for c in range(meta.num_columns)
        )
        table = layout.apply(src.read(columns=layout.source_columns, use_threads=False))
    n = table.num_rows
    old = table.column("task_index").to_numpy()
    if ref.task is not None:
        new_tasks = np.full(n, tasks.of(ref.task), dtype=np.int64)
    else:
        remap = {int(t): tasks.of(ref.source.tasks[int(t)]) for t in np.unique(old)}
        new_tasks = np.array([remap[int(t)] for t in old], dtype=np.int64)
    cols = {
        "episode_index": pa.array(np.full(n, episode_index, dtype=np.int64)),
        "index": pa.array(np.arange(start, start + n, dtype=np.int64)),
        "task_index": pa.array(new_tasks),
    }
    for name, arr in cols.items():
        table = table.set_column(table.schema.get_field_index(name), table.schema.field(name), arr)
    entry = ref.line
    names = [ref.task] if ref.task is not None else entry.get("tasks")
    if not names:  # the tasks of its frames
        used = {int(t) for t in np.unique(new_tasks)}
        names = [t for i, t in tasks.ordered() if i in used]
    return EpisodeFrames(table, uncompressed, list(names))


@dataclass
class _Rolling:
    """The chunk/file a stream of files is at, and how full the current file is."""

    chunk: int = 0
    file: int = 0
    bytes: int = 0
    started: bool = False

    def place(self, size: int, limit_mb: int, new: bool = False) -> bool:
        """Where the next item of `size` bytes goes; True when it opens a new file (lerobot: `>=` the limit; `new`:
        a new file whatever the size)."""
        if not self.started:
            self.started, self.bytes = True, size
            return True
        if new or (self.bytes + size) / MB >= limit_mb:
            self.chunk, self.file = next_chunk_file(self.chunk, self.file)
            self.bytes = size
            return True
        self.bytes += size
        return False


class ExportWriter:
    """What the v3.0 and v2.1 writers share: the plan's dataset at `root`, its task table and counts, the masked
    statistics, and `on_file`, called with each file closed for good before `finish` (a bucket --out puts it and
    drops the local copy)."""

    def __init__(self, root: Path, plan: ExportPlan, masked: MaskedStats | None) -> None:
        self.root = Path(root)
        self.fps, self.robot_type, self.layout, self.masked = plan.fps, plan.robot_type, plan.layout, masked
        self.tasks = TaskTable()
        self.num_episodes = self.num_frames = 0
        self.on_file: Callable[[Path], None] | None = None

    def _finished(self, path: Path) -> None:
        if self.on_file is not None:
            self.on_file(path)


class V30Writer(ExportWriter):
    """Accumulates episodes into a v3.0 dataset at `root` (a fresh folder); `finish()` writes the meta last."""

    def __init__(
        self,
        root: Path,
        plan: ExportPlan,
        data_mb: int = DATA_FILE_SIZE_IN_MB,
        video_mb: int = VIDEO_FILE_SIZE_IN_MB,
        masked: MaskedStats | None = None,
    ) -> None:
        """The writer of `plan`'s dataset into the fresh folder `root`; `masked`: a manifest's statistics of its
        masked features (`masked_stats.py`: unused dims filled, stats.json, stats_by_embodiment.json)."""
        super().__init__(root, plan, masked)
        self.features, self.column_types = plan.features, dict(plan.column_types)
        self.data_mb, self.video_mb = data_mb, video_mb
        self.cameras = video_keys(self.features)
        self.columns = [k for k in self.features if k not in self.cameras]
        self.stats: dict[str, dict[str, np.ndarray]] | None = None
        self._data = _Rolling()
        self._data_writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        # episodes written but not yet in meta: (row, ref, numeric columns), their stats computed together
        self._pending: list[tuple[dict[str, Any], EpisodeRef, dict[str, np.ndarray]]] = []
        self._pending_rows = 0
        self._videos: dict[str, VideoFileWriter] = {}
        self._resized_stats: dict[int, dict[str, Any]] = {}  # episode -> camera stats of the frames it was resized to
        self._video_place = {k: _Rolling() for k in self.cameras}
        self._meta = _Rolling()
        self._rows: list[dict[str, Any]] = []
        self._meta_writer: pq.ParquetWriter | None = None
        self._data_path = self._meta_path = self.root

    # -- data ----------------------------------------------------------------------------------------------------
    def _frames(self, ref: EpisodeRef, start: int) -> EpisodeFrames:
        frames = read_episode(ref, self.layout, self.tasks, self.num_episodes, start)
        if self._schema is None:
            # the `huggingface` metadata as datasets 4 writes it (lerobot 0.6.1)
            numeric = {k: FeatureSpec.model_validate(self.features[k]) for k in self.columns}
            hf = json.dumps(hf_features(numeric, datasets4=True)).encode()
            self._schema = frames.table.schema.with_metadata({b"huggingface": hf})
        frames.table = frames.table.cast(self._schema)
        if self.masked is not None:
            frames.table = self.masked.fill_unused(ref, frames.table)[0]
        return frames

    def _write_data(self, table: pa.Table, uncompressed: int) -> tuple[int, int]:
        if self._data.place(uncompressed, self.data_mb) and self._data_writer is not None:
            self._data_writer.close()
            self._data_writer = None
            self._finished(self._data_path)
        if self._data_writer is None:
            path = self._data_path = self.root / DATA_PATH_V30.format(
                chunk_index=self._data.chunk, file_index=self._data.file
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            self._data_writer = pq.ParquetWriter(path, self._schema, compression="snappy", use_dictionary=True)
        self._data_writer.write_table(table)  # one row group per episode
        return self._data.chunk, self._data.file

    # -- videos --------------------------------------------------------------------------------------------------
    def _write_video(self, key: str, ref: EpisodeRef) -> dict[str, Any]:
        source = ref.source
        src = source.video_file(ref.episode_index, ref.camera(key))  # a slot's: the camera of its dataset
        fit, scratch = ref.resize.get(key), self.root / f".resized.{key}.mp4"  # a resized one, removed once copied
        # opened once: probed, then its packets copied (an object: moov and samples by range)
        with episode_video(source.corpus, src, fit, scratch, self.fps, self.features[key]) as (container, size, st):
            if st is not None:
                self._resized_stats.setdefault(self.num_episodes, {})[key] = st.model_dump()
            place, current = self._video_place[key], self._videos.get(key)
            probed = probe_open(container)
            sig = probed[0]
            # a codec or size change: a new file
            new_file = place.place(size, self.video_mb, new=current is not None and current.signature != sig)
            if new_file and current is not None:
                current.close()
                self._finished(current.path)
                current = None
            if current is None:
                path = self.root / VIDEO_PATH_V30.format(video_key=key, chunk_index=place.chunk, file_index=place.file)
                current = self._videos[key] = VideoFileWriter(path, sig)
            start, end = current.append(src, container, probed)
        return {
            f"videos/{key}/chunk_index": place.chunk,
            f"videos/{key}/file_index": place.file,
            f"videos/{key}/from_timestamp": start,
            f"videos/{key}/to_timestamp": end,
        }

    # -- episodes ------------------------------------------------------------------------------------------------
    def add(self, ref: EpisodeRef) -> None:
        start = self.num_frames
        frames = self._frames(ref, start)
        table, n = frames.table, frames.table.num_rows
        chunk, file = self._write_data(table, frames.uncompressed)
        row: dict[str, Any] = {"episode_index": self.num_episodes}
        row |= {"tasks": frames.tasks, "length": n, "data/chunk_index": chunk, "data/file_index": file}
        row |= {"dataset_from_index": start, "dataset_to_index": start + n}
        for key in self.cameras:
            row |= self._write_video(key, ref)
        self._pending.append((row, ref, self._numeric(table)))
        self._pending_rows += n
        self.num_episodes += 1
        self.num_frames += n
        if self._pending_rows >= STATS_BATCH_ROWS:
            self._flush_stats()

    def _numeric(self, table: pa.Table) -> dict[str, np.ndarray]:
        return {key: column_numpy(table.column(key), self.features[key]["shape"]) for key in self.columns}

    def _flush_stats(self) -> None:
        """The pending episodes' stats in one batch (`episodes_stats`, equal bit for bit to `episode_stats` of each),
        then their meta rows and the running aggregate, in episode order."""
        pending, self._pending, self._pending_rows = self._pending, [], 0
        if not pending:
            return
        for (row, ref, _), stats in zip(pending, episodes_stats([c for _, _, c in pending]), strict=True):
            old = as_numpy(ref.stats)  # and a resized camera's, of its new frames
            old |= {ref.camera(k): v for k, v in as_numpy(self._resized_stats.pop(row["episode_index"], {})).items()}
            for key in self.cameras:  # the v2.1 camera stats (see the module doc)
                if ref.camera(key) not in old:
                    raise ValueError(
                        f"{ref.source.root}: episode {ref.episode_index} has no stats for camera {ref.camera(key)!r}"
                    )
                stats[key] = old[ref.camera(key)]
            stats = {k: stats[k] for k in self.features if k in stats}
            row |= flat_columns(stats)
            row |= ref.extra
            self._append_row(row)
            self.stats = stats if self.stats is None else aggregate_stats([self.stats, stats])

    def _append_row(self, row: dict[str, Any]) -> None:
        size = len(json.dumps(row))
        if self._meta.place(size, self.data_mb):
            self._flush_rows()
            if self._meta_writer is not None:
                self._meta_writer.close()
                self._meta_writer = None
                self._finished(self._meta_path)
        row["meta/episodes/chunk_index"] = self._meta.chunk
        row["meta/episodes/file_index"] = self._meta.file
        self._rows.append(row)
        if len(self._rows) >= EPISODE_ROWS_PER_BATCH:
            self._flush_rows()

    def _flush_rows(self) -> None:
        if not self._rows:
            return
        table = pa.Table.from_pylist(self._rows)
        for name, typ in self.column_types.items():  # a column all null in this batch still gets its type
            if name in table.column_names and table.schema.field(name).type != typ:
                i = table.schema.get_field_index(name)
                table = table.set_column(i, pa.field(name, typ), table.column(name).cast(typ))
        if self._meta_writer is None:
            first = self._rows[0]
            path = self._meta_path = self.root / EPISODES_PATH_V30.format(
                chunk_index=first["meta/episodes/chunk_index"], file_index=first["meta/episodes/file_index"]
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            self._meta_writer = pq.ParquetWriter(path, table.schema, compression="snappy", use_dictionary=True)
        self._meta_writer.write_table(table.cast(self._meta_writer.schema))
        self._rows = []

    # -- end -----------------------------------------------------------------------------------------------------
    def finish(self, splits: dict[str, str] | None = None) -> dict[str, Any]:
        """Close every file and write tasks, stats and info (info last); returns the info written."""
        if self.num_episodes == 0:
            raise ValueError("no episode to export")
        self._flush_stats()
        self._flush_rows()
        for w in (self._meta_writer, self._data_writer):
            if w is not None:
                w.close()
        for v in self._videos.values():
            v.close()
        order = self.tasks.ordered()
        tasks = pa.table({"task_index": [i for i, _ in order], "task": [t for _, t in order]})
        index_meta = {"index_columns": ["task"], "column_indexes": [], "columns": [], "pandas_version": "2.3.3"}
        index_meta["columns"] = [
            {"name": "task_index", "field_name": "task_index", "pandas_type": "int64", "numpy_type": "int64"},
            {"name": "task", "field_name": "task", "pandas_type": "unicode", "numpy_type": "object"},
        ]
        # pandas metadata so `pd.read_parquet` restores `task` as the index (lerobot `load_tasks`)
        pq.write_table(
            tasks.replace_schema_metadata({b"pandas": json.dumps(index_meta).encode()}), self.root / TASKS_PATH_V30
        )
        stats = self.stats or {}
        if (masked := self.masked) is not None:
            stats = stats | as_lerobot(masked.all, stats, self.num_frames)
            masked.write_sidecar(self.root)
        (self.root / STATS_PATH_V30).write_text(json.dumps(jsonable(stats), indent=4), encoding="utf-8")
        info = info_v30(
            fps=self.fps,
            features=self.features,
            total_episodes=self.num_episodes,
            total_frames=self.num_frames,
            total_tasks=len(self.tasks),
            robot_type=self.robot_type,
            splits=splits or {"train": f"0:{self.num_episodes}"},
            data_files_size_in_mb=self.data_mb,
            video_files_size_in_mb=self.video_mb,
        )
        (self.root / INFO_PATH_V30).write_text(json.dumps(info, indent=4, ensure_ascii=False), encoding="utf-8")
        return info

    def abort(self) -> None:
        for v in self._videos.values():
            v.abort()
        for w in (self._meta_writer, self._data_writer):
            if w is not None:
                with contextlib.suppress(Exception):  # the folder is removed by the caller
                    w.close()
