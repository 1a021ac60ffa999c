"""LeRobot v3.0 export throughput: ours (`eidata export --format lerobot-v3`) vs lerobot 0.6.1's own converter
(`python -m lerobot.scripts.convert_dataset_v21_to_v30`) vs copying the bytes (read + write), on one v2.1 dataset
all can read.

The converter cannot read a v2.1 dataset with a multi-dimensional feature (jobs/export/README.md), so the dataset has
only 1-D features: a 224x224 camera (camera-like footage, `benchmarks.footage`, encoded once as lerobot 0.3.3 does:
libsvtav1 yuv420p g=2 crf=30, then reused by every episode), a 50-dim state and action, lerobot's index columns, at
10 fps, with its tasks, episodes and episode stats files. Each contestant runs in its own subprocess on its own copy;
CPU = the child's user + sys seconds (`getrusage(RUSAGE_CHILDREN)`); hours of data per core-minute = (frames / fps /
3600) / (CPU s / 60). lerobot 0.6.1 runs from its venv (`.venv-oracle-v30`, `make oracle-v30`); without it that
contestant is left out and the JSON says so. `--before CHECKOUT`: the export of an earlier commit's checkout runs
on the same data too, and its files are compared with ours byte for byte. Progress on stderr, one JSON object on
the last stdout line.

    .venv/bin/python -m benchmarks.export_v3 [--episodes 100] [--frames 300] [--size 224] [--before CHECKOUT]
    .venv/bin/python -m benchmarks.export_v3 --smoke
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from adapters.lerobot_format.stats import numeric_stats
from benchmarks._cli import parse_args
from benchmarks._machine import ROOT, log, machine_busy_s
from benchmarks.footage import footage
from ingest.lerobot.image_stats import ImageStats
from ingest.lerobot.table import arrow_schema, to_arrow
from ingest.lerobot.video import VideoCodec, VideoEncoder, probe_video_info
from schemas.lerobot_features import FeatureSpec

VENV_V30 = Path(os.environ.get("EIDATA_ORACLE_V30_VENV", ROOT / ".venv-oracle-v30"))
FPS = 10
CAM = "observation.images.head"
# the byte-copy floor: every file read and written (`cp` may clone extents on a copy-on-write filesystem instead)
COPY = (
    "import pathlib, sys\n"
    "src, dst = map(pathlib.Path, sys.argv[1:])\n"
    "for p in src.rglob('*'):\n"
    "    if p.is_file():\n"
    "        q = dst / p.relative_to(src); q.parent.mkdir(parents=True, exist_ok=True); q.write_bytes(p.read_bytes())\n"
)


def _features(size: int) -> dict[str, FeatureSpec]:
    f = {
        CAM: {"dtype": "video", "shape": [size, size, 3], "names": ["height", "width", "channels"]},
        "observation.state": {"dtype": "float32", "shape": [50], "names": [f"s{i}" for i in range(50)]},
        "action": {"dtype": "float32", "shape": [50], "names": [f"a{i}" for i in range(50)]},
    }
    for name, dtype in (
        ("timestamp", "float32"),
        *((k, "int64") for k in ("frame_index", "episode_index", "index", "task_index")),
    ):
        f[name] = {"dtype": dtype, "shape": [1], "names": None}
    return {k: FeatureSpec.model_validate(v) for k, v in f.items()}


def write_v21(root: Path, episodes: int, frames: int, size: int) -> int:
    """A v2.1 dataset of `episodes` x `frames`; returns the total frame count."""
    feats = _features(size)
    video = root / "episode.mp4"
    root.mkdir(parents=True)
    enc = VideoEncoder(video, size, size, FPS, VideoCodec())
    cam_stats = ImageStats(size, size)
    for rgb in footage(size, size, frames):
        enc.encode(rgb)
        cam_stats.add(rgb)
    enc.close()
    cam = cam_stats.finish().to_json()
    feats[CAM].info = probe_video_info(video).model_dump(by_alias=True)
    schema = arrow_schema(feats)
    rng = np.random.default_rng(0)
    state = np.cumsum(rng.normal(scale=0.02, size=(frames, 50)), axis=0).astype(np.float32)
    cols = {"observation.state": state, "action": state + np.float32(0.01), "timestamp": np.arange(frames) / FPS}
    cols["timestamp"] = cols["timestamp"].astype(np.float32)
    cols |= {"frame_index": np.arange(frames), "task_index": np.zeros(frames, dtype=np.int64)}
    eps, stats = [], []
    for e in range(episodes):
        cols |= {"episode_index": np.full(frames, e), "index": np.arange(e * frames, (e + 1) * frames)}
        table = pa.table({k: to_arrow(np.asarray(cols[k]), schema.field(k).type) for k in schema.names}, schema=schema)
        path = root / f"data/chunk-{e // 1000:03d}/episode_{e:06d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        vpath = root / f"videos/chunk-{e // 1000:03d}/{CAM}/episode_{e:06d}.mp4"
        vpath.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(video, vpath)
        eps.append({"episode_index": e, "tasks": ["pick up the cube"], "length": frames})
        st = {k: numeric_stats(np.asarray(cols[k])).to_json() for k in schema.names}
        stats.append({"episode_index": e, "stats": {CAM: cam, **st}})
    video.unlink()
    info = {
        "codebase_version": "v2.1",
        "robot_type": "bench",
        "total_episodes": episodes,
        "total_frames": episodes * frames,
        "total_tasks": 1,
        "total_videos": episodes,
        "total_chunks": (episodes - 1) // 1000 + 1,
        "chunks_size": 1000,
        "fps": FPS,
        "splits": {"train": f"0:{episodes}"},
        "data_path": "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
        "video_path": "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4",
        "features": {k: f.to_json() for k, f in feats.items()},
    }
    meta = root / "meta"
    meta.mkdir()
    (meta / "info.json").write_text(json.dumps(info, indent=4))
    (meta / "tasks.jsonl").write_text(json.dumps({"task_index": 0, "task": "pick up the cube"}) + "\n")
    (meta / "episodes.jsonl").write_text("".join(json.dumps(e) + "\n" for e in eps))
    (meta / "episodes_stats.jsonl").write_text("".join(json.dumps(s) + "\n" for s in stats))
    return episodes * frames


def _timed(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load0 = os.getloadavg()[0]
    busy0, t0 = machine_busy_s(), time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "other_cores": round((machine_busy_s() - busy0 - cpu) / wall, 2),
        "loadavg_1m": [round(load0, 1), round(os.getloadavg()[0], 1)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--frames", type=int, default=300, help="frames per episode (10 fps)")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--before", type=Path, help="a checkout of an earlier commit: its export runs too, same data")
    args = parse_args(parser, {"episodes": 3, "frames": 20, "size": 64}, "3 episodes of 20 frames at 64x64")
    with tempfile.TemporaryDirectory(prefix="eidata-export-v3-") as d:
        tmp = Path(d)
        src = tmp / "corpus" / "datasets" / "bench" / "ds"
        log(f"writing a v2.1 dataset: {args.episodes} x {args.frames} frames, {args.size}px")
        frames = write_v21(src, args.episodes, args.frames, args.size)
        size_mb = sum(p.stat().st_size for p in src.rglob("*") if p.is_file()) / 2**20
        hours = frames / FPS / 3600
        runs: dict[str, object] = {}
        log("copy (read + write every byte)")
        runs["copy"] = _timed([sys.executable, "-c", COPY, str(src), str(tmp / "copied")])
        log("ours")
        export = [sys.executable, "-m", "jobs.cli", "export", str(tmp / "corpus"), "--format", "lerobot-v3", "--out"]
        runs["ours"] = _timed([*export, str(tmp / "ours")], cwd=ROOT)
        if args.before is not None:
            log(f"ours at {args.before}")
            runs["ours_before"] = _timed([*export, str(tmp / "before")], cwd=args.before)
            ours = [p for p in (tmp / "ours").rglob("*") if p.is_file() and p.name != ".eidata-export.json"]
            same = all((tmp / "before" / p.relative_to(tmp / "ours")).read_bytes() == p.read_bytes() for p in ours)
            runs["ours_before"]["files_identical_to_ours"] = same
        if (VENV_V30 / "bin" / "python").exists():
            conv = tmp / "theirs"
            shutil.copytree(src, conv)
            env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
            env |= {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp / "hf"), "HF_LEROBOT_HOME": str(tmp / "hf" / "lr")}
            log("lerobot 0.6.1 convert_dataset_v21_to_v30")
            runs["lerobot061_converter"] = _timed(
                [
                    str(VENV_V30 / "bin" / "python"),
                    "-m",
                    "lerobot.scripts.convert_dataset_v21_to_v30",
                    "--repo-id",
                    "local/x",
                    "--root",
                    str(conv),
                    "--push-to-hub",
                    "false",
                ],
                env=env,
                cwd=tmp,
            )
            theirs = json.loads((conv / "meta" / "info.json").read_text())
            assert theirs["total_frames"] == frames, theirs["total_frames"]
        else:
            runs["lerobot061_converter"] = f"not run: no {VENV_V30} (make oracle-v30)"
        ours_info = json.loads((tmp / "ours" / "bench" / "ds" / "meta" / "info.json").read_text())
        assert ours_info["total_frames"] == frames
    for r in runs.values():
        if isinstance(r, dict):
            r["hours_per_core_minute"] = round(hours / (r["cpu_s"] / 60), 2) if r["cpu_s"] > 0 else None
            r["hours_per_wall_minute"] = round(hours / (r["wall_s"] / 60), 2)
    result = {
        "benchmark": "export_v3",
        "episodes": args.episodes,
        "frames": frames,
        "hours": round(hours, 4),
        "dataset_mb": round(size_mb, 1),
        **runs,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
