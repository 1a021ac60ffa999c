"""Copies versus repetitions on real datasets: false positives and recall of the duplicate verdict.

    .venv/bin/python -m benchmarks.duplicates_real [--g1 DIR] [--pipeline] [--copies 10] [--smoke]

Part 1, the signals (`ingest.qa.copies.copy_check`): each real LeRobot dataset's `observation.state` re-gridded
to 10 Hz as our resampler does; every pair of distinct recordings compared (a false positive is a pair judged a copy)
and, per episode, five copies made the way copies are made (trimmed 11 frames at the start; trimmed at both ends;
stored at 15 Hz; re-gridded a half frame later; float16): recall is the share judged copies. Scales: each dim's
range in the dataset, floored (`scale_with_floor`).

Part 2, `--pipeline`: the real dataset and copies of its first `--copies` episodes written as two more LeRobot v2.1
sources (one at the source rate: trimmed, float16-rounded; one at half the rate) go through `eidata ingest` and
`eidata verdicts`; counted: originals rejected (false positives), copies rejected naming their original (recall), and
what the fingerprint alone would have rejected (the rule before: similarity >= 0.75 within one task).

Datasets: the GR00T PickNPlace sample (tests/REAL_SAMPLES.md, 5 recordings of one task); with `--g1`, the Unitree G1
Inspire teleop set of YifanTian07/G1-policy-train @ d1d3bb4 (MIT; 100 recordings of one task, parquet + meta; not
redistributed here: give the folder of its `meta/` and `data/`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ingest.qa.copies import copy_check, scale_with_floor
from schemas.behaviour import BehaviourConfig
from tests.realdata import realdata

GR00T = "gr00t_robot_sim_picknplace"  # the real sample (tests/REAL_SAMPLES.md)
CFG = BehaviourConfig()


def episodes(root: Path) -> tuple[list[np.ndarray], float]:
    info = json.loads((root / "meta/info.json").read_text())
    files = sorted((root / "data").rglob("episode_*.parquet"))
    out = [np.stack(pq.read_table(f, columns=["observation.state"])[0].to_numpy(zero_copy_only=False)) for f in files]
    return [x.astype(np.float64) for x in out], float(info["fps"])


def grid(x: np.ndarray, fps: float, start_s: float = 0.0) -> np.ndarray:
    t = np.arange(len(x)) / fps
    g = np.arange(start_s, t[-1] + 1e-9, 0.1)
    return np.stack([np.interp(g, t, x[:, d]) for d in range(x.shape[1])], axis=1)


COPIES = {
    "trimmed 11 frames": lambda x, fps: grid(x[11:], fps),
    "trimmed both ends": lambda x, fps: grid(x[20:-25], fps),
    "half rate": lambda x, fps: grid(x[::2], fps / 2),
    "half a frame later": lambda x, fps: grid(x, fps, 0.05),
    "float16": lambda x, fps: grid(x.astype(np.float16).astype(np.float64), fps),
}


def signals(name: str, root: Path) -> dict:
    eps, fps = episodes(root)
    scale = scale_with_floor(np.ptp(np.concatenate(eps), axis=0))
    g = [grid(e, fps) for e in eps]
    t0 = time.perf_counter()
    distinct = np.array(
        [copy_check(g[i], g[j], scale, CFG).residual for i in range(len(g)) for j in range(i + 1, len(g))]
    )
    pair_s = (time.perf_counter() - t0) / max(1, len(distinct))
    copies = {
        k: [copy_check(g[i], make(e, fps), scale, CFG).residual for i, e in enumerate(eps)]
        for k, make in COPIES.items()
    }
    tol = CFG.copy_tolerance
    return {
        "dataset": name,
        "episodes": len(eps),
        "distinct_pairs": len(distinct),
        "false_positives": int((distinct <= tol).sum()),
        "distinct_min_residual": float(distinct.min()),
        "distinct_p1_residual": float(np.quantile(distinct, 0.01)),
        "copies": sum(len(v) for v in copies.values()),
        "copies_found": int(sum((np.array(v) <= tol).sum() for v in copies.values())),
        "copy_max_residual": {k: round(float(max(v)), 4) for k, v in copies.items()},
        "tolerance": tol,
        "ms_per_pair": round(1000 * pair_s, 2),
    }


def _write_copy(src: Path, dest: Path, count: int, half_rate: bool) -> dict[int, int]:
    """A LeRobot v2.1 dataset of copies of `src`'s first `count` episodes: at half the rate, else trimmed 11 frames
    (even copies) or trimmed at both ends and float16-rounded (odd ones). Returns copy index -> original index."""
    info = json.loads((src / "meta/info.json").read_text())
    fps = info["fps"] / 2 if half_rate else info["fps"]
    (dest / "meta").mkdir(parents=True)
    (dest / "data/chunk-000").mkdir(parents=True)
    lines, total = [], 0
    for k in range(count):
        t = pq.read_table(src / f"data/chunk-000/episode_{k:06d}.parquet")
        if half_rate:
            t = t.take(pa.array(np.arange(0, t.num_rows, 2)))
        elif k % 2 == 0:
            t = t.slice(11)
        else:
            t = t.slice(20, t.num_rows - 45)
            for col in ("observation.state", "action"):
                v = np.stack(t[col].to_numpy(zero_copy_only=False)).astype(np.float16).astype(np.float32)
                t = t.set_column(t.schema.get_field_index(col), col, pa.array(list(v), t.schema.field(col).type))
        n = t.num_rows
        cols = {
            "frame_index": np.arange(n),
            "timestamp": (np.arange(n) / fps).astype(np.float32),
            "episode_index": np.full(n, k),
            "index": total + np.arange(n),
        }
        for c, v in cols.items():
            t = t.set_column(t.schema.get_field_index(c), c, pa.array(v, t.schema.field(c).type))
        pq.write_table(t, dest / f"data/chunk-000/episode_{k:06d}.parquet")
        lines.append({"episode_index": k, "tasks": ["Pick up the yellow bottle on the table."], "length": n})
        total += n
    info.update(fps=fps, total_episodes=count, total_frames=total, total_videos=0, splits={"train": f"0:{count}"})
    info["features"] = {k: v for k, v in info["features"].items() if v.get("dtype") != "video"}
    (dest / "meta/info.json").write_text(json.dumps(info, indent=4))
    (dest / "meta/episodes.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    shutil.copy(src / "meta/tasks.jsonl", dest / "meta/tasks.jsonl")
    return {k: k for k in range(count)}


def pipeline(root: Path, count: int, work: Path) -> dict:
    import yaml

    from ingest.qa.duplicates import near_duplicates
    from jobs.catalog.query import run_query

    _write_copy(root, work / "copy_same_rate", count, half_rate=False)
    _write_copy(root, work / "copy_half_rate", count, half_rate=True)
    spec = {
        "output": str(work / "corpus"),
        "parallelism": {"num_cpus": 1},
        "sources": [
            {"name": "orig", "adapter": "lerobot", "root": str(root)},
            {"name": "copy_same_rate", "adapter": "lerobot", "root": str(work / "copy_same_rate")},
            {"name": "copy_half_rate", "adapter": "lerobot", "root": str(work / "copy_half_rate")},
        ],
    }
    (work / "job.yaml").write_text(yaml.safe_dump(spec))
    eidata = [sys.executable, "-m", "jobs.cli"]
    t0 = time.perf_counter()
    subprocess.run([*eidata, "ingest", str(work / "job.yaml")], check=True, capture_output=True)
    ingest_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = subprocess.run([*eidata, "verdicts", str(work / "corpus")], check=True, capture_output=True, text=True)
    verdicts_s = time.perf_counter() - t0
    rows = run_query(work / "corpus", "SELECT episode_uid, source, tier, qa_duplicate_of, qa_fingerprint FROM episodes")
    rows = rows.to_pylist()
    orig = [r for r in rows if r["source"] == "orig"]
    copies = [r for r in rows if r["source"] != "orig"]
    right = sum(
        r["tier"] == "rejected"
        and (r["qa_duplicate_of"] or "").rsplit("_", 1)[-1] == r["episode_uid"].rsplit("_", 1)[-1]
        and (r["qa_duplicate_of"] or "").startswith("orig/")
        for r in copies
    )
    sig = np.array([r["qa_fingerprint"] for r in orig], np.uint32)
    old = near_duplicates(sig, CFG, threshold=0.75)
    return {
        "originals": len(orig),
        "originals_rejected": sum(r["tier"] == "rejected" for r in orig),
        "fingerprint_alone_would_reject": len(set(old.second.tolist())),
        "copies": len(copies),
        "copies_rejected_naming_their_original": right,
        "ingest_s": round(ingest_s, 1),
        "verdicts_s": round(verdicts_s, 1),
        "verdicts_line": out.stdout.strip().splitlines()[-1],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--g1", type=Path, default=None, help="folder of the real G1 teleop set (meta/, data/)")
    p.add_argument("--pipeline", action="store_true", help="part 2 on the G1 set (needs --g1)")
    p.add_argument("--copies", type=int, default=10)
    p.add_argument("--smoke", action="store_true", help="the GR00T sample's signals only (seconds)")
    args = p.parse_args(argv)
    g1 = None if args.smoke else args.g1
    sets = [("GR00T PickNPlace (real sample)", realdata(GR00T))] + ([("Unitree G1 teleop", g1)] if g1 else [])
    for name, root in sets:
        print(json.dumps(signals(name, root)))
    if args.pipeline and g1:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps({"pipeline": "Unitree G1 teleop", **pipeline(g1, args.copies, Path(tmp))}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
