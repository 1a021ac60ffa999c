"""Quantile stats over many episodes: ours (`adapters/lerobot_format/stats.py`) vs lerobot 0.6.1's own stats code.

The episodes (a 50-dim state and a 50-dim action, lerobot's five index columns, and a 64-float `observation.native`
column that stats do not need, so reading only the numeric columns the stats use is part of the measure) are
written twice: as v2.1 (one parquet file per episode, the corpus format) and as v3.0 (many episodes per file, one
row group per episode, as lerobot's writer and our export lay them out). Contestants, interleaved in each round:
- `floor-v21` / `floor-v30`: reading alone (the numeric columns to numpy, memory-mapped, one thread), nothing else;
- `episode-v21`: `episode_stats` one episode at a time, then `aggregate_stats` over the list: the path
  before batching;
- `batch-v21` / `batch-v30`: `batch_stats` over batches of about `--batch-rows` rows (many files or
  row groups read per batch), each batch aggregated at once (`aggregate_arrays` per feature), the batches
  pooled pairwise;
- lerobot 0.6.1's `compute_episode_stats` per episode, then `aggregate_stats` over the list, as its quantile script
  (`augment_dataset_quantile_stats.py`) does, on the v2.1 files in its own venv (`.venv-oracle-v30`,
  `make oracle-v30`), in a subprocess that times only its loop (imports excluded), on the first episodes.
Rows per second per core = rows / CPU seconds (user + sys of the process, all threads) of the timed loop; each
contestant's best round is kept, with the 1-minute load average around it. Memory stays bounded by one batch (peak
RSS reported). Every aggregate must equal lerobot's (checked, relative 1e-12; the per-episode stats are bit-identical:
`tests/adapters/lerobot_format/stats/`). Progress on stderr, one JSON object on the last stdout line.

    .venv/bin/python -m benchmarks.quantile_stats [--episodes 2000] [--rows 300] [--lerobot-episodes 300] [--rounds 2]
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

from adapters.lerobot_format.stats import aggregate_arrays, aggregate_stats, batch_stats, episode_stats
from benchmarks._cli import parse_args
from benchmarks._machine import ROOT, log, peak_rss_mb

VENV_V30 = Path(os.environ.get("EIDATA_ORACLE_V30_VENV", ROOT / ".venv-oracle-v30"))
STATS_COLUMNS = ["observation.state", "action", "timestamp", "frame_index", "episode_index", "index", "task_index"]
SHAPES = {"observation.state": (50,), "action": (50,)}

# lerobot's side with its own functions, timed from inside its process: per-episode stats, then one aggregate_stats
# over the list, as its quantile script and converter aggregate a whole dataset (lerobot 0.6.1
# scripts/augment_dataset_quantile_stats.py `compute_quantile_stats_for_dataset`, convert_dataset_v21_to_v30.py
# `convert_info`); its writer's running aggregate episode by episode rounds the float32 stds differently (1e-8)
LEROBOT_LOOP = r"""
import pickle, sys, time
import numpy as np, pyarrow.parquet as pq
from lerobot.datasets.compute_stats import aggregate_stats, compute_episode_stats
files, cols, shapes, out = pickle.load(open(sys.argv[1], "rb"))
features = {c: {"dtype": "float32" if c in shapes or c == "timestamp" else "int64", "shape": shapes.get(c, (1,))}
            for c in cols}
t0, c0 = time.perf_counter(), time.process_time()
episodes = []
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
    episodes.append(compute_episode_stats(data, features))
    rows += len(t)
stats = aggregate_stats(episodes)
pickle.dump({"rows": rows, "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
             "stats": stats}, open(out, "wb"))
