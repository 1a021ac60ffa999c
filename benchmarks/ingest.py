"""Ingest on Ray: 1 vs 2 workers, the pipeline against pure decode + encode, and peak RSS per worker.

    .venv/bin/python -m benchmarks.ingest [--phase all|scaling|memory] [--scale 2] [--reps 1] [--workdir DIR]
    (the recorded figures: --scale 2 --reps 2 --long-episodes 6; see BENCHMARKS.md)
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

- **pipeline**: `jobs.ingest.run_ingest` on embedded Ray, `codec.threads=1` unless "threads=default" (unset: the
  job's defaults). Ray is started
  first (with the job's own `_init_ray`) so its start-up is timed apart: "s" is `run_ingest` alone (discovery, every
  task, commits, catalog rebuild); "+ray s" adds the Ray start-up. Every task's start and end are recorded (the task
  function is wrapped) for the timeline: first task start, tail after the last task, worker-seconds in tasks.
- **baseline**: the same videos decoded and encoded and nothing else, in N forked processes on the same M cores. The
  raw episodes are opened with the adapters before the clock (no frame is decoded by opening); then, from a barrier,
  every camera the job keeps is decoded with the adapter's own camera (every source frame up to the last one used;
  RGB conversion only for the frames used), the frame at or before each 10 Hz grid time is picked (the canonical
  grid; nothing else is resampled) and encoded with `VideoEncoder` and the same codec settings, an episode's cameras
  at once as in the pipeline (`--sequential-baseline`: one after another).
- **inprocess**: `jobs.ingest.process_episode` (everything a Ray task does) in N forked processes with the baseline's
  split of episodes: no Ray, no driver, no commits, no catalog. It separates the pipeline's own work from Ray's cost.
- overhead = (pipeline s per camera frame) / (baseline s per camera frame) - 1, on the same cores; the task overhead
  compares worker-seconds in tasks with baseline process-seconds, which leaves out start-up and the tail.

A sampler thread in each pipeline process reads VmRSS, VmHWM and CPU ticks of every descendant process (Ray's raylet,
GCS, agents and workers) from /proc every 0.2 s. Workers are the `ray::` / `default_worker.py` processes; their VmHWM
is read before `ray.shutdown()`. "other" is the cores used by anything else on the machine during the run (/proc/stat
minus this run's processes). Progress goes to stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks._cli import parse_args
from benchmarks._machine import CLOCK_TICK, ROOT, log, machine_busy_s, status_kb, wait_quiet

ENV = {"SVT_LOG": "1", "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(ROOT)}
os.environ.update({k: v for k, v in ENV.items() if k != "PYTHONPATH"})

RESULT = "RESULT "
ADAPTERS = {"bridge": "oxe", "agibot": "agibot", "ego4d": "ego4d", "egodex": "egodex", "lerobot": "lerobot"}


# -- corpora --------------------------------------------------------------------------------------------------------
def _write_source(job: tuple[str, str, int]) -> tuple[str, str]:
    """One source of one corpus (runs in a pool process). Returns (source name, adapter root)."""
    kind, raw, scale = job[0], Path(job[1]), job[2]
    from adapters.synthetic.agibot import EpisodeSpec, write_agibot

    if kind == "bridge":
        from adapters.synthetic.rlds import write_rlds

        write_rlds(raw / "bridge", "bridge", episodes=8 * scale, steps=50, vary_steps=True, image_size=(224, 224))
        return "bridge", str(next((raw / "bridge").rglob("dataset_info.json")).parent)
    if kind == "agibot":
        specs = [EpisodeSpec(327, 700_000 + k, 900) for k in range(3 * scale)]
        write_agibot(raw / "agibot", specs, height=224, width=224)
        return "agibot", str(raw / "agibot")
    if kind == "ego4d":
        from adapters.synthetic.ego4d import write_ego4d

        write_ego4d(raw / "ego4d", num_videos=2 * scale, duration_s=30.0, narrations_per_video=6, height=224, width=224)
        return "ego4d", str(raw / "ego4d")
    if kind == "egodex":
        from adapters.synthetic.egodex import write_egodex

        write_egodex(raw / "egodex", episodes_per_task=3 * scale, num_frames=300, height=224, width=224,
                     old_episode=False)  # fmt: skip
        return "egodex", str(raw / "egodex")
    if kind == "lerobot":
        from jobs.demo.robot import run_demo

        return "lerobot", str(run_demo(raw / "lerobot_out", episodes=4 * scale, quiet=True).root.parent)
    if kind.startswith("long"):  # one long AgiBot episode per task id, so pool processes never share a task_info file
        k = int(kind[4:])
        write_agibot(raw / "agibot", [EpisodeSpec(400 + k, 800_000 + k, scale)], height=480, width=640)
        return "agibot", str(raw / "agibot")
    raise ValueError(kind)


def _write_tiny(raw: Path) -> dict[str, str]:
    """The smoke corpus: two sources, three short 64x64 episodes, written in this process."""
    from adapters.synthetic.agibot import EpisodeSpec, write_agibot
    from adapters.synthetic.rlds import write_rlds

    write_rlds(raw / "bridge", "bridge", episodes=2, steps=10, image_size=(64, 64))
    write_agibot(raw / "agibot", [EpisodeSpec(327, 700_000, 20)], height=64, width=64)
    return {"bridge": str(next((raw / "bridge").rglob("dataset_info.json")).parent), "agibot": str(raw / "agibot")}


def write_corpus(name: str, raw: Path, args: argparse.Namespace) -> dict[str, str]:
    """Write corpus `name` under `raw` (or reuse a complete one there). Returns source name -> adapter root."""
    done = raw / "roots.json"
    if done.exists():
        log(f"[corpus] {name}: reusing {raw}")
        return {k: str(raw / v) for k, v in json.loads(done.read_text()).items()}
    shutil.rmtree(raw, ignore_errors=True)
    raw.mkdir(parents=True)
    t0 = time.perf_counter()
    if name == "demo":
        from jobs.demo.corpus import write_raw_corpus

        roots = {k: str(v) for k, v in write_raw_corpus(raw, scale=args.demo_scale, corrupt=False).items()}
    elif name == "tiny":
        roots = _write_tiny(raw)
    else:
        if name == "mix":
            jobs = [(k, str(raw), args.scale) for k in ("agibot", "ego4d", "egodex", "bridge", "lerobot")]
        else:
            jobs = [(f"long{k}", str(raw), args.long_frames) for k in range(args.long_episodes)]
        pool = mp.get_context("spawn").Pool(min(len(jobs), os.cpu_count() or 1))
        roots = dict(pool.map(_write_source, jobs))
        pool.close()
        pool.join()
    done.write_text(json.dumps({k: str(Path(v).relative_to(raw)) for k, v in roots.items()}))  # movable
    log(f"[corpus] {name}: written in {time.perf_counter() - t0:.1f} s")
    return roots


def job_spec(roots: dict[str, str], output: Path, cpus: int, threads: int | None, in_flight: int) -> dict[str, Any]:
    return {
        "output": str(output),
        "sources": [{"name": n, "adapter": ADAPTERS[n], "root": r} for n, r in roots.items()],
        "codec": {"threads": threads},
        "parallelism": {"num_cpus": cpus, "max_in_flight": in_flight},
    }


# -- measuring ------------------------------------------------------------------------------------------------------
class TreeSampler(threading.Thread):
    """Every `interval` s: VmRSS, VmHWM and CPU ticks of every descendant of this process, by pid."""

    def __init__(self, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.interval, self.root = interval, os.getpid()
        self.procs: dict[int, dict[str, Any]] = {}
        self.max_tree_rss_kb = 0
        self._halt = threading.Event()
        self._lock = threading.Lock()

    def descendants(self) -> list[int]:
        children: dict[int, list[int]] = defaultdict(list)
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    stat = Path(f"/proc/{d}/stat").read_text()
                except OSError:
                    continue
                children[int(stat.rsplit(")", 1)[1].split()[1])].append(int(d))
        out, todo = [], list(children[self.root])
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo += children[pid]
        return out

    def sample(self) -> None:
        with self._lock:
            tree = 0
            for pid in self.descendants():
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    mem = status_kb(pid, "VmRSS", "VmHWM")
                    if pid not in self.procs:
                        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
                        cpus = sorted(os.sched_getaffinity(pid))
                        self.procs[pid] = {"kind": _kind(cmd), "rss_kb": 0, "hwm_kb": 0, "cpu_s": 0.0, "cpus": cpus}
                except OSError:
                    continue
                p = self.procs[pid]
                p["rss_kb"] = max(p["rss_kb"], mem.get("VmRSS", 0))
                p["hwm_kb"] = max(p["hwm_kb"], mem.get("VmHWM", 0))
                p["cpu_s"] = (int(fields[11]) + int(fields[12])) / CLOCK_TICK
                tree += mem.get("VmRSS", 0)
            self.max_tree_rss_kb = max(self.max_tree_rss_kb, tree)

    def cpu_s(self) -> float:
        with self._lock:
            return sum(p["cpu_s"] for p in self.procs.values())

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._halt.set()
        self.join()


def _kind(cmd: str) -> str:
    if cmd.startswith("ray::") or "default_worker.py" in cmd:
        return "worker"
    parts = cmd.split()
    script = next((Path(p).name for p in parts if p.endswith(".py")), None)
    return script or (Path(parts[0]).name if parts else "?")


def self_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def dataset_sizes(output: Path) -> list[dict[str, Any]]:
    """Per output dataset: rows, camera frames (rows x video features), video and parquet bytes."""
    out = []
    for info_path in sorted(output.glob("datasets/*/*/meta/info.json")):
        root = info_path.parent.parent
        info = json.loads(info_path.read_text())
        videos = {k: f["shape"][:2] for k, f in info["features"].items() if f["dtype"] == "video"}
        rows = info["total_frames"]
        video_bytes = sum(p.stat().st_size for p in root.glob("videos/**/*.mp4"))
        data_bytes = sum(p.stat().st_size for p in root.glob("data/**/*.parquet"))
        out.append({
            "dataset": str(root.relative_to(output / "datasets")), "episodes": info["total_episodes"], "rows": rows,
            "cameras": videos, "camera_frames": rows * len(videos), "video_bytes": video_bytes,
            "parquet_bytes": data_bytes,
            "video_bytes_per_camera_frame": round(video_bytes / max(rows * len(videos), 1)),
            "parquet_bytes_per_row": round(data_bytes / max(rows, 1)),
        })  # fmt: skip
    return out


# -- children -------------------------------------------------------------------------------------------------------
def timed_process_episode(item: dict[str, Any]) -> dict[str, Any]:
    """`jobs.ingest.process_episode` with its start and end (epoch s) and worker pid added to the result."""
    from jobs.ingest import process_episode  # the worker's own, unpatched module; imported before the clock

    t0 = time.time()
    result = process_episode(item)
    return {**result, "_bench": (t0, time.time(), os.getpid(), status_kb("self", "VmRSS")["VmRSS"] // 1024)}


def timeline(results: list[tuple[float, float, int, int]], start: float, end: float) -> dict[str, Any]:
    """When the workers were busy: from the job's start, the first task's start; to the job's end, the last task's
    end; the sum of task times (worker busy seconds); each worker's RSS (MB) after each of its tasks, in order."""
    if not results:
        return {}
    first, last = min(r[0] for r in results), max(r[1] for r in results)
    busy = sum(r[1] - r[0] for r in results)
    rss: dict[int, list[int]] = defaultdict(list)
    for r in sorted(results, key=lambda r: r[1]):
        rss[r[2]].append(r[3])
    return {"first_task_start_s": first - start, "last_task_end_s": last - start, "tail_s": end - last,
            "task_busy_s": busy, "tasks": len(results), "rss_mb_after_each_task": list(rss.values())}  # fmt: skip


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
        "init_s": init_s, "job_s": job_s, "total_s": init_s + job_s, "shutdown_s": shutdown_s, "rows": frames,
        "timeline": timeline(marks, epoch1, epoch1 + job_s),
        "episodes": sum(t.written for t in report.tallies.values()), "quarantined": report.quarantined,
        "datasets": dataset_sizes(spec.output), "cpu_s": tree_cpu + own_cpu,
        "cpu_s_by_process": {k: round(v, 1) for k, v in cpu_by_kind.items()},
        "other_cores": max(busy - tree_cpu - own_cpu, 0.0) / wall,
        "workers": len(workers), "worker_cpus": sorted({c for p in workers for c in p["cpus"]}),
        "worker_peak_rss_mb": sorted(round(p["hwm_kb"] / 1024) for p in workers),
        "worker_max_sampled_rss_mb": round(max((p["rss_kb"] for p in workers), default=0) / 1024),
        "driver_peak_rss_mb": round(status_kb("self", "VmHWM")["VmHWM"] / 1024),
        "ray_processes_peak_rss_mb": {k: round(v / 1024) for k, v in sorted(others.items())},
        "tree_max_rss_mb": round(sampler.max_tree_rss_kb / 1024),
    }  # fmt: skip


