"""Small LeRobot v3.0 datasets in lerobot 0.4's layout, and a torn parquet in any LeRobot v2.x dataset.

`write_lerobot_v3` writes what lerobot >= 0.4 leaves on disk (lerobot v0.4.4 `src/lerobot/datasets/utils.py`):
`meta/info.json` (v3 path templates, per-feature `fps`, `data_files_size_in_mb`, no `total_chunks` / `total_videos`),
`meta/tasks.parquet` (a pandas frame indexed by the task string), `meta/episodes/chunk-000/file-000.parquet` (episode
rows with `data/*`, `videos/<key>/*`, `dataset_from_index` / `dataset_to_index`, flattened `stats/<feature>/<stat>`),
one data parquet for every episode's rows, and per camera one mp4 of every episode: each encoded on its own (libx264,
yuv420p), then concatenated by stream copy, as lerobot's converter does with ffmpeg's concat demuxer;
`from_timestamp` is the running sum of episode durations. Deterministic for a seed. `tear_parquet` damages a v2.x
dataset (any spelling of its path templates) as the demo's bad LeRobot episode: an unreadable parquet (the tests'
other faults: `tests/fixtures/corrupt.py` `inject_fault`).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from adapters.synthetic.arrays import truncate
from adapters.synthetic.video import synthetic_frames, write_mp4
from schemas.lerobot import fill_path_template
from schemas.lerobot_features import FeatureSpec, VideoInfo, camera_feature, default_features

V3_CAMERAS: dict[str, tuple[int, int]] = {"observation.images.top": (48, 64), "observation.images.wrist_left": (48, 64)}
V3_TASKS = ("pick up the red cube", "open the top drawer")


@dataclass
class WrittenV3:
    """What `write_lerobot_v3` wrote, per episode, for comparisons."""

    root: Path
    fps: int
    lengths: list[int]
    states: list[np.ndarray] = field(default_factory=list)  # (T, D) float32
    actions: list[np.ndarray] = field(default_factory=list)
    frames: dict[str, list[np.ndarray]] = field(default_factory=dict)  # camera -> per episode (T, H, W, 3) uint8
    tasks: list[str] = field(default_factory=list)


def _concat(parts: list[Path], out: Path) -> None:
    """Stream-copy concatenation: each part's packets shifted by the durations of the parts before it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(out), "w") as dst:
        ostream, offset = None, 0
        for part in parts:
            with av.open(str(part)) as src:
                s = src.streams.video[0]
                ostream = ostream or dst.add_stream_from_template(s)
                end = offset
                for p in src.demux(s):
                    if p.dts is None:
                        continue
                    p.pts, p.dts = p.pts + offset, p.dts + offset
                    end = max(end, p.pts + p.duration)
                    p.stream = ostream
                    dst.mux(p)
                offset = end


def _vectors(values: np.ndarray) -> pa.Array:
    return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), values.shape[1])


