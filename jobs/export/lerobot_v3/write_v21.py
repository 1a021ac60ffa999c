"""Write one LeRobot v2.1 dataset from episodes of canonical v2.1 datasets, in the consumer layout, as lerobot 0.3.3
lays one out: the same plans and episode reader as the v3.0 writer (`write.py`), one file per episode (why:
jobs/export/README.md, "LeRobot v2.1").

Parquet arrow types and `huggingface` metadata as lerobot 0.3.3 writes them (`ingest/lerobot/table.py`); each video the
source episode's file byte for byte, or its frames at the exported size where the plan resizes it
(`jobs/export/resize.py`); `meta/episodes.jsonl` with the plan's episode columns as extra keys (lerobot 0.3.3 keeps
them in `meta.episodes`); episode stats recomputed where the values changed (`adapters/lerobot_format/stats.py`, lerobot
0.3.3's definitions); `meta/info.json` last. Memory: one episode at a time.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from adapters.lerobot_format.stats import numeric_stats
from ingest.lerobot.table import arrow_schema, column_numpy
from jobs.export.lerobot_v3.episodes import EpisodeRef
from jobs.export.lerobot_v3.masked_stats import MaskedStats
from jobs.export.lerobot_v3.plan import ExportPlan
from jobs.export.lerobot_v3.write import ExportWriter, read_episode
from jobs.export.resize import codec_of, resize_video
from schemas.lerobot import (
    DATA_PATH,
    DEFAULT_CHUNK_SIZE,
    EPISODES_PATH,
    EPISODES_STATS_PATH,
    INFO_PATH,
    TASKS_PATH,
    VIDEO_PATH,
    EpisodeEntry,
    EpisodeStatsEntry,
    FeatureStats,
    InfoJson,
    TaskEntry,
    dump_info,
    dump_jsonl_line,
)
from schemas.lerobot_features import FeatureSpec, video_keys

RENUMBERED = ("episode_index", "index", "task_index")


class V21Writer(ExportWriter):
    """Accumulates episodes into a v2.1 dataset at `root` (a fresh folder); `finish()` writes tasks and info last.
    The interface is `V30Writer`'s (`tasks`, `add`, `finish`, `abort`, `on_file`)."""

    def __init__(
        self, root: Path, plan: ExportPlan, data_mb: int = 0, video_mb: int = 0, masked: MaskedStats | None = None
    ) -> None:
        """The writer of `plan`'s dataset into `root` (v2.1 has a file per episode: the size limits do not apply);
        `masked`: a manifest's statistics of its masked features (unused dims filled, stats_by_embodiment.json)."""
        super().__init__(root, plan, masked)
        self.features = {k: FeatureSpec.model_validate(ft) for k, ft in plan.layout.features.items()}
        self.cameras = video_keys(self.features)
        self.schema = arrow_schema(self.features)
        (self.root / "meta").mkdir(parents=True, exist_ok=True)
        self._episodes = (self.root / EPISODES_PATH).open("w", encoding="utf-8")
        self._stats = (self.root / EPISODES_STATS_PATH).open("w", encoding="utf-8")

    def _put(self, rel: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def add(self, ref: EpisodeRef) -> None:
        ep = self.num_episodes
        chunk = ep // DEFAULT_CHUNK_SIZE
        frames = read_episode(ref, self.layout, self.tasks, ep, self.num_frames)
        table, filled = frames.table.cast(self.schema), set()
        if self.masked is not None:
            table, filled = self.masked.fill_unused(ref, table)
        data = self._put(DATA_PATH.format(episode_chunk=chunk, episode_index=ep))
        pq.write_table(table, data, compression="snappy", row_group_size=max(table.num_rows, 1))
        self._finished(data)
        resized: dict[str, FeatureStats] = {}
        for key in self.cameras:  # the episode's mp4 as it is, or its frames resized
            video = self._put(VIDEO_PATH.format(episode_chunk=chunk, video_key=key, episode_index=ep))
            src = ref.source.video_file(ref.episode_index, ref.camera(key))
            if (fit := ref.resize.get(key)) is None:
                ref.source.corpus.copy_to(src, video)
            else:
                with ref.source.corpus.open_file(src) as f:
                    codec = codec_of(self.layout.features[key])
                    resized[key] = resize_video(f, video, fit, self.fps, codec)
            self._finished(video)
        entry = EpisodeEntry(episode_index=ep, tasks=frames.tasks, length=table.num_rows, **ref.extra)
        self._episodes.write(dump_jsonl_line(entry.to_json()))
        stats = EpisodeStatsEntry(episode_index=ep, stats=self._episode_stats(ref, table, filled) | resized)
        self._stats.write(dump_jsonl_line(stats.to_json()))
        self.num_episodes += 1
        self.num_frames += table.num_rows

    def _episode_stats(self, ref: EpisodeRef, table: pa.Table, filled: set[str]) -> dict[str, FeatureStats]:
        """The source episode's stats where the values are the source's, recomputed where they changed (`filled`:
        the features whose unused dims were filled)."""
        source = ref.stats
        by_key = {c.key: c for c in self.layout.columns}
        out: dict[str, FeatureStats] = {}
        for key, ft in self.features.items():
            col = by_key.get(key)
            kept = source.get(ref.camera(key) if col is None else col.source)  # a slot's: its camera's stats
            if ft.is_video:
                if kept is None:
                    raise ValueError(f"{ref.source.root}: episode {ref.episode_index} has no stats for camera {key!r}")
                out[key] = FeatureStats.model_validate(kept)
            elif kept is None or key in RENUMBERED or key in filled or (col is not None and col.reshaped):
                out[key] = numeric_stats(column_numpy(table.column(key), ft.shape))
            else:
                out[key] = FeatureStats.model_validate(kept)
        return out

    def finish(self, splits: dict[str, str] | None = None) -> dict[str, Any]:
        """Close the meta files and write tasks and info (info last); returns the info written. A manifest's masked
        statistics go to `stats_by_embodiment.json` (lerobot 0.3.3 reads a v2.1 dataset's stats from its episodes
        only)."""
        if self.num_episodes == 0:
            raise ValueError("no episode to export")
        for f in (self._episodes, self._stats):  # a bucket --out puts the meta files with the tree's end
            f.close()
        if self.masked is not None:
            self.masked.write_sidecar(self.root)
        tasks = "".join(dump_jsonl_line(TaskEntry(task_index=i, task=t).to_json()) for i, t in self.tasks.ordered())
        (self.root / TASKS_PATH).write_text(tasks, encoding="utf-8")
        info = InfoJson(
            robot_type=self.robot_type,
            total_episodes=self.num_episodes,
            total_frames=self.num_frames,
            total_tasks=len(self.tasks),
            total_videos=self.num_episodes * len(self.cameras),
            total_chunks=(self.num_episodes - 1) // DEFAULT_CHUNK_SIZE + 1,
            fps=self.fps,
            splits=splits or {"train": f"0:{self.num_episodes}"},
            data_path=DATA_PATH,
            video_path=VIDEO_PATH if self.cameras else None,
            features=self.features,
        )
        (self.root / INFO_PATH).write_text(dump_info(info), encoding="utf-8")
        return json.loads(dump_info(info))

    def abort(self) -> None:
        for f in (self._episodes, self._stats):
            with contextlib.suppress(Exception):  # the folder is removed by the caller
                f.close()