"""


def write_episodes(folder: Path, episodes: int, rows: int, seed: int = 0) -> tuple[list[Path], list[Path]]:
    """The v2.1 files (one per episode) and the v3.0 files (episodes appended, one row group each, a new file past
    100 MB: lerobot's `DEFAULT_DATA_FILE_SIZE_IN_MB`) of the same episodes."""
    rng = np.random.default_rng(seed)
    (folder / "v21").mkdir(parents=True, exist_ok=True)
    (folder / "v30").mkdir(parents=True, exist_ok=True)
    v21, v30, writer = [], [], None
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
        t = pa.table(table)
        path = folder / "v21" / f"episode_{e:06d}.parquet"
        pq.write_table(t, path)
        v21.append(path)
        if writer is None or v30[-1].stat().st_size > 100e6:
            if writer is not None:
                writer.close()
            v30.append(folder / "v30" / f"file-{len(v30):03d}.parquet")
            writer = pq.ParquetWriter(v30[-1], t.schema)
        writer.write_table(t)
        start += n
    if writer is not None:
        writer.close()
    return v21, v30


def _numpy(table: pa.Table) -> dict[str, np.ndarray]:
    out = {}
    for c in STATS_COLUMNS:
        a = table.column(c)
        a = a.chunk(0) if a.num_chunks == 1 else a.combine_chunks()
        out[c] = a.flatten().to_numpy().reshape(len(a), *SHAPES[c]) if c in SHAPES else a.to_numpy()
    return out


def _read(path: Path) -> pa.Table:
    return pq.read_table(path, columns=STATS_COLUMNS, memory_map=True, use_threads=False)


def _v21_batches(files: list[Path], batch_rows: int):
    tables: list[pa.Table] = []
    for f in files:
        tables.append(_read(f))
        if sum(len(t) for t in tables) >= batch_rows or f == files[-1]:
            yield pa.concat_tables(tables), np.array([len(t) for t in tables])
            tables = []


def _v30_batches(files: list[Path], batch_rows: int):
    """Batches of whole row groups; an episode cut by a batch's end is carried into the next batch."""
    carry: pa.Table | None = None
    for f in files:
        pf = pq.ParquetFile(f, memory_map=True)
        groups = list(range(pf.num_row_groups))
        while groups:
            take, rows = [], 0
            while groups and rows < batch_rows:
                take.append(groups.pop(0))
                rows += pf.metadata.row_group(take[-1]).num_rows
            t = pf.read_row_groups(take, columns=STATS_COLUMNS, use_threads=False)
            t = t if carry is None else pa.concat_tables([carry, t])
            cuts = np.flatnonzero(np.diff(t.column("episode_index").to_numpy())) + 1
            carry = None
            if groups or f != files[-1]:  # more rows to come: hold the last episode back
                if not len(cuts):
                    carry = t
                    continue
                carry, t, cuts = t.slice(int(cuts[-1])), t.slice(0, int(cuts[-1])), cuts[:-1]
            yield t, np.diff(np.r_[0, cuts, len(t)])


def _timed(run) -> dict:
    load0 = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    rows, stats = run()
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    return {"rows": rows, "cpu_s": cpu, "wall_s": wall, "stats": stats, "load": [load0, os.getloadavg()[0]]}


def floor(batches) -> tuple[int, None]:
    rows = 0
    for t, _ in batches:
        rows += len(_numpy(t)["index"])
    return rows, None


def per_episode(files: list[Path]) -> tuple[int, dict]:
    episodes, rows = [], 0
    for f in files:
        t = _read(f)
        episodes.append(episode_stats(_numpy(t)))
        rows += len(t)
    return rows, aggregate_stats(episodes)


def batched(batches) -> tuple[int, dict]:
    running, rows = None, 0
    for t, lengths in batches:
        s = {k: aggregate_arrays(v) for k, v in sorted(batch_stats(_numpy(t), lengths).items())}
        running = s if running is None else aggregate_stats([running, s])
        rows += len(t)
    return rows, running


def lerobot(files: list[Path], tmp: Path) -> dict | None:
    python = VENV_V30 / "bin" / "python"
    if not python.exists():
        return None
    job, out = tmp / "job.pkl", tmp / "lerobot.pkl"
    job.write_bytes(pickle.dumps(([str(f) for f in files], STATS_COLUMNS, SHAPES, str(out))))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")} | {"HF_HUB_OFFLINE": "1"}
    load0 = os.getloadavg()[0]
    subprocess.run([str(python), "-c", LEROBOT_LOOP, str(job)], check=True, env=env, cwd=tmp)
    return pickle.loads(out.read_bytes()) | {"load": [load0, os.getloadavg()[0]]}


def _equal(a: dict, b: dict) -> bool:
    return all(
        np.allclose(np.asarray(a[f][k], dtype=np.float64), np.asarray(b[f][k], dtype=np.float64), rtol=1e-12, atol=0)
        for f in b
        for k in b[f]
    )


def _row(r: dict) -> dict:
    rate = round(r["rows"] / r["cpu_s"])
    load = [round(x, 1) for x in r["load"]]
    return {
        "rows": r["rows"],
        "cpu_s": round(r["cpu_s"], 3),
        "wall_s": round(r["wall_s"], 3),
        "rows_per_s_per_core": rate,
        "loadavg_1m": load,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=300, help="mean rows per episode (+-25%%)")
    parser.add_argument(
        "--lerobot-episodes",
        type=int,
        default=300,
        dest="lerobot_episodes",
        help="episodes lerobot's code runs on (the first ones; it is much slower)",
    )
    parser.add_argument("--batch-rows", type=int, default=50_000, dest="batch_rows", help="rows read at once")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds; each contestant's best is kept")
    args = parse_args(
        parser, {"episodes": 12, "rows": 60, "lerobot_episodes": 6, "batch_rows": 200, "rounds": 1}, "12 short episodes"
    )
    pa.set_cpu_count(1)
    with tempfile.TemporaryDirectory(prefix="eidata-qstats-") as d:
        tmp = Path(d)
        log(f"writing {args.episodes} episodes of ~{args.rows} rows (v2.1 and v3.0)")
        v21, v30 = write_episodes(tmp / "data", args.episodes, args.rows)
        ref = v21[: args.lerobot_episodes]
        contestants = {
            "floor-v21": lambda: floor(_v21_batches(v21, args.batch_rows)),
            "floor-v30": lambda: floor(_v30_batches(v30, args.batch_rows)),
            "episode-v21": lambda: per_episode(v21),
            "batch-v21": lambda: batched(_v21_batches(v21, args.batch_rows)),
            "batch-v30": lambda: batched(_v30_batches(v30, args.batch_rows)),
        }
        best: dict[str, dict] = {}
        for r in range(args.rounds):
            for name, run in contestants.items():
                log(f"round {r + 1}: {name}")
                got = _timed(run)
                if name not in best or got["cpu_s"] < best[name]["cpu_s"]:
                    best[name] = got
        mine_ref = _timed(lambda: batched(_v21_batches(ref, args.batch_rows)))  # on lerobot's episodes
        log(f"lerobot 0.6.1 ({len(ref)} episodes)")
        theirs = lerobot(ref, tmp)
    result = {
        "benchmark": "quantile_stats",
        "episodes": len(v21),
        "v30_files": len(v30),
        "rows": best["batch-v21"]["rows"],
        "columns": STATS_COLUMNS,
        "batch_rows": args.batch_rows,
        "contestants": {name: _row(r) for name, r in best.items()},
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "results_equal_v21_v30_episode": _equal(best["batch-v30"]["stats"], best["batch-v21"]["stats"])
        and _equal(best["episode-v21"]["stats"], best["batch-v21"]["stats"]),
    }
    if theirs is None:
        result["lerobot061"] = f"not run: no {VENV_V30} (make oracle-v30)"
    else:
        result["lerobot061"] = _row(theirs) | {
            "episodes": len(ref),
            "ours_batch_v21_on_same_rows_per_s_per_core": round(mine_ref["rows"] / mine_ref["cpu_s"]),
            "results_equal": _equal(mine_ref["stats"], theirs["stats"]),
        }
    if not result["results_equal_v21_v30_episode"] or (
        theirs is not None and not result["lerobot061"]["results_equal"]
    ):
        log("results differ")
        print(json.dumps(result))
        sys.exit(1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
