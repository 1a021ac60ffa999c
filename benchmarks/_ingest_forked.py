"""The ingest benchmark's runs without Ray, in forked processes from a common barrier: the baseline (the same
videos decoded and encoded, nothing else) and inprocess (`jobs.ingest.worker.process_episode` without Ray, driver,
commits or catalog), both with one split of the episodes by work (see `benchmarks.ingest`).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks._ingest_measure import self_cpu_s
from benchmarks._machine import machine_busy_s

if TYPE_CHECKING:
    from jobs.ingest.task import EpisodeTask


def _prepare(spec_json: dict[str, Any]) -> dict[str, list[tuple[Any, Any]]]:
    """Every raw episode opened with its adapter (nothing decoded yet), by uid: for every camera the job keeps, the
    source frame shown at each 10 Hz grid time (the canonical grid over the camera's own time span)."""
    import numpy as np

    from adapters import get_adapter
    from ingest.canonical import resample as rs
    from jobs.spec_models import JobSpec
    from schemas.canonical import CANONICAL_FPS
    from tests.fixtures.discovery import discover

    spec = JobSpec.model_validate(spec_json)
    fps, keep = CANONICAL_FPS, spec.canonicalize.cameras
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


def _report(queue: Any, t0: float, c0: float, frames: int) -> None:
    """A process's share: wall and CPU seconds since (t0, c0), camera frames, and its start and end on the clock."""
    end = time.perf_counter()
    queue.put({"seconds": end - t0, "cpu_s": self_cpu_s() - c0, "camera_frames": frames, "start": t0, "end": end})


def _baseline_share(
    episodes: list[list[tuple[Any, Any]]],
    codec_json: dict[str, Any],
    fps: int,
    interleave: bool,
    out_dir: str,
    barrier: Any,
    queue: Any,
) -> None:
    """One process's share: decode and encode, timed from the barrier (cameras were opened before the fork).
    `interleave`: an episode's cameras are encoded at once, frame by frame, as the pipeline does; else one by one."""
    from ingest.episode import ResampledCamera
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
    _report(queue, t0, c0, frames)


def _inprocess_share(tasks: list[EpisodeTask], barrier: Any, queue: Any) -> None:
    """One process's share of `jobs.ingest.worker.process_episode` calls (read, canonicalize, stage), without Ray."""
    import adapters  # noqa: F401 - every adapter, imported before the clock as a warm Ray worker has them
    import ingest.canonical.store  # noqa: F401
    from jobs.ingest.task import Staged
    from jobs.ingest.worker import process_episode

    barrier.wait()
    t0, c0 = time.perf_counter(), self_cpu_s()
    frames = 0
    for task in tasks:
        result = process_episode(task)
        for ep in result.episodes if isinstance(result, Staged) else ():
            videos = sum(1 for f in ep.features.values() if f.dtype == "video")
            frames += ep.staged.length * videos
    _report(queue, t0, c0, frames)


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
        "seconds": wall,
        "camera_frames": sum(r["camera_frames"] for r in results),
        "cpu_s": cpu,
        "per_process_s": [round(r["seconds"], 2) for r in results],
        "other_cores": max(busy - cpu, 0.0) / wall,
    }


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
    from jobs.ingest.task import EpisodeTask, TaskSettings
    from jobs.spec_models import JobSpec
    from tests.fixtures.discovery import discover

    os.sched_setaffinity(0, cfg["cores"])
    spec = JobSpec.model_validate(cfg["spec"])
    _, shares = _shares(cfg)
    settings = TaskSettings.of(spec, spec.output)  # what a Ray task gets: the codec, the CPU it holds to, the deadline
    tasks = {it.uid: EpisodeTask(it, settings) for it in discover(spec)[0]}
    return _forked(_inprocess_share, [[tasks[u] for u in share] for share in shares], ())