def _prepare(spec_json: dict[str, Any]) -> dict[str, list[tuple[Any, Any]]]:
    """Every raw episode opened with its adapter (nothing decoded yet), by uid: for every camera the job keeps, the
    source frame shown at each 10 Hz grid time (the canonical grid over the camera's own time span)."""
    import numpy as np

    from adapters import get_adapter
    from ingest.canonical import resample as rs
    from jobs.ingest import discover
    from jobs.spec import JobSpec

    spec = JobSpec.model_validate(spec_json)
    fps, keep = spec.canonicalize.fps, spec.canonicalize.cameras
    out: dict[str, list[tuple[Any, Any]]] = {}
    for it in discover(spec)[0]:
        raw = get_adapter(it.source.adapter, it.source.options).read(it.ref)
        out[it.uid] = []
        for cam in raw.cameras.values():
            if cam.canonical is None or (keep is not None and cam.canonical not in keep) or not len(cam):
                continue
            t = cam.timestamps
            grid = t[0] + np.arange(int(np.floor((t[-1] - t[0]) * fps + 1e-6)) + 1) / fps
            out[it.uid].append((cam, rs.nearest_at_or_before(t, grid)))
    return out


def _baseline_share(episodes: list[list[tuple[Any, Any]]], codec_json: dict[str, Any], fps: int, interleave: bool,
                    out_dir: str, barrier: Any, queue: Any) -> None:  # fmt: skip
    """One process's share: decode and encode, timed from the barrier (cameras were opened before the fork).
    `interleave`: an episode's cameras are encoded at once, frame by frame, as the pipeline does; else one by one."""
    from ingest.canonical.canonicalize import ResampledCamera
    from ingest.lerobot.video import VideoCodec, VideoEncoder

    codec = VideoCodec.model_validate(codec_json)
    barrier.wait()
    t0, c0 = time.perf_counter(), self_cpu_s()
    frames = n = 0
    for cams in episodes:
        groups = [cams] if interleave else [[c] for c in cams]
        for group in groups:
            streams = []
            for cam, idx in group:
                n += 1
                enc = VideoEncoder(Path(out_dir) / f"{os.getpid()}-{n}.mp4", cam.width, cam.height, fps, codec)
                streams.append((ResampledCamera(cam, idx).frames(), enc))  # the pipeline's own frame picking
            while streams:
                for it, enc in list(streams):
                    rgb = next(it, None)
                    if rgb is None:
                        enc.close()
                        frames += enc.frames
                        streams.remove((it, enc))
                    else:
                        enc.encode(rgb)
    queue.put({"seconds": time.perf_counter() - t0, "cpu_s": self_cpu_s() - c0, "camera_frames": frames,
               "start": t0, "end": time.perf_counter()})  # fmt: skip


