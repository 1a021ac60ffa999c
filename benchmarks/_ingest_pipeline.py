"""The ingest benchmark's pipeline run: `jobs.ingest.run_ingest` on embedded Ray, every task's start and end
recorded, the process tree sampled (see `benchmarks.ingest`).
"""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks._ingest_measure import TreeSampler, dataset_sizes, self_cpu_s, timeline
from benchmarks._machine import machine_busy_s, status_kb

if TYPE_CHECKING:
    from jobs.ingest.task import EpisodeResult, EpisodeTask


def _marks_file(output: Path) -> Path:
    return output.parent / f"{output.name}.task_marks.jsonl"


def timed_process_episode(task: EpisodeTask) -> EpisodeResult:
    """`jobs.ingest.worker.process_episode`, its start and end (epoch s), worker pid and RSS appended as one line
    to the marks file beside the output (one short `O_APPEND` write per task)."""
    from jobs.ingest.worker import process_episode  # imported before the clock, as a warm worker has it

    t0 = time.time()
    result = process_episode(task)
    mark = [t0, time.time(), os.getpid(), status_kb("self", "VmRSS")["VmRSS"] // 1024]
    with _marks_file(task.settings.output).open("a") as f:
        f.write(json.dumps(mark) + "\n")
    return result


def child_pipeline(cfg: dict[str, Any]) -> dict[str, Any]:
    import ray

    from jobs.ingest.job import init_job_ray, run_ingest
    from jobs.spec_models import JobSpec

    os.sched_setaffinity(0, cfg["cores"])  # inherited by Ray's processes: the job's CPU budget
    spec = JobSpec.model_validate(cfg["spec"])
    _marks_file(spec.output).unlink(missing_ok=True)
    sampler = TreeSampler()
    sampler.start()
    busy0, cpu0, t0 = machine_busy_s(), self_cpu_s(), time.perf_counter()
    init_job_ray(spec, None)  # the job's own settings; started here so that start-up is timed apart from the job
    init_s = time.perf_counter() - t0
    t1, epoch1 = time.perf_counter(), time.time()
    report = run_ingest(spec, progress=False, worker=timed_process_episode)  # every task's start and end
    job_s = time.perf_counter() - t1
    wall = time.perf_counter() - t0
    sampler.sample()  # workers are alive until shutdown: their VmHWM now is their peak
    tree_cpu, own_cpu, busy = sampler.cpu_s(), self_cpu_s() - cpu0, machine_busy_s() - busy0
    sampler.stop()
    t2 = time.perf_counter()
    ray.shutdown()
    shutdown_s = time.perf_counter() - t2
    workers = [p for p in sampler.procs.values() if p["kind"] == "worker"]
    marks = [tuple(json.loads(line)) for line in _marks_file(spec.output).read_text().splitlines()]
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
