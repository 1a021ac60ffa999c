"""Ingest on Ray: 1 vs 2 workers, the pipeline against pure decode + encode, and peak RSS per worker.

    .venv/bin/python -m benchmarks.ingest [--phase all|scaling|memory] [--scale 2] [--reps 1] [--workdir DIR]
    (BENCHMARKS.md, "Ingest on Ray", gives the commands of the recorded figures)
    .venv/bin/python -m benchmarks.ingest --smoke    # a tiny corpus, 1 worker on 1 core: runs, measures nothing

Corpora (written once by `adapters/synthetic/`; with `--workdir` they are kept and reused):

- **mix**: the demo corpus's five sources with their cameras at 224x224, no corrupt episodes: bridge RLDS (JPEG,
  5 Hz, 2 cameras), AgiBot (3 cameras, 30 Hz, h264, 30 s episodes), Ego4D (30 fps h264 cut into narration windows),
  EgoDex (30 Hz h264, 10 s episodes) and the LeRobot demo dataset (AV1, 120x160 and 96x96).
- **demo**: `jobs.demo.corpus.write_raw_corpus(scale=--demo-scale, corrupt=False)`, the demo's own 48x64 frames.
- **long**: AgiBot episodes of 3 cameras at 480x640, 1800 frames each (one minute at 30 Hz), ingested by
  `--memory-workers` workers on 2 cores with the codec's default threads; each task also reports its worker's VmRSS.

Runs, each in its own process (so peak RSS is per run), each after waiting for the machine to be quiet. "Nw/Mc": N Ray
workers (`parallelism.num_cpus`) whose whole process tree (driver, Ray's daemons, workers) may use M cores
(`sched_setaffinity`). The core budget is set by affinity, which bounds every thread of the run; SVT-AV1's own pools
are sized by `codec.threads` (passed as `lp`) or, when unset, by the job's `parallelism.encoder_threads` (default 1).

- **pipeline**: `jobs.ingest.job.run_ingest` on embedded Ray, `codec.threads=1` unless "threads=default" (unset: the
  job's defaults); each task held to one CPU (`parallelism.pin_tasks`) unless "unpinned" (`--compare-unpinned`).
  Ray is started first (with the job's own `jobs.ingest.job.init_job_ray`) so its start-up is timed apart: "s" is
  `run_ingest` alone (discovery, every task, commits, catalog rebuild); "+ray s" adds the Ray start-up. Every task's
  start and end are recorded (a timed worker is passed to `run_ingest`) for the timeline: first task start, tail
  after the last task, worker-seconds in tasks.
- **baseline**: the same videos decoded and encoded and nothing else, in N forked processes on the same M cores. The
  raw episodes are opened with the adapters before the clock (no frame is decoded by opening); then, from a barrier,
  every camera the job keeps is decoded with the adapter's own camera (every source frame up to the last one used;
  RGB conversion only for the frames used), the frame at or before each 10 Hz grid time is picked (the canonical
  grid; nothing else is resampled) and encoded with `VideoEncoder` and the same codec settings, an episode's cameras
  at once as in the pipeline (`--sequential-baseline`: one after another).
- **inprocess**: `jobs.ingest.worker.process_episode` (everything a Ray task does) in N forked processes with the
  baseline's split of episodes: no Ray, no driver, no commits, no catalog. It separates the pipeline's own work from
  Ray's cost.
- overhead = (pipeline s per camera frame) / (baseline s per camera frame) - 1, on the same cores; the task overhead
  compares worker-seconds in tasks with baseline process-seconds, which leaves out start-up and the tail.

A sampler thread in each pipeline process reads VmRSS, VmHWM and CPU ticks of every descendant process (Ray's raylet,
GCS, agents and workers) from /proc every 0.2 s. Workers are the `ray::` / `default_worker.py` processes; their VmHWM
is read before `ray.shutdown()`. "other" is the cores used by anything else on the machine during the run (/proc/stat
minus this run's processes). Progress goes to stderr; the last stdout line is one JSON object.

The parts: the corpora and job spec in `benchmarks._ingest_corpora`, the pipeline run in `_ingest_pipeline`, the
baseline and inprocess runs in `_ingest_forked`, the sampler, sizes and timeline in `_ingest_measure`, the summary in
`_ingest_summary`; this module spawns each run in its own process and drives them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks._cli import parse_args
from benchmarks._ingest_corpora import job_spec, write_corpus
from benchmarks._ingest_forked import child_baseline, child_inprocess
from benchmarks._ingest_pipeline import child_pipeline
from benchmarks._ingest_summary import camera_frames, print_table, summarize
from benchmarks._machine import ROOT, log, wait_quiet
from jobs.runtime.retry import EXIT_ENVIRONMENT

ENV = {"SVT_LOG": "1", "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(ROOT)}
os.environ.update({k: v for k, v in ENV.items() if k != "PYTHONPATH"})

RESULT = "RESULT "

CHILDREN = {"pipeline": child_pipeline, "baseline": child_baseline, "inprocess": child_inprocess}


def spawn(kind: str, cfg: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    quiet = wait_quiet(args.quiet_cores, args.max_wait)
    log(f"  machine before: {quiet}")
    shutil.rmtree(cfg["spec"]["output"], ignore_errors=True)
    env = {**os.environ, **ENV}
    cmd = [sys.executable, "-m", __spec__.name, "--child", kind, "--config", json.dumps(cfg)]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT)]
    if proc.returncode == EXIT_ENVIRONMENT:  # the environment failed the child, which said so in one line
        sys.exit(EXIT_ENVIRONMENT)
    if proc.returncode != 0 or not lines:
        sys.exit(f"{kind}: child failed (exit {proc.returncode})\n{proc.stdout}")
    result = {**json.loads(lines[-1][len(RESULT) :]), **quiet}
    if result["other_cores"] > 0.15:
        log(f"  WARNING: other processes used {result['other_cores']:.2f} cores during the run; figures distorted")
    if not args.keep_outputs:
        shutil.rmtree(cfg["spec"]["output"], ignore_errors=True)
    return result


# -- driver ---------------------------------------------------------------------------------------------------------
def _seconds(r: dict[str, Any]) -> float:
    return r["job_s"] if "job_s" in r else r["seconds"]


def _name(kind: str, n: int, cores: int, threads: int | None) -> str:
    unit = "w" if "pipeline" in kind else "p"
    return f"{kind} {n}{unit}/{cores}c" + ("" if threads == 1 else " threads=default")


def _run(
    kind: str,
    name: str,
    roots: dict[str, str],
    out: Path,
    n: int,
    cores: int,
    threads: int | None,
    args: argparse.Namespace,
    runs: dict[str, list[dict[str, Any]]],
    rep: int,
) -> None:
    log(f"--- rep {rep + 1}/{args.reps}: {name}")
    spec = job_spec(roots, out, n, threads, args.max_in_flight, pin=not kind.startswith("unpinned"))
    cfg = {"spec": spec, "processes": n, "cores": list(range(cores)), "interleave": not args.sequential_baseline}
    r = spawn(kind.split()[-1], cfg, args)
    log(f"  {_seconds(r):.1f} s, {camera_frames(r)} camera frames, other {r['other_cores']:.2f} cores")
    runs[name].append(r)


def run_scaling(args: argparse.Namespace, work: Path) -> dict[str, list[dict[str, Any]]]:
    if args.smoke:
        roots = write_corpus("tiny", work / "raw_tiny", args)
    else:
        roots = write_corpus("mix", work / f"raw_mix_x{args.scale}", args)
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    # (kind, workers or processes, cores it may use, codec threads)
    plan = [("pipeline", 1, 1, 1), ("baseline", 1, 1, 1), ("inprocess", 1, 1, 1), ("pipeline", 2, 2, 1),
            ("baseline", 2, 2, 1), ("inprocess", 2, 2, 1), ("pipeline", 1, 2, 1)]  # fmt: skip
    if args.smoke:
        plan = plan[:3]
    elif not args.no_default_threads:
        plan.append(("pipeline", 2, 2, None))
    if args.compare_unpinned and not args.smoke:  # tasks not held to their CPU (parallelism.pin_tasks: false)
        plan += [("unpinned pipeline", 2, 2, 1), ("unpinned pipeline", 1, 2, 1)]
    for rep in range(args.reps):
        for kind, n, cores, threads in plan:
            _run(kind, _name(kind, n, cores, threads), roots, work / "out" / kind, n, cores, threads, args, runs, rep)
    if args.demo_scale:
        demo = write_corpus("demo", work / f"raw_demo_x{args.demo_scale}", args)
        for rep in range(args.reps):
            for n in (1, 2):
                _run(
                    "demo pipeline",
                    _name("demo pipeline", n, n, 1),
                    demo,
                    work / "out" / "demo",
                    n,
                    n,
                    1,
                    args,
                    runs,
                    rep,
                )
    return runs


def run_memory(args: argparse.Namespace, work: Path) -> dict[str, list[dict[str, Any]]]:
    roots = write_corpus("long", work / f"raw_long_{args.long_episodes}x{args.long_frames}", args)
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    threads = None if args.memory_threads == 0 else args.memory_threads  # the codec default unless told
    n = args.memory_workers  # on 2 cores either way: one worker then runs every episode
    name = _name("long pipeline", n, 2, threads)
    _run("long pipeline", name, roots, work / "out" / "long", n, 2, threads, args, runs, 0)
    r = runs[name][0]
    log(f"  workers' peak RSS {r['worker_peak_rss_mb']} MB, driver {r['driver_peak_rss_mb']} MB")
    return runs


def driver(args: argparse.Namespace) -> None:
    import av
    import ray

    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="eidata-bench-ingest-"))
    if args.write_only:  # corpora only (e.g. while the machine is busy), into --workdir for the timed runs
        if args.phase in ("all", "scaling"):
            write_corpus("mix", work / f"raw_mix_x{args.scale}", args)
            if args.demo_scale:
                write_corpus("demo", work / f"raw_demo_x{args.demo_scale}", args)
        if args.phase in ("all", "memory"):
            write_corpus("long", work / f"raw_long_{args.long_episodes}x{args.long_frames}", args)
        return
    runs: dict[str, list[dict[str, Any]]] = {}
    try:
        if args.phase in ("all", "scaling"):
            runs.update(run_scaling(args, work))
        if args.phase in ("all", "memory"):
            runs.update(run_memory(args, work))
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    summary = summarize(runs, args)
    print_table(summary["runs"])
    summary.update(
        scale=args.scale,
        demo_scale=args.demo_scale,
        reps=args.reps,
        max_in_flight=args.max_in_flight,
        cpus=os.cpu_count(),
        versions={"python": platform.python_version(), "ray": ray.__version__, "av": av.__version__},
    )
    print(json.dumps(summary))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--phase",
        choices=("all", "scaling", "memory"),
        default="all",
        help="scaling: 1 vs 2 workers, decode+encode baseline; memory: long AgiBot episodes",
    )
    p.add_argument("--scale", type=int, default=2, help="multiplies the mix corpus's episodes")
    p.add_argument("--demo-scale", type=int, default=4, help="write_raw_corpus scale for the demo corpus (0: skip)")
    p.add_argument("--reps", type=int, default=1, help="repetitions of every scaling run (medians reported)")
    p.add_argument("--max-in-flight", type=int, default=8, help="parallelism.max_in_flight of every job")
    p.add_argument("--long-episodes", type=int, default=3)
    p.add_argument("--long-frames", type=int, default=1800, help="frames per long AgiBot episode (30 Hz)")
    p.add_argument("--no-default-threads", action="store_true", help="skip the run with the codec's default threads")
    p.add_argument(
        "--compare-unpinned",
        action="store_true",
        help="also run the pipeline 2w/2c and 1w/2c with parallelism.pin_tasks false",
    )
    p.add_argument("--memory-workers", type=int, default=2, help="Ray workers of the memory run (on 2 cores)")
    p.add_argument("--memory-threads", type=int, default=0, help="codec.threads of the memory run (0: the default)")
    p.add_argument("--workdir", default=None, help="keep corpora here and reuse them (default: a temp dir, removed)")
    p.add_argument(
        "--sequential-baseline",
        action="store_true",
        help="baseline encodes an episode's cameras one after another (default: at once, as the pipeline)",
    )
    p.add_argument("--write-only", action="store_true", help="only write the corpora into --workdir")
    p.add_argument("--keep-outputs", action="store_true", help="keep each run's output corpus (in --workdir)")
    p.add_argument("--quiet-cores", type=float, default=0.5, help="wait until others use fewer cores than this")
    p.add_argument("--max-wait", type=float, default=240, help="at most this many seconds of waiting per run")
    p.add_argument("--child", choices=tuple(CHILDREN), help=argparse.SUPPRESS)
    p.add_argument("--config", help=argparse.SUPPRESS)
    smoke = {"phase": "scaling", "reps": 1, "demo_scale": 0, "max_wait": 0}
    args = parse_args(p, smoke, "3 tiny episodes; pipeline, baseline and inprocess on 1 core; no quiet wait")
    if args.write_only and not args.workdir:
        p.error("--write-only needs --workdir")
    if args.child:
        result = CHILDREN[args.child](json.loads(args.config))
        print(RESULT + json.dumps(result), flush=True)
    else:
        driver(args)


if __name__ == "__main__":
    main()