def _inprocess_share(items: list[dict[str, Any]], barrier: Any, queue: Any) -> None:
    """One process's share of `jobs.ingest.process_episode` calls (read, canonicalize, stage), without Ray."""
    import adapters  # noqa: F401 - every adapter, imported before the clock as a warm Ray worker has them
    import ingest.canonical.store  # noqa: F401
    from jobs.ingest import process_episode

    barrier.wait()
    t0, c0 = time.perf_counter(), self_cpu_s()
    frames = 0
    for item in items:
        for ep in process_episode(item).get("episodes", []):
            videos = sum(1 for f in ep["features"].values() if f["dtype"] == "video")
            frames += ep["staged"]["length"] * videos
    queue.put({"seconds": time.perf_counter() - t0, "cpu_s": self_cpu_s() - c0, "camera_frames": frames,
               "start": t0, "end": time.perf_counter()})  # fmt: skip


def _split(cost: dict[str, int], n: int) -> list[list[str]]:
    """Largest first, each to the least loaded of `n` shares."""
    shares: list[list[str]] = [[] for _ in range(n)]
    load = [0] * n
    for u in sorted(cost, key=lambda u: -cost[u]):
        k = load.index(min(load))
        shares[k].append(u)
        load[k] += cost[u]
    return shares


def _forked(target: Any, shares: list[Any], extra: tuple[Any, ...]) -> dict[str, Any]:
    """`target(share, *extra, barrier, queue)` in one forked process per share; timed from a common barrier to the
    last one done."""
    ctx = mp.get_context("fork")  # the children inherit what was opened before
    barrier, queue = ctx.Barrier(len(shares) + 1), ctx.Queue()
    procs = [ctx.Process(target=target, args=(s, *extra, barrier, queue)) for s in shares]
    for p in procs:
        p.start()
    barrier.wait()
    busy0, t0 = machine_busy_s(), time.perf_counter()
    results = [queue.get() for _ in procs]
    # from the first start: on few cores a short share can be done before this process is scheduled again
    wall = max(r["end"] for r in results) - min(t0, *(r["start"] for r in results))
    busy = machine_busy_s() - busy0
    for p in procs:
        p.join()
    cpu = sum(r["cpu_s"] for r in results)
    return {
        "seconds": wall, "camera_frames": sum(r["camera_frames"] for r in results), "cpu_s": cpu,
        "per_process_s": [round(r["seconds"], 2) for r in results], "other_cores": max(busy - cpu, 0.0) / wall,
    }  # fmt: skip


