"""Quantile stats over many episodes: ours (`ingest/lerobot/stats_v30.py`) vs lerobot 0.6.1's own stats code.

Both read the same episode parquet files (v2.1 layout: a 50-dim state and a 50-dim action, lerobot's five index
columns, and a 64-float `observation.native` column that stats do not need, so reading only the numeric columns the
stats use is part of the measure), one episode at a time, compute lerobot 0.6.1's per-episode stats
(min/max/mean/std/count and q01 q10 q50 q90 q99: `compute_episode_stats`) and aggregate them episode by episode as its
writer does (`aggregate_stats([running, episode])`), so memory stays bounded by one episode. lerobot runs in its own
venv (`.venv-oracle-v30`, `make oracle-v30`) in a subprocess that times only its loop (its imports excluded); ours
runs in this process. Rows per second per core = rows / CPU seconds of the timed loop. The two final aggregates must
be equal (checked); peak RSS is reported for ours. Progress on stderr, one JSON object on the last stdout line.

    .venv/bin/python -m benchmarks.quantile_stats [--episodes 2000] [--rows 300] [--lerobot-episodes 300]
    .venv/bin/python -m benchmarks.quantile_stats --smoke
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks._cli import parse_args
from benchmarks._machine import ROOT, log, peak_rss_mb
from ingest.lerobot.stats_v30 import aggregate_stats, episode_stats

VENV_V30 = Path(os.environ.get("EIDATA_ORACLE_V30_VENV", ROOT / ".venv-oracle-v30"))
STATS_COLUMNS = ["observation.state", "action", "timestamp", "frame_index", "episode_index", "index", "task_index"]
SHAPES = {"observation.state": (50,), "action": (50,)}

# lerobot's side: the same loop with its own functions, timed from inside its process
LEROBOT_LOOP = r"""
import pickle, sys, time
import numpy as np, pyarrow.parquet as pq
from lerobot.datasets.compute_stats import aggregate_stats, compute_episode_stats
files, cols, shapes, out = pickle.load(open(sys.argv[1], "rb"))
features = {c: {"dtype": "float32" if c in shapes or c == "timestamp" else "int64", "shape": shapes.get(c, (1,))}
            for c in cols}
t0, c0 = time.perf_counter(), time.process_time()
running = None
rows = 0
for f in files:
    t = pq.read_table(f, columns=cols)
    data = {}
    for c in cols:
        a = t.column(c).combine_chunks()
        if c in shapes:
            data[c] = a.flatten().to_numpy().reshape(len(t), *shapes[c])
        else:
            data[c] = a.to_numpy()
    s = compute_episode_stats(data, features)
    running = s if running is None else aggregate_stats([running, s])
    rows += len(t)
pickle.dump({"rows": rows, "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
             "stats": running}, open(out, "wb"))
