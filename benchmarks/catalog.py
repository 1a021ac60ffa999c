"""Catalog at scale: a synthetic 1M-episode catalog, a typical filter + group-by through `run_query`, and `curate`.

The catalog is generated vectorized (numpy/pyarrow, no per-row Python) with realistic shapes: 50 (source, subset)
groups of Zipf-like sizes over OXE, AgiBot, DROID, EgoDex, Ego4D and LeRobot-style sources, each with its embodiment,
cameras, raw rate, a log-normal episode length, tier demotions with reasons, optional captions and success flags.
It is written by `tests.fixtures.corpus.write_catalog_table` through `jobs.catalog.parts.write_parquet_atomic` (the
writer the ingest job and the rebuild use), so the file layout (zstd, DuckDB-sized row groups) is the production one.

Timings: `run_query` includes connecting, creating the views and reading the parquet; "cold" is the first call in
the process (file pages are already in the OS cache: the file was just written and caches cannot be dropped here),
then the median of `--reps` runs. `curate` (balance=subset) covers two snapshot hashes, the query, the uid-hash
split, weights, the mixture and the atomic write; the manifest check (`jobs.catalog.manifest_current.drift`) joins
the last manifest's entries with the catalog, as every use of a manifest does. Progress goes to stderr; the last
stdout line is one JSON object.

    .venv/bin/python -m benchmarks.catalog [--episodes 1000000] [--reps 7] [--out DIR]
    .venv/bin/python -m benchmarks.catalog --smoke     # 2,000 episodes, 1 run each: runs, measures nothing
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from benchmarks._cli import parse_args
from benchmarks._machine import peak_rss_mb
from jobs.catalog.curate import curate
from jobs.catalog.manifest_current import drift
from jobs.catalog.parts import parquet_files
from jobs.catalog.query import format_table, run_query
from schemas.catalog import CATALOG_SCHEMA
from schemas.corpus import EPISODES_DIR
from tests.fixtures.corpus import write_catalog_table

QUERY = """
SELECT source, embodiment, tier, count(*) AS episodes, round(sum(duration_s) / 3600, 1) AS hours,
       avg(num_frames) AS mean_frames