def _shares(cfg: dict[str, Any]) -> tuple[dict[str, list[tuple[Any, Any]]], list[list[str]]]:
    """The opened episodes and their split over the processes by work (grid frames x pixels)."""
    prepared = _prepare(cfg["spec"])
    cost = {u: sum(len(i) * c.width * c.height for c, i in cams) for u, cams in prepared.items()}
    return prepared, _split(cost, cfg["processes"])


def child_baseline(cfg: dict[str, Any]) -> dict[str, Any]:
    """Decode + encode of the pipeline's camera frames in `processes` forked processes."""
    os.sched_setaffinity(0, cfg["cores"])  # inherited by the forked processes
    spec_json = cfg["spec"]
    prepared, shares = _shares(cfg)
    out_dir = Path(spec_json["output"])
    out_dir.mkdir(parents=True, exist_ok=True)
    fps = spec_json.get("canonicalize", {}).get("fps", 10)
    extra = (spec_json["codec"], fps, cfg.get("interleave", True), str(out_dir))
    result = _forked(_baseline_share, [[prepared[u] for u in share] for share in shares], extra)
    return {**result, "video_bytes": sum(p.stat().st_size for p in out_dir.glob("*.mp4"))}


def child_inprocess(cfg: dict[str, Any]) -> dict[str, Any]:
    """The pipeline's per-episode work (`process_episode`) without Ray, driver, commits or catalog, in `processes`
    forked processes with the baseline's split."""
    from jobs.ingest import discover
    from jobs.spec import JobSpec

    os.sched_setaffinity(0, cfg["cores"])
    spec = JobSpec.model_validate(cfg["spec"])
    _, shares = _shares(cfg)
    payload = {"canonicalize": spec.canonicalize.model_dump(mode="json"), "codec": spec.codec.model_dump(mode="json"),
               "output": str(spec.output)}  # fmt: skip
    items = {it.uid: {**payload, "uid": it.uid, "source": it.source.model_dump(mode="json"),
                      "ref": it.ref.model_dump(mode="json")} for it in discover(spec)[0]}  # fmt: skip
    return _forked(_inprocess_share, [[items[u] for u in share] for share in shares], ())