"""


def write_episodes(folder: Path, episodes: int, rows: int, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    start = 0
    for e in range(episodes):
        n = rows + int(rng.integers(-rows // 4, rows // 4 + 1))
        walk = np.cumsum(rng.normal(scale=0.02, size=(n, 50)), axis=0).astype(np.float32)
        cols = {
            "observation.state": walk,
            "action": (walk + rng.normal(scale=0.01, size=(n, 50))).astype(np.float32),
            "observation.native": rng.normal(size=(n, 64)).astype(np.float32),
        }
        table = {k: pa.FixedSizeListArray.from_arrays(pa.array(v.reshape(-1)), v.shape[1]) for k, v in cols.items()}
        table |= {
            "timestamp": pa.array((np.arange(n) / 10).astype(np.float32)),
            "frame_index": pa.array(np.arange(n, dtype=np.int64)),
            "episode_index": pa.array(np.full(n, e, dtype=np.int64)),
            "index": pa.array(np.arange(start, start + n, dtype=np.int64)),
            "task_index": pa.array(np.full(n, e % 7, dtype=np.int64)),
        }
        path = folder / f"episode_{e:06d}.parquet"
        pq.write_table(pa.table(table), path)
        files.append(path)
        start += n
    return files


def ours(files: list[Path]) -> dict:
    t0, c0 = time.perf_counter(), time.process_time()
    running = None
    rows = 0
    for f in files:
        t = pq.read_table(f, columns=STATS_COLUMNS)
        data = {}
        for c in STATS_COLUMNS:
            a = t.column(c).combine_chunks()
            data[c] = a.flatten().to_numpy().reshape(len(t), *SHAPES[c]) if c in SHAPES else a.to_numpy()
        s = episode_stats(data)
        running = s if running is None else aggregate_stats([running, s])
        rows += len(t)
    return {"rows": rows, "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0, "stats": running}


def lerobot(files: list[Path], tmp: Path) -> dict | None:
    python = VENV_V30 / "bin" / "python"
    if not python.exists():
        return None
    job, out = tmp / "job.pkl", tmp / "lerobot.pkl"
    job.write_bytes(pickle.dumps(([str(f) for f in files], STATS_COLUMNS, SHAPES, str(out))))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")} | {"HF_HUB_OFFLINE": "1"}
    subprocess.run([str(python), "-c", LEROBOT_LOOP, str(job)], check=True, env=env, cwd=tmp)
    return pickle.loads(out.read_bytes())


def _equal(a: dict, b: dict) -> bool:
    return all(
        np.allclose(np.asarray(a[f][k], dtype=np.float64), np.asarray(b[f][k], dtype=np.float64), rtol=1e-12, atol=0)
        for f in b
        for k in b[f]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=300, help="mean rows per episode (+-25%%)")
    parser.add_argument("--lerobot-episodes", type=int, default=300, dest="lerobot_episodes",
                        help="episodes lerobot's code runs on (the first ones; it is much slower)")  # fmt: skip
    args = parse_args(parser, {"episodes": 12, "rows": 60, "lerobot_episodes": 6}, "12 short episodes")
    with tempfile.TemporaryDirectory(prefix="eidata-qstats-") as d:
        tmp = Path(d)
        log(f"writing {args.episodes} episodes of ~{args.rows} rows")
        files = write_episodes(tmp / "data", args.episodes, args.rows)
        ref_files = files[: args.lerobot_episodes]
        mine_ref = ours(ref_files)  # on lerobot's subset, to compare results
        log("ours (all episodes)")
        mine = ours(files)
        log(f"lerobot 0.6.1 ({len(ref_files)} episodes)")
        theirs = lerobot(ref_files, tmp)
    result = {
        "benchmark": "quantile_stats",
        "episodes": len(files),
        "rows": mine["rows"],
        "columns": STATS_COLUMNS,
        "ours": {
            "cpu_s": round(mine["cpu_s"], 3),
            "wall_s": round(mine["wall_s"], 3),
            "rows_per_s_per_core": round(mine["rows"] / mine["cpu_s"]),
            "peak_rss_mb": round(peak_rss_mb(), 1),
        },
    }
    if theirs is None:
        result["lerobot061"] = f"not run: no {VENV_V30} (make oracle-v30)"
    else:
        result["lerobot061"] = {
            "episodes": len(ref_files),
            "rows": theirs["rows"],
            "cpu_s": round(theirs["cpu_s"], 3),
            "rows_per_s_per_core": round(theirs["rows"] / theirs["cpu_s"]),
            "ours_on_same_rows_per_s_per_core": round(mine_ref["rows"] / mine_ref["cpu_s"]),
            "results_equal": _equal(mine_ref["stats"], theirs["stats"]),
        }
        result["speedup"] = round(result["lerobot061"]["ours_on_same_rows_per_s_per_core"]
                                  / result["lerobot061"]["rows_per_s_per_core"], 1)  # fmt: skip
        if not result["lerobot061"]["results_equal"]:
            log("results differ from lerobot's")
            print(json.dumps(result))
            sys.exit(1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