FROM episodes
WHERE has_action AND tier IN ('high', 'low') AND duration_s BETWEEN 2 AND 120 AND list_contains(cameras, 'head')
GROUP BY ALL
ORDER BY hours DESC
"""
CURATE_WHERE = "tier = 'high' AND duration_s >= 8"
QUERY_TARGET_S, CURATE_TARGET_S = 0.2, 5.0

# source -> (subsets, embodiments cycled over subsets, cameras, raw fps, median seconds, default tier)
SOURCES = {
    "oxe": (24, ["widowx", "franka", "google_robot", "kuka_iiwa", "ur5"], ["head", "wrist_right"], 5.0, 12.0, "high"),
    "agibot": (8, ["agibot_gripper", "agibot_dexterous"], ["head", "wrist_left", "wrist_right"], 30.0, 40.0, "high"),
    "droid": (2, ["franka"], ["head", "wrist_right", "third_person"], 15.0, 25.0, "high"),
    "egodex": (6, ["human"], ["head"], 30.0, 20.0, "high"),
    "ego4d": (4, ["human_video"], ["head"], 30.0, 8.0, "actionless"),
    "lerobot": (6, ["franka", "gr1"], ["head", "wrist_right"], 30.0, 15.0, "high"),
}
REASONS = [[], ["idle ratio 0.62 > 0.5"], ["failure flag"], ["kinematic violations 7 > 5"], ["retried"]]
TASK_VERBS = ["pick", "place", "push", "open", "close", "fold", "wipe", "stack", "pour", "lift"]
TASK_OBJECTS = ["the red cube", "the drawer", "the towel", "the cup", "the lid", "the bowl", "the sponge", "the block"]


def _groups() -> list[dict]:
    out = []
    for source, (subsets, embodiments, cameras, fps, median_s, tier) in SOURCES.items():
        for k in range(subsets):
            out.append(
                {
                    "source": source,
                    "subset": f"{source}_{k:02d}" if source != "droid" else ("droid_100" if k else "droid"),
                    "embodiment": embodiments[k % len(embodiments)],
                    "cameras": cameras,
                    "raw_fps": fps,
                    "median_s": median_s,
                    "tier": tier,
                }
            )
    return out


def _hex_strings(rng: np.random.Generator, n: int) -> pa.Array:
    """n random sha256-like hex strings, built as one string buffer."""
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    raw = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    chars = np.empty((n, 64), dtype=np.uint8)
    chars[:, 0::2], chars[:, 1::2] = digits[raw >> 4], digits[raw & 15]
    offsets = (np.arange(n + 1, dtype=np.int32) * 64).tobytes()
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(chars.tobytes())])


def synthetic_catalog(n: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    groups = _groups()
    g = len(groups)
    sizes = 1.0 / np.arange(1, g + 1) ** 0.8  # Zipf-like: a few big subsets, a long tail
    rng.shuffle(sizes)
    counts = np.floor(sizes / sizes.sum() * n).astype(np.int64)
    counts[np.argmax(counts)] += n - counts.sum()
    gi = np.repeat(np.arange(g), counts)
    local = np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts)

    def col(key: str, typ: pa.DataType | None = None) -> pa.Array:
        return pa.array([grp[key] for grp in groups], type=typ).take(gi)

    source, subset = col("source"), col("subset")
    raw_id = pc.binary_join_element_wise("raw-", pc.utf8_lpad(pa.array(local).cast(pa.string()), 8, "0"), "")
    uid = pc.binary_join_element_wise(source, subset, raw_id, "/")
    dataset = pc.binary_join_element_wise("datasets", source, subset, "/")

    median = np.array([grp["median_s"] for grp in groups])[gi]
    duration_s = np.clip(np.round(rng.lognormal(np.log(median), 0.7) * 10) / 10, 0.5, 1800.0)
    num_frames = np.round(duration_s * 10).astype(np.int64)

    actionless = np.array([grp["tier"] == "actionless" for grp in groups])[gi]
    reason = rng.choice(len(REASONS), size=n, p=[0.62, 0.14, 0.1, 0.08, 0.06])
    reason[actionless] = 0
    tier = np.where(actionless, "actionless", np.where(reason > 0, "low", "high"))
    reasons = pa.array(REASONS, type=pa.list_(pa.string())).take(pa.array(reason))
    reasons = pc.if_else(
        pa.array(actionless), pa.array([["no action"]], pa.list_(pa.string())).take(np.zeros(n, int)), reasons
    )

    tasks = pa.array([f"{v} {o}" for v in TASK_VERBS for o in TASK_OBJECTS]).take(
        rng.integers(0, len(TASK_VERBS) * len(TASK_OBJECTS), n)
    )
    captioned = rng.random(n) < 0.3
    caption = pc.if_else(pa.array(captioned), pc.binary_join_element_wise("a video of someone: ", tasks, ""), None)
    human = np.array([grp["embodiment"] == "human" for grp in groups])[gi]
    ego = np.array([grp["source"] in ("egodex", "ego4d") for grp in groups])[gi]
    success = pa.array(rng.random(n) < 0.9, mask=ego)
    raw_path = pc.binary_join_element_wise("/data/raw", source, subset, raw_id, "/")
    t0 = np.datetime64("2025-06-01T00:00:00", "us").astype(np.int64)
    ingested = t0 + rng.integers(0, 30 * 86_400 * 10**6, n)

    columns = {
        "episode_uid": uid,
        "source": source,
        "subset": subset,
        "dataset": dataset,
        "episode_index": pa.array(local),
        "embodiment": col("embodiment"),
        "tier": pa.array(tier),
        "tier_reasons": reasons,
        "task": tasks,
        "caption": caption,
        "num_frames": pa.array(num_frames),
        "duration_s": pa.array(num_frames / 10.0),
        "has_action": pa.array(~actionless),
        "has_hands": pa.array(human),
        "cameras": col("cameras", pa.list_(pa.string())),
        "success": success,
        "raw_path": raw_path,
        "raw_fps": col("raw_fps", pa.float64()),
        "content_hash": _hex_strings(rng, n),
        "pipeline_version": pa.array(["eidata-canon-1"]).take(np.zeros(n, int)),
        "latents_ready": pa.array(rng.random(n) < 0.4),
        "caption_ready": pa.array(captioned),
        "ingested_at": pa.array(ingested, type=pa.timestamp("us", tz="UTC")),
    }
    unknown = set(columns) - set(CATALOG_SCHEMA.names)
    assert not unknown, f"columns the catalog schema no longer has: {sorted(unknown)}"
    # columns not generated here (nullable ones added to the schema later) are null, as for older episodes
    return pa.table({f.name: columns.get(f.name, pa.nulls(n, f.type)) for f in CATALOG_SCHEMA}).cast(CATALOG_SCHEMA)


def _timed(fn: Callable[..., Any], *args: Any, **kw: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return time.perf_counter() - t0, out


QUERY_COLUMNS = ["source", "embodiment", "tier", "duration_s", "num_frames", "has_action", "cameras"]


def _floors(root: Path, files: list[Path]) -> tuple[float, float, float]:
    """What the query's time is made of, each part timed alone (wall s): `run_query` of `SELECT 1` (connecting, the
    views over every part: the fixed cost); pyarrow reading the query's columns from the parts (the read); DuckDB
    running the query over those columns already in memory (the engine)."""
    fixed, _ = _timed(run_query, root, "SELECT 1")
    read, cols = _timed(pq.read_table, [str(f) for f in files], columns=QUERY_COLUMNS)
    con = duckdb.connect(":memory:")
    con.register("episodes", cols)
    engine, _ = _timed(lambda: con.sql(QUERY).to_arrow_table())
    con.close()
    return fixed, read, engine


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--episodes", type=int, default=1_000_000)
    p.add_argument("--reps", type=int, default=7, help="warm runs of the query (the median is reported)")
    p.add_argument("--curate-reps", type=int, default=3)
    p.add_argument("--out", type=Path, default=None, help="corpus folder (default: a temp folder, removed)")
    args = parse_args(p, {"episodes": 2000, "reps": 1, "curate_reps": 1}, "2,000 episodes, one query and one curate")

    tmp = None if args.out else tempfile.mkdtemp(prefix="eidata-catalog-bench-")
    root = args.out or Path(tmp)
    try:
        gen_s, table = _timed(synthetic_catalog, args.episodes)
        write_s, _ = _timed(write_catalog_table, root, table, "part-00000")
        files = parquet_files(root, EPISODES_DIR)
        size_mb = sum(f.stat().st_size for f in files) / 1e6
        groups = table.group_by(["source", "subset"]).aggregate([]).num_rows
        tiers = dict(zip(*pc.value_counts(table["tier"]).flatten(), strict=True))
        print(
            f"[catalog] {table.num_rows} episodes, {groups} subsets, {size_mb:.1f} MB parquet; generated in "
            f"{gen_s:.1f} s, written in {write_s:.1f} s",
            file=sys.stderr,
        )
        del table

        cold_s, result = _timed(run_query, root, QUERY)
        warm, warm_cpu, fixed, read, engine = [], [], [], [], []
        for _ in range(args.reps):  # the query; beside it what bounds it, each timed alone (`_floors`)
            c0 = time.process_time()  # DuckDB's threads included
            warm.append(_timed(run_query, root, QUERY)[0])
            warm_cpu.append(time.process_time() - c0)
            f, r, e = _floors(root, files)
            fixed.append(f)
            read.append(r)
            engine.append(e)
        print(format_table(result, "table", max_rows=12), file=sys.stderr)
        print(
            f"[query] cold {cold_s:.3f} s, warm median {statistics.median(warm):.3f} s over {args.reps}",
            file=sys.stderr,
        )

        curate_times, selected = [], 0
        for k in range(args.curate_reps):
            t, out = _timed(curate, root, f"bench-{k}", CURATE_WHERE, balance="subset", val_fraction=0.05)
            curate_times.append(t)
            selected = json.loads((Path(out) / "manifest.json").read_text())["num_entries"]
            print(f"[curate] run {k}: {t:.3f} s, {selected} entries", file=sys.stderr)
        check_times = []  # the check every use of that manifest makes (export, latents, train: issue 98 item 5)
        for _ in range(args.reps):
            t, found = _timed(drift, root, Path(out))
            check_times.append(t)
        assert not (found.changed or found.gone), "the manifest just made differs from its catalog"
        print(f"[manifest check] {selected} entries: median {statistics.median(check_times):.3f} s", file=sys.stderr)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)

    q_med, c_med = statistics.median(warm), statistics.median(curate_times)
    peak_mb = peak_rss_mb()
    print(
        json.dumps(
            {
                "episodes": args.episodes,
                "subsets": groups,
                "tiers": {str(k): int(v) for k, v in tiers.items()},
                "parquet_mb": round(size_mb, 1),
                "generate_s": round(gen_s, 2),
                "write_s": round(write_s, 2),
                "query_cold_s": round(cold_s, 4),
                "query_warm_median_s": round(q_med, 4),
                "query_warm_min_s": round(min(warm), 4),
                "query_warm_median_cpu_s": round(statistics.median(warm_cpu), 4),
                "connect_and_views_median_s": round(statistics.median(fixed), 4),
                "read_columns_median_s": round(statistics.median(read), 4),
                "engine_in_memory_median_s": round(statistics.median(engine), 4),
                "query_rows": result.num_rows,
                "query_target_s": QUERY_TARGET_S,
                "query_meets_target": q_med <= QUERY_TARGET_S,
                "curate_where": CURATE_WHERE,
                "curate_selected": selected,
                "curate_selected_fraction": round(selected / args.episodes, 3),
                "curate_first_s": round(curate_times[0], 3),
                "curate_median_s": round(c_med, 3),
                "curate_target_s": CURATE_TARGET_S,
                "curate_meets_target": c_med <= CURATE_TARGET_S,
                "manifest_check_median_s": round(statistics.median(check_times), 3),
                "peak_rss_mb": round(peak_mb),
                "cpus": os.cpu_count(),
                "loadavg_1m_after": round(os.getloadavg()[0], 1),
                "duckdb": duckdb.__version__,
                "pyarrow": pa.__version__,
                "python": platform.python_version(),
            }
        )
    )


if __name__ == "__main__":
    main()