CHILDREN = {"pipeline": child_pipeline, "baseline": child_baseline, "inprocess": child_inprocess}


def spawn(kind: str, cfg: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    quiet = wait_quiet(args.quiet_cores, args.max_wait)
    log(f"  machine before: {quiet}")
    shutil.rmtree(cfg["spec"]["output"], ignore_errors=True)
    env = {**os.environ, **ENV}
    cmd = [sys.executable, "-m", __spec__.name, "--child", kind, "--config", json.dumps(cfg)]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT)]
    if proc.returncode != 0 or not lines:
        sys.exit(f"{kind}: child failed (exit {proc.returncode})\n{proc.stdout}")
    result = {**json.loads(lines[-1][len(RESULT) :]), **quiet}
    if result["other_cores"] > 0.15:
        log(f"  WARNING: other processes used {result['other_cores']:.2f} cores during the run; figures distorted")
    if not args.keep_outputs:
        shutil.rmtree(cfg["spec"]["output"], ignore_errors=True)
    return result


# -- driver ---------------------------------------------------------------------------------------------------------
def _camera_frames(r: dict[str, Any]) -> int:
    return r["camera_frames"] if "camera_frames" in r else sum(d["camera_frames"] for d in r["datasets"])


def _seconds(r: dict[str, Any]) -> float:
    return r["job_s"] if "job_s" in r else r["seconds"]


