"""What one staged episode adds to a dataset, up to the commit point: its parquet, meta lines and the next info.

The parquet is written inside the episode's staging folder; the part lists the moves out of staging, the jsonl lines
to append and the new tasks, for the commit journal (`ingest.lerobot.journal`) to make durable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from adapters.lerobot_format.stats import numeric_stats
from adapters.storage.atomic import fsync_path
from ingest.lerobot.errors import DatasetError, EpisodeError, StatsOverflowError
from ingest.lerobot.staging import TASK_COLUMN, TIMESTAMP64_COLUMN, StagedEpisode, read_frames
from ingest.lerobot.table import arrow_schema, column_numpy, table_features, to_arrow
from ingest.lerobot.video import probe_video_info
from ingest.lerobot.writer_dir import STAGING
from schemas.lerobot import (
    EPISODES_PATH,
    EPISODES_STATS_PATH,
    TASKS_PATH,
    EpisodeEntry,
    EpisodeStatsEntry,
    InfoJson,
    dump_jsonl_line,
)
from schemas.lerobot_features import FeatureSpec

# the episode's parquet, written in its staging folder by a commit before its journal: a commit killed before its
# journal leaves it there, whole or not, and the next commit of the episode writes it over
STAGED_PARQUET = "data.parquet"


def prepare_part(
    root: Path,
    staged: StagedEpisode,
    info: InfoJson,
    tasks: dict[str, int],
    *,
    user_features: dict[str, FeatureSpec],
    durable: bool,
) -> tuple[dict[str, Any], InfoJson, dict[str, int]]:
    """Everything up to the commit point for one episode, on top of `info`/`tasks` (the dataset as it will be
    after the episodes before it in the group): parquet written in staging, meta lines and the next info."""
    info = info.model_copy(deep=True)
    tasks = dict(tasks)
    ep_index, start = info.total_episodes, info.total_frames
    frames = read_frames(staged.stage_dir)
    n = frames.num_rows
    if n != staged.length:
        raise EpisodeError(f"staged {n} rows but {staged.length} frames", dataset=root.name, episode=staged.label)

    new_tasks = []
    for t in staged.tasks:
        if t not in tasks:
            tasks[t] = len(tasks)
            new_tasks.append({"task_index": tasks[t], "task": t})
    task_lookup = np.array([tasks[t] for t in staged.tasks], dtype=np.int64)
    task_pos = {t: i for i, t in enumerate(staged.tasks)}
    task_col = frames.column(TASK_COLUMN).to_pylist()
    task_index = task_lookup[np.fromiter((task_pos[t] for t in task_col), dtype=np.int64, count=n)]

    columns = {key: column_numpy(frames.column(key), ft.sized) for key, ft in table_features(user_features).items()}
    columns["timestamp"] = frames.column("timestamp").to_numpy()
    columns["frame_index"] = np.arange(n, dtype=np.int64)
    columns["episode_index"] = np.full(n, ep_index, dtype=np.int64)
    columns["index"] = np.arange(start, start + n, dtype=np.int64)
    columns["task_index"] = task_index

    schema = arrow_schema(info.features)
    arrays = [to_arrow(columns[f.name], f.type) for f in schema]
    table = pa.Table.from_arrays(arrays, schema=schema)
    data_rel = info.data_file(ep_index)
    staged_parquet = staged.stage_dir / STAGED_PARQUET
    pq.write_table(table, staged_parquet, compression="snappy", row_group_size=max(n, 1))

    # stats in feature order, as lerobot: cameras from staging, numeric from the columns
    stats_src = {**columns, "timestamp": frames.column(TIMESTAMP64_COLUMN).to_numpy()}
    stats = {
        k: staged.stats[k] if ft.is_video else _stats(root, staged, k, stats_src[k]) for k, ft in info.features.items()
    }

    # journal paths are relative to the dataset root, so a moved or copied dataset (with its subset's) still recovers
    stage_rel = _relative(root, staged.stage_dir)
    moves = [[f"{stage_rel}/{STAGED_PARQUET}", data_rel]]
    moves += [[f"{stage_rel}/{fname}", info.video_file(ep_index, key)] for key, fname in staged.video_files.items()]
    if durable:
        for src, _ in moves:
            fsync_path(root / src)

    if ep_index == 0:  # lerobot probes episode 0's mp4 for each camera's `info`; keys declared beside it stay
        for key, fname in staged.video_files.items():
            probed = probe_video_info(staged.stage_dir / fname).to_json()
            declared = {k: v for k, v in (info.features[key].info or {}).items() if k not in probed}
            info.features[key].info = {**probed, **declared}
    info.total_episodes += 1
    info.total_frames += n
    info.total_tasks = len(tasks)
    info.total_videos += len(staged.video_files)
    info.total_chunks = max(info.total_chunks, info.episode_chunk(ep_index) + 1)
    info.splits = {"train": f"0:{info.total_episodes}"}

    entry = EpisodeEntry(
        episode_index=ep_index, tasks=list(staged.tasks), length=n, action_config=staged.action_config, **staged.extra
    )
    stats_entry = EpisodeStatsEntry(episode_index=ep_index, stats=stats)
    appends = {
        EPISODES_PATH: dump_jsonl_line(entry.to_json()),
        EPISODES_STATS_PATH: dump_jsonl_line(stats_entry.to_json()),
        TASKS_PATH: "".join(dump_jsonl_line(t) for t in new_tasks),
    }
    part = {
        "episode_index": ep_index,
        "stage_dir": stage_rel,
        "moves": moves,
        "appends": appends,
        "episode": entry.to_json(),
        "new_tasks": new_tasks,
    }
    return part, info, tasks


def _stats(root: Path, staged: StagedEpisode, key: str, values: np.ndarray) -> Any:
    """`numeric_stats` of one feature; stats that are not finite are the episode's error, never a stats line."""
    try:
        return numeric_stats(values)
    except ValueError as e:
        raise StatsOverflowError(str(e), dataset=root.name, episode=staged.label, feature=key) from None


def _relative(root: Path, path: Path) -> str:
    """`path` relative to the dataset root: a folder of its own, or a staged folder of a dataset beside it (an episode
    routed to a sibling of another signature is committed from its subset's staging area, `ingest.lerobot.routing`)."""
    root, path = root.resolve(), Path(path).resolve()
    if path.is_relative_to(root):
        return path.relative_to(root).as_posix()
    if path.is_relative_to(root.parent) and path.relative_to(root.parent).parts[1:3] == Path(STAGING).parts:
        return (Path("..") / path.relative_to(root.parent)).as_posix()
    raise DatasetError(f"{path} is not inside the dataset {root} or a staging area beside it; stage episodes there")
