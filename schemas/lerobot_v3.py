"""LeRobot dataset format v3.0: paths, limits and `meta/info.json`, as lerobot 0.6.1 writes them.

Taken from lerobot 0.6.1 (`src/lerobot/datasets/utils.py`: DEFAULT_CHUNK_SIZE, DEFAULT_DATA_FILE_SIZE_IN_MB,
DEFAULT_VIDEO_FILE_SIZE_IN_MB, the *_PATH templates, `DatasetInfo` and its field order, `update_chunk_file_indices`;
`scripts/convert_dataset_v21_to_v30.py` `convert_info`: a v2.1 info becomes v3.0 by dropping total_chunks and
total_videos, adding the size limits and templates, and `fps` on every non-video feature), and checked against a
dataset its own writer produced (`tests/jobs/export/lerobot_v3/test_job.py`).
"""

from __future__ import annotations

from typing import Any

from schemas.lerobot_features import video_keys

CODEBASE_VERSION_V30 = "v3.0"
CHUNK_SIZE = 1000  # files per chunk folder
DATA_FILE_SIZE_IN_MB = 100
VIDEO_FILE_SIZE_IN_MB = 200

DATA_PATH_V30 = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH_V30 = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH_V30 = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
TASKS_PATH_V30 = "meta/tasks.parquet"
STATS_PATH_V30 = "meta/stats.json"
INFO_PATH_V30 = "meta/info.json"


def next_chunk_file(chunk_index: int, file_index: int, chunks_size: int = CHUNK_SIZE) -> tuple[int, int]:
    """lerobot's `update_chunk_file_indices`: the next file, in the next chunk once a chunk holds `chunks_size`."""
    if file_index == chunks_size - 1:
        return chunk_index + 1, 0
    return chunk_index, file_index + 1


def info_v30(
    *,
    fps: int,
    features: dict[str, Any],
    total_episodes: int,
    total_frames: int,
    total_tasks: int,
    robot_type: str | None,
    splits: dict[str, str],
    data_files_size_in_mb: int = DATA_FILE_SIZE_IN_MB,
    video_files_size_in_mb: int = VIDEO_FILE_SIZE_IN_MB,
) -> dict[str, Any]:
    """v3.0 `meta/info.json` in `DatasetInfo.to_dict()`'s key order."""
    return {
        "codebase_version": CODEBASE_VERSION_V30,
        "fps": int(fps),
        "features": features,
        "total_episodes": total_episodes,
        "total_frames": total_frames,
        "total_tasks": total_tasks,
        "chunks_size": CHUNK_SIZE,
        "data_files_size_in_mb": data_files_size_in_mb,
        "video_files_size_in_mb": video_files_size_in_mb,
        "data_path": DATA_PATH_V30,
        "video_path": VIDEO_PATH_V30 if video_keys(features) else None,
        "robot_type": robot_type,
        "splits": splits,
    }
