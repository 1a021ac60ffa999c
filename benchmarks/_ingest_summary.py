"""The ingest benchmark's summary: medians per run, speedups and overheads against their targets, the table."""

from __future__ import annotations

import argparse
import statistics
from typing import Any


def camera_frames(r: dict[str, Any]) -> int:
    return r["camera_frames"] if "camera_frames" in r else sum(d["camera_frames"] for d in r["datasets"])


def _med(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def summarize(runs: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> dict[str, Any]:
    rows = []
    for name, rs in runs.items():
        s, cf = _med(rs, "job_s" if "pipeline" in name else "seconds"), camera_frames(rs[0])
        cores = int(name.split("/")[1].split("c")[0])
        row = {
            "run": name,
            "seconds": round(s, 2),
            "camera_frames": cf,
            "camera_fps": round(cf / s, 1),
            "camera_fps_per_core": round(cf / s / cores, 1),
            "cpu_s": round(_med(rs, "cpu_s"), 1),
            "other_cores_max": round(max(r["other_cores"] for r in rs), 2),
            "loadavg_1m_before_max": max(r["loadavg_1m_before"] for r in rs),
            "busy_cores_before_max": max(r["busy_cores_before"] for r in rs),
        }
        if "pipeline" in name:
            row.update(
                total_s=round(_med(rs, "total_s"), 2),
                ray_init_s=round(_med(rs, "init_s"), 2),
                rows=rs[0]["rows"],
                rows_per_s_per_core=round(rs[0]["rows"] / s / cores, 1),
                workers=rs[0]["workers"],
                worker_cpus=rs[0]["worker_cpus"],
                worker_peak_rss_mb=max(max(r["worker_peak_rss_mb"], default=0) for r in rs),
                driver_peak_rss_mb=max(r["driver_peak_rss_mb"] for r in rs),
                tree_max_rss_mb=max(r["tree_max_rss_mb"] for r in rs),
                cpu_s_by_process=rs[0]["cpu_s_by_process"],
                **{
                    k: round(statistics.median(r["timeline"][k] for r in rs), 2)
                    for k in ("first_task_start_s", "tail_s", "task_busy_s")
                },
            )
        else:
            row["process_s_sum"] = round(statistics.median(sum(r["per_process_s"]) for r in rs), 2)
        rows.append(row)
    by = {r["run"]: r for r in rows}
    out: dict[str, Any] = {"runs": rows}

    def ratio(a: str, b: str, key: str = "seconds") -> float | None:
        return round(by[a][key] / by[b][key], 3) if a in by and b in by else None

    def overhead(p: str, b: str) -> float | None:
        if p not in by or b not in by:
            return None
        per_p = by[p]["seconds"] / by[p]["camera_frames"]
        return round(per_p / (by[b]["seconds"] / by[b]["camera_frames"]) - 1, 3)

    def worker_overhead(p: str, b: str) -> float | None:
        """Worker-seconds in tasks against baseline process-seconds, per camera frame: the steady-state overhead."""
        if p not in by or b not in by:
            return None
        per_p = by[p]["task_busy_s"] / by[p]["camera_frames"]
        return round(per_p / (by[b]["process_s_sum"] / by[b]["camera_frames"]) - 1, 3)

    p1, p2 = "pipeline 1w/1c", "pipeline 2w/2c"
    if p1 in by and p2 in by:
        out.update(
            speedup_2w2c_vs_1w1c=ratio(p1, p2),
            speedup_2w2c_vs_1w1c_with_ray_init=ratio(p1, p2, "total_s"),
            speedup_2w_vs_1w_both_on_2c=ratio("pipeline 1w/2c", p2),
            speedup_unpinned_2w2c_vs_1w1c=ratio(p1, "unpinned pipeline 2w/2c"),
            speedup_unpinned_2w_vs_1w_both_on_2c=ratio("unpinned pipeline 1w/2c", "unpinned pipeline 2w/2c"),
            speedup_demo_corpus_2w2c_vs_1w1c=ratio("demo pipeline 1w/1c", "demo pipeline 2w/2c"),
            speedup_target=1.8,
            overhead_1w1c=overhead(p1, "baseline 1p/1c"),
            overhead_2w2c=overhead(p2, "baseline 2p/2c"),
            overhead_target=0.25,
            inprocess_overhead_1p1c=overhead("inprocess 1p/1c", "baseline 1p/1c"),
            inprocess_overhead_2p2c=overhead("inprocess 2p/2c", "baseline 2p/2c"),
            inprocess_speedup_2p2c_vs_1p1c=ratio("inprocess 1p/1c", "inprocess 2p/2c"),
            task_overhead_1w1c=worker_overhead(p1, "baseline 1p/1c"),
            task_overhead_2w2c=worker_overhead(p2, "baseline 2p/2c"),
            baseline_speedup_2p2c_vs_1p1c=ratio("baseline 1p/1c", "baseline 2p/2c"),
            camera_fps_per_core=by[p2]["camera_fps_per_core"],
            rows_per_s_per_core=by[p2]["rows_per_s_per_core"],
            mix_datasets=[
                {
                    k: d[k]
                    for k in ("dataset", "cameras", "rows", "video_bytes_per_camera_frame", "parquet_bytes_per_row")
                }
                for d in runs[p2][0]["datasets"]
            ],
        )
        out["meets_speedup_target"] = out["speedup_2w2c_vs_1w1c"] >= 1.8
        out["meets_overhead_target"] = out["overhead_2w2c"] <= 0.25
    longs = [n for n in by if n.startswith("long")]
    if longs:
        r0 = runs[longs[0]][0]
        out["long"] = {"episodes": args.long_episodes, "frames": args.long_frames, "cameras": 3, "size": [480, 640]}
        out["long_worker_peak_rss_mb"] = r0["worker_peak_rss_mb"]
        out["long_driver_peak_rss_mb"] = r0["driver_peak_rss_mb"]
        out["long_ray_processes_peak_rss_mb"] = r0["ray_processes_peak_rss_mb"]
        out["long_tree_max_rss_mb"] = r0["tree_max_rss_mb"]
        out["long_rss_mb_after_each_task"] = r0["timeline"]["rss_mb_after_each_task"]
        out["long_camera_fps_per_core"] = by[longs[0]]["camera_fps_per_core"]
        out["long_video_bytes_per_camera_frame"] = r0["datasets"][0]["video_bytes_per_camera_frame"]
        out["rss_target_mb"] = 1536
        out["meets_rss_target"] = max(r0["worker_peak_rss_mb"], default=0) <= 1536
    return out


def print_table(rows: list[dict[str, Any]]) -> None:
    head = f"{'run':<36} {'s':>7} {'+ray s':>7} {'cam frames':>10} {'cam f/s':>8} {'f/s/core':>8} {'CPU s':>6}"
    print(f"{head} {'other':>5} {'load':>5} {'worker MB':>9} {'driver MB':>9}")
    for r in rows:
        print(
            f"{r['run']:<36} {r['seconds']:>7.1f} {r.get('total_s', r['seconds']):>7.1f} {r['camera_frames']:>10} "
            f"{r['camera_fps']:>8.0f} {r.get('camera_fps_per_core', float('nan')):>8.0f} {r['cpu_s']:>6.0f} "
            f"{r['other_cores_max']:>5.2f} {r['loadavg_1m_before_max']:>5.2f} "
            f"{r.get('worker_peak_rss_mb', '-'):>9} {r.get('driver_peak_rss_mb', '-'):>9}"
        )
