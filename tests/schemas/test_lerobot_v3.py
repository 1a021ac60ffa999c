"""LeRobot v3.0 layout (schemas/lerobot_v3.py, lerobot 0.6.1's values): file indices roll over into the next chunk,
path templates sort as the indices do, a v2.1 feature table becomes v3.0 without touching the input, and info.json
comes out in lerobot's key order. (The whole export is checked against lerobot's own writer in
tests/jobs/export/lerobot_v3/.)"""

from __future__ import annotations

import pytest

from schemas.lerobot_features import default_features, features_v30
from schemas.lerobot_v3 import CHUNK_SIZE, DATA_PATH_V30, VIDEO_PATH_V30, info_v30, next_chunk_file

# lerobot 0.6.1 `DatasetInfo.to_dict()` key order (src/lerobot/datasets/utils.py `DatasetInfo`)
INFO_KEYS = (
    "codebase_version",
    "fps",
    "features",
    "total_episodes",
    "total_frames",
    "total_tasks",
    "chunks_size",
    "data_files_size_in_mb",
    "video_files_size_in_mb",
    "data_path",
    "video_path",
    "robot_type",
    "splits",
)


@pytest.mark.parametrize("chunks_size", [1, 3, CHUNK_SIZE])
def test_next_chunk_file_counts_every_file_once(chunks_size: int) -> None:
    at = (0, 0)
    for n in range(1, 2 * chunks_size + 5):
        at = next_chunk_file(*at, chunks_size=chunks_size)
        assert at == divmod(n, chunks_size)  # the n-th file: chunk n // size, file n % size


def test_paths_sort_in_file_order() -> None:
    """Three-digit indices hold a whole chunk of CHUNK_SIZE files, so listing a folder gives the files in order."""
    at, paths = (0, 0), []
    for _ in range(CHUNK_SIZE + 2):
        paths.append(DATA_PATH_V30.format(chunk_index=at[0], file_index=at[1]))
        at = next_chunk_file(*at)
    assert paths == sorted(paths) and len(set(paths)) == len(paths)
    assert paths[-1] == "data/chunk-001/file-001.parquet"
    assert VIDEO_PATH_V30.format(video_key="observation.images.top", chunk_index=2, file_index=7) == (
        "videos/observation.images.top/chunk-002/file-007.mp4"
    )


def _features() -> dict:
    video = {
        "dtype": "video",
        "shape": [96, 128, 3],
        "names": ["height", "width", "channels"],
        "info": {"video.fps": 10},
    }
    state = {"dtype": "float32", "shape": [6], "names": [f"m{i}" for i in range(6)]}
    plain = {k: v.model_dump(mode="json", exclude_none=True) for k, v in default_features().items()}
    return {"observation.images.top": video, "observation.state": state, **plain}


@pytest.mark.parametrize("with_video", [True, False])
def test_info_in_lerobots_key_order(with_video: bool) -> None:
    features = features_v30(_features(), fps=30)
    if not with_video:
        features = {k: v for k, v in features.items() if v["dtype"] != "video"}
    info = info_v30(
        fps=30.0,  # type: ignore[arg-type]
        features=features,
        total_episodes=2,
        total_frames=40,
        total_tasks=1,
        robot_type="so101_follower",
        splits={"train": "0:2"},
    )
    assert tuple(info) == INFO_KEYS and info["codebase_version"] == "v3.0"
    assert info["fps"] == 30 and isinstance(info["fps"], int)
    assert (info["video_path"] == VIDEO_PATH_V30) is with_video and (info["video_path"] is None) is (not with_video)
    assert "total_chunks" not in info and "total_videos" not in info  # dropped by lerobot's convert_info