def write_lerobot_v3(
    root: Path,
    lengths: tuple[int, ...] = (8, 11, 6),
    *,
    fps: int = 10,
    cameras: dict[str, tuple[int, int]] = V3_CAMERAS,
    seed: int = 0,
    names: list[str] | None = None,
    robot_type: str = "so100_follower",
    vectors: Callable[[int, int], tuple[np.ndarray, np.ndarray]] | None = None,
) -> WrittenV3:
    """A v3.0 dataset; `names`: the state/action component names (default `joint_<i>`); `vectors(episode, n)`: an
    episode's (state, action) rows (default random); `tests/fixtures/corrupt.py` `break_lerobot_v3` damages one."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    out = WrittenV3(root, fps, list(lengths), frames={k: [] for k in cameras})
    n_total = sum(lengths)
    state_dim = len(names) if names is not None else 6
    for ep, n in enumerate(lengths):
        if vectors is not None:
            state, action = vectors(ep, n)
            out.states.append(np.asarray(state, np.float32))
            out.actions.append(np.asarray(action, np.float32))
            assert out.states[-1].shape == out.actions[-1].shape == (n, state_dim)
        else:
            base = rng.normal(size=state_dim).astype(np.float32)
            out.states.append((base + 0.01 * np.arange(n)[:, None]).astype(np.float32))
            out.actions.append(rng.normal(size=(n, state_dim)).astype(np.float32))
        out.tasks.append(V3_TASKS[ep % len(V3_TASKS)])
        for key, (h, w) in cameras.items():
            out.frames[key].append(np.stack(synthetic_frames(n, h, w, seed * 100 + ep)))

    # data/chunk-000/file-000.parquet: every episode's rows, `index` global
    task_ids = {t: i for i, t in enumerate(V3_TASKS)}
    data = pa.table(
        {
            "observation.state": _vectors(np.concatenate(out.states)),
            "action": _vectors(np.concatenate(out.actions)),
            "timestamp": pa.array(np.concatenate([np.arange(n) / fps for n in lengths]).astype(np.float32)),
            "frame_index": pa.array(np.concatenate([np.arange(n) for n in lengths]).astype(np.int64)),
            "episode_index": pa.array(np.repeat(np.arange(len(lengths)), lengths).astype(np.int64)),
            "index": pa.array(np.arange(n_total, dtype=np.int64)),
            "task_index": pa.array(np.repeat([task_ids[t] for t in out.tasks], lengths).astype(np.int64)),
        }
    )
    (root / "data/chunk-000").mkdir(parents=True, exist_ok=True)
    pq.write_table(data, root / "data/chunk-000/file-000.parquet")

    # videos/<key>/chunk-000/file-000.mp4: episodes encoded one by one, then concatenated by stream copy
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        for key in cameras:
            parts = []
            for ep, frames in enumerate(out.frames[key]):
                parts.append(Path(tmp) / f"{key}_{ep}.mp4")
                write_mp4(parts[-1], frames, fps, crf=12)
            _concat(parts, root / f"videos/{key}/chunk-000/file-000.mp4")

    # meta/episodes/chunk-000/file-000.parquet
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    rows: dict[str, list] = {
        "episode_index": list(range(len(lengths))),
        "tasks": [[t] for t in out.tasks],
        "length": list(lengths),
        "data/chunk_index": [0] * len(lengths),
        "data/file_index": [0] * len(lengths),
        "dataset_from_index": starts.tolist(),
        "dataset_to_index": (starts + np.asarray(lengths)).tolist(),
    }
    for key in cameras:
        rows[f"videos/{key}/chunk_index"] = [0] * len(lengths)
        rows[f"videos/{key}/file_index"] = [0] * len(lengths)
        rows[f"videos/{key}/from_timestamp"] = (starts / fps).tolist()
        rows[f"videos/{key}/to_timestamp"] = ((starts + np.asarray(lengths)) / fps).tolist()
    for name, values in (("observation.state", out.states), ("action", out.actions)):
        for stat, fn in (("min", np.min), ("max", np.max), ("mean", np.mean), ("std", np.std)):
            rows[f"stats/{name}/{stat}"] = [fn(v, axis=0).astype(np.float64).tolist() for v in values]
        rows[f"stats/{name}/count"] = [[len(v)] for v in values]
    rows["meta/episodes/chunk_index"] = [0] * len(lengths)
    rows["meta/episodes/file_index"] = [0] * len(lengths)
    (root / "meta/episodes/chunk-000").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(rows), root / "meta/episodes/chunk-000/file-000.parquet")

    # meta/tasks.parquet: as lerobot writes it, a pandas frame indexed by the task string, the index named "task"
    # (huggingface/lerobot datasets/dataset_metadata.py, `pd.Index(tasks, name="task")`)
    tasks_frame = pd.DataFrame({"task_index": list(task_ids.values())}, index=pd.Index(list(task_ids), name="task"))
    tasks_frame.to_parquet(root / "meta/tasks.parquet")

    probe = {"codec": "h264", "pix_fmt": "yuv420p", "fps": fps, "channels": 3}
    features = {
        k: camera_feature(h, w, VideoInfo(height=h, width=w, **probe).to_json()) for k, (h, w) in cameras.items()
    }
    names = names if names is not None else [f"joint_{i}" for i in range(state_dim)]
    vector = FeatureSpec(dtype="float32", shape=(state_dim,), names=names)
    features |= {"observation.state": vector, "action": vector, **default_features()}
    # fps on every feature but the cameras, lerobot's converter's (`convert_info`)
    features_json = {k: ft.to_json() | ({} if ft.is_video else {"fps": fps}) for k, ft in features.items()}
    info = {
        "codebase_version": "v3.0",
        "robot_type": robot_type,
        "total_episodes": len(lengths),
        "total_frames": n_total,
        "total_tasks": len(task_ids),
        "chunks_size": 1000,
        "data_files_size_in_mb": 100,
        "video_files_size_in_mb": 200,
        "fps": fps,
        "splits": {"train": f"0:{len(lengths)}"},
        "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
        "video_path": "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4",
        "features": features_json,
    }
    (root / "meta/info.json").write_text(json.dumps(info, indent=4), encoding="utf-8")
    stats = {k: {"mean": np.concatenate(v).mean(0).tolist()} for k, v in (("observation.state", out.states),)}
    (root / "meta/stats.json").write_text(json.dumps(stats, indent=4), encoding="utf-8")
    return out


def tear_parquet(root: Path, episode: int = 0) -> Path:
    """A torn write of one episode's parquet in a v2.x dataset, in place (half its bytes: no footer); returns it."""
    root = Path(root)
    info = json.loads((root / "meta/info.json").read_text(encoding="utf-8"))
    data = root / fill_path_template(info["data_path"], episode, episode // info.get("chunks_size", 1000))
    return truncate(data)