def _med(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _name(kind: str, n: int, cores: int, threads: int | None) -> str:
    unit = "w" if "pipeline" in kind else "p"
    return f"{kind} {n}{unit}/{cores}c" + ("" if threads == 1 else " threads=default")


def _run(kind: str, name: str, roots: dict[str, str], out: Path, n: int, cores: int, threads: int | None,
         args: argparse.Namespace, runs: dict[str, list[dict[str, Any]]], rep: int) -> None:  # fmt: skip
    log(f"--- rep {rep + 1}/{args.reps}: {name}")
    cfg = {"spec": job_spec(roots, out, n, threads, args.max_in_flight), "processes": n, "cores": list(range(cores)),
           "interleave": not args.sequential_baseline}  # fmt: skip
    r = spawn(kind.split()[-1], cfg, args)
    log(f"  {_seconds(r):.1f} s, {_camera_frames(r)} camera frames, other {r['other_cores']:.2f} cores")
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
    for rep in range(args.reps):
        for kind, n, cores, threads in plan:
            _run(kind, _name(kind, n, cores, threads), roots, work / "out" / kind, n, cores, threads, args, runs, rep)
    if args.demo_scale:
        demo = write_corpus("demo", work / f"raw_demo_x{args.demo_scale}", args)
        for rep in range(args.reps):
            for n in (1, 2):
                _run("demo pipeline", _name("demo pipeline", n, n, 1), demo, work / "out" / "demo", n, n, 1, args,
                     runs, rep)  # fmt: skip
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


def summarize(runs: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> dict[str, Any]:
    rows = []
    for name, rs in runs.items():
        s, cf = _med(rs, "job_s" if "pipeline" in name else "seconds"), _camera_frames(rs[0])
        cores = int(name.split("/")[1].split("c")[0])
        row = {"run": name, "seconds": round(s, 2), "camera_frames": cf, "camera_fps": round(cf / s, 1),
               "camera_fps_per_core": round(cf / s / cores, 1), "cpu_s": round(_med(rs, "cpu_s"), 1),
               "other_cores_max": round(max(r["other_cores"] for r in rs), 2),
               "loadavg_1m_before_max": max(r["loadavg_1m_before"] for r in rs),
               "busy_cores_before_max": max(r["busy_cores_before"] for r in rs)}  # fmt: skip
        if "pipeline" in name:
            row.update(total_s=round(_med(rs, "total_s"), 2), ray_init_s=round(_med(rs, "init_s"), 2),
                       rows=rs[0]["rows"], rows_per_s_per_core=round(rs[0]["rows"] / s / cores, 1),
                       workers=rs[0]["workers"], worker_cpus=rs[0]["worker_cpus"],
                       worker_peak_rss_mb=max(max(r["worker_peak_rss_mb"], default=0) for r in rs),
                       driver_peak_rss_mb=max(r["driver_peak_rss_mb"] for r in rs),
                       tree_max_rss_mb=max(r["tree_max_rss_mb"] for r in rs),
                       cpu_s_by_process=rs[0]["cpu_s_by_process"],
                       **{k: round(statistics.median(r["timeline"][k] for r in rs), 2)
                          for k in ("first_task_start_s", "tail_s", "task_busy_s")})  # fmt: skip
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
            speedup_2w2c_vs_1w1c=ratio(p1, p2), speedup_2w2c_vs_1w1c_with_ray_init=ratio(p1, p2, "total_s"),
            speedup_2w_vs_1w_both_on_2c=ratio("pipeline 1w/2c", p2),
            speedup_demo_corpus_2w2c_vs_1w1c=ratio("demo pipeline 1w/1c", "demo pipeline 2w/2c"),
            speedup_target=1.8,
            overhead_1w1c=overhead(p1, "baseline 1p/1c"), overhead_2w2c=overhead(p2, "baseline 2p/2c"),
            overhead_target=0.25,
            inprocess_overhead_1p1c=overhead("inprocess 1p/1c", "baseline 1p/1c"),
            inprocess_overhead_2p2c=overhead("inprocess 2p/2c", "baseline 2p/2c"),
            inprocess_speedup_2p2c_vs_1p1c=ratio("inprocess 1p/1c", "inprocess 2p/2c"),
            task_overhead_1w1c=worker_overhead(p1, "baseline 1p/1c"),
            task_overhead_2w2c=worker_overhead(p2, "baseline 2p/2c"),
            baseline_speedup_2p2c_vs_1p1c=ratio("baseline 1p/1c", "baseline 2p/2c"),
            camera_fps_per_core=by[p2]["camera_fps_per_core"], rows_per_s_per_core=by[p2]["rows_per_s_per_core"],
            mix_datasets=[{k: d[k] for k in ("dataset", "cameras", "rows", "video_bytes_per_camera_frame",
                                            "parquet_bytes_per_row")} for d in runs[p2][0]["datasets"]],
        )  # fmt: skip
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
        print(f"{r['run']:<36} {r['seconds']:>7.1f} {r.get('total_s', r['seconds']):>7.1f} {r['camera_frames']:>10} "
              f"{r['camera_fps']:>8.0f} {r.get('camera_fps_per_core', float('nan')):>8.0f} {r['cpu_s']:>6.0f} "
              f"{r['other_cores_max']:>5.2f} {r['loadavg_1m_before_max']:>5.2f} "
              f"{r.get('worker_peak_rss_mb', '-'):>9} {r.get('driver_peak_rss_mb', '-'):>9}")  # fmt: skip


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
    summary.update(scale=args.scale, demo_scale=args.demo_scale, reps=args.reps, max_in_flight=args.max_in_flight,
                   cpus=os.cpu_count(), versions={"python": platform.python_version(), "ray": ray.__version__,
                                                  "av": av.__version__})  # fmt: skip
    print(json.dumps(summary))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--phase", choices=("all", "scaling", "memory"), default="all",
                   help="scaling: 1 vs 2 workers, decode+encode baseline; memory: long AgiBot episodes")  # fmt: skip
    p.add_argument("--scale", type=int, default=2, help="multiplies the mix corpus's episodes")
    p.add_argument("--demo-scale", type=int, default=4, help="write_raw_corpus scale for the demo corpus (0: skip)")
    p.add_argument("--reps", type=int, default=1, help="repetitions of every scaling run (medians reported)")
    p.add_argument("--max-in-flight", type=int, default=8, help="parallelism.max_in_flight of every job")
    p.add_argument("--long-episodes", type=int, default=3)
    p.add_argument("--long-frames", type=int, default=1800, help="frames per long AgiBot episode (30 Hz)")
    p.add_argument("--no-default-threads", action="store_true", help="skip the run with the codec's default threads")
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
