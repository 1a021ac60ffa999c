"""The ingest benchmark's pipeline run: `jobs.ingest.run_ingest` on embedded Ray, every task's start and end
recorded, the process tree sampled (see `benchmarks.ingest`).
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from typing import Any

from benchmarks._ingest_measure import TreeSampler, dataset_sizes, self_cpu_s, timeline
from benchmarks._machine import machine_busy_s, status_kb


def timed_process_episode(item: dict[str, Any]) -> dict[str, Any]:
    """`jobs.ingest.process_episode` with its start and end (epoch s) and worker pid added to the result."""
    from jobs.ingest import process_episode  # the worker's own, unpatched module; imported before the clock

    t0 = time.time()
    result = process_episode(item)
    return {**result, "_bench": (t0, time.time(), os.getpid(), status_kb("self", "VmRSS")["VmRSS"] // 1024)}


def child_pipeline(cfg: dict[str, Any]) -> dict[str, Any]:
    import ray

    import jobs.ingest
    from jobs.ingest import _init_ray, run_ingest
    from jobs.spec import JobSpec

    os.sched_setaffinity(0, cfg["cores"])  # inherited by Ray's processes: the job's CPU budget
    spec = JobSpec.model_validate(cfg["spec"])
    # every task's start and end, for the timeline (the driver looks the task function up when it submits)
    jobs.ingest.process_episode = timed_process_episode
    marks: list[tuple[float, float, int, int]] = []
    accept = jobs.ingest.Committer.accept

    def accept_marked(self: Any, item: Any, result: dict[str, Any]) -> None:
        if "_bench" in result:
            marks.append(result.pop("_bench"))
        accept(self, item, result)

    jobs.ingest.Committer.accept = accept_marked
    sampler = TreeSampler()
    sampler.start()
    busy0, cpu0, t0 = machine_busy_s(), self_cpu_s(), time.perf_counter()
    _init_ray(spec, None)  # the job's own settings; started here so that start-up is timed apart from the job
    init_s = time.perf_counter() - t0
    t1, epoch1 = time.perf_counter(), time.time()
    report = run_ingest(spec, progress=False)
    job_s = time.perf_counter() - t1
    wall = time.perf_counter() - t0
    sampler.sample()  # workers are alive until shutdown: their VmHWM now is their peak
    tree_cpu, own_cpu, busy = sampler.cpu_s(), self_cpu_s() - cpu0, machine_busy_s() - busy0
    sampler.stop()
    t2 = time.perf_counter()
    ray.shutdown()
    shutdown_s = time.perf_counter() - t2
    workers = [p for p in sampler.procs.values() if p["kind"] == "worker"]
    others: dict[str, int] = defaultdict(int)
    cpu_by_kind: dict[str, float] = defaultdict(float, {"driver": own_cpu})
    for p in sampler.procs.values():
        cpu_by_kind["workers" if p["kind"] == "worker" else "ray daemons"] += p["cpu_s"]
        if p["kind"] != "worker":
            others[p["kind"]] = max(others[p["kind"]], p["hwm_kb"])
    frames = sum(t.frames for t in report.tallies.values())
    return {
        "init_s": init_s,
        "job_s": job_s,
        "total_s": init_s + job_s,
        "shutdown_s": shutdown_s,
        "rows": frames,
        "timeline": timeline(marks, epoch1, epoch1 + job_s),
        "episodes": sum(t.written for t in report.tallies.values()),
        "quarantined": report.quarantined,
        "datasets": dataset_sizes(spec.output),
        "cpu_s": tree_cpu + own_cpu,
        "cpu_s_by_process": {k: round(v, 1) for k, v in cpu_by_kind.items()},
        "other_cores": max(busy - tree_cpu - own_cpu, 0.0) / wall,
        "workers": len(workers),
        "worker_cpus": sorted({c for p in workers for c in p["cpus"]}),
        "worker_peak_rss_mb": sorted(round(p["hwm_kb"] / 1024) for p in workers),
        "worker_max_sampled_rss_mb": round(max((p["rss_kb"] for p in workers), default=0) / 1024),
        "driver_peak_rss_mb": round(status_kb("self", "VmHWM")["VmHWM"] / 1024),
        "ray_processes_peak_rss_mb": {k: round(v / 1024) for k, v in sorted(others.items())},
        "tree_max_rss_mb": round(sampler.max_tree_rss_kb / 1024),
    }
