"""What the task memory limit and the per-file discovery boundary cost a normal ingest (issue 58 items 1 and 2).

Three figures, in this process, on good data only (`tests.fixtures.library_bombs` writers, none a bomb):

- `limit`: `adapters.hostile.memory_limit.task_memory(640)` entered and left (read `VmData`, reset the resident
  peak, two `setrlimit`), per task;
- `discovery`: the `arrays` and `lerobot` adapters' discovery of `--stores` Zarr buffers / datasets through the
  boundary every adapter gets (`adapters.isolated`: the audit hook watching the opens, refs counted) against the
  adapter's own `discover` (`__wrapped__`), per ref;
- `episode`: `jobs.ingest.worker.process_episode` (read, canonicalize, judge, stage) of the same episodes with
  `parallelism.task_memory_mib` 640 and null, alternated, per episode;
- `allocators`: the same episodes at 640 MiB with the allocators `memory_limit.settle_allocators` sets (glibc's mmap
  and trim thresholds fixed at 128 KiB, pyarrow through glibc) and as a long-lived worker had them before (glibc's
  thresholds where its dynamic ones end, 32 and 64 MiB; pyarrow's mimalloc), alternated, per episode;
- `frame`: a 1080p H.264 frame decoded to RGB by PyAV (one thread), in fresh processes started bare, with the
  environment a Ray worker of an ingest gets (`memory_limit.allocator_env`: the thresholds and huge pages), and with
  the thresholds alone (what `settle_allocators` gives a process it settles late), per frame.

Times are this process's CPU time (`time.process_time`), medians of the rounds: the shared benchmark host runs at
load 20-30, where wall times of the same work differ by 60 %.

    python -m benchmarks.task_memory [--stores 20] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._cli import parse_args


def _per(fn: Any, n: int) -> float:
    t = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - t) / n


def _write(root: Path, stores: int) -> None:
    from tests.adapters.lerobot.conftest import MOTORS, write_arm_dataset
    from tests.fixtures import library_bombs as lb

    for k in range(stores):
        lb.dp_buffer(root / "zarr" / f"s{k:03d}.zarr", seed=k)
        lb.robomimic(root / "h5" / f"f{k:03d}.hdf5", seed=k)
    rows = np.linspace(0.1, 1.0, 40 * len(MOTORS)).reshape(40, len(MOTORS))
    for k in range(max(stores // 4, 1)):
        write_arm_dataset(root / "lerobot" / f"d{k:03d}", "so101_follower", list(MOTORS), rows)


def _allocators(root: Path, rounds: int) -> dict[str, float]:
    """`process_episode` per episode, ms, with the settled allocators and with the earlier ones, alternated."""
    import pyarrow as pa

    from adapters.hostile import memory_limit as ml
    from jobs.ingest.task import EpisodeTask, TaskSettings
    from jobs.ingest.worker import process_episode
    from jobs.spec_models import JobSpec
    from tests.fixtures.discovery import discover

    def earlier() -> None:  # M_MMAP_THRESHOLD -3, M_TRIM_THRESHOLD -1 (malloc.h)
        if ml._LIBC is not None:
            ml._LIBC.mallopt(-3, 32 << 20)
            ml._LIBC.mallopt(-1, 64 << 20)
        pa.set_memory_pool(pa.mimalloc_memory_pool())

    spec = JobSpec.model_validate(
        {"output": str(root / "out-alloc"), "sources": [{"name": "h5", "adapter": "arrays", "root": str(root / "h5")}]}
    )
    items, _ = discover(spec)
    settings = TaskSettings.of(spec)
    per: dict[str, list[float]] = {"settled": [], "earlier": []}
    for r in range(rounds):
        for mode in sorted(per, reverse=bool(r % 2)):
            (ml.settle_allocators if mode == "settled" else earlier)()
            t = time.process_time()
            for it in items:
                process_episode(EpisodeTask(it, settings))
            per[mode].append((time.process_time() - t) / len(items))
    ml.settle_allocators()
    return {k: round(statistics.median(v) * 1e3, 2) for k, v in per.items()}


_DECODE = """
import statistics, sys, time, numpy as np, av
path = sys.argv[1]
if sys.argv[2] == "write":
    with av.open(path, "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 1920, 1080, "yuv420p"
        for i in range(60):
            img = np.full((1080, 1920, 3), i * 4 % 255, np.uint8)
            img[::7, ::5] = 200
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    sys.exit()
def run():
    t, n = time.process_time(), 0
    with av.open(path) as c:
        c.streams.video[0].thread_type = "NONE"
        for f in c.decode(video=0):
            f.to_ndarray(format="rgb24")
            n += 1
    return (time.process_time() - t) / n
print(statistics.median(run() for _ in range(3)))
"""


def _frames(root: Path, rounds: int) -> dict[str, float]:
    """ms of CPU per 1080p frame decoded to RGB, in fresh processes with each allocator environment."""
    import os
    import subprocess
    import sys

    from adapters.hostile.memory_limit import HUGE_PAGES, allocator_env

    settled = allocator_env({})
    bare = {k: v for k, v in os.environ.items() if k not in settled}
    envs = {"bare": bare, "worker": {**bare, **settled}, "thresholds": {**bare, **settled, "GLIBC_TUNABLES": ""}}
    assert HUGE_PAGES in envs["worker"]["GLIBC_TUNABLES"]
    video = str(root / "frames.mp4")
    subprocess.run([sys.executable, "-c", _DECODE, video, "write"], check=True, env=bare)
    per: dict[str, list[float]] = {k: [] for k in envs}
    for r in range(rounds):
        for name in sorted(envs, reverse=bool(r % 2)):
            done = subprocess.run(
                [sys.executable, "-c", _DECODE, video, "read"],
                check=True,
                env=envs[name],
                capture_output=True,
                text=True,
            )
            per[name].append(float(done.stdout))
    return {k: round(statistics.median(v) * 1e3, 2) for k, v in per.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=20, help="Zarr buffers and robomimic files (LeRobot: a quarter)")
    parser.add_argument("--rounds", type=int, default=5, help="alternated rounds of each measure")
    args = parse_args(parser, {"stores": 2, "rounds": 1}, "2 stores, 1 round")

    from adapters import get_adapter
    from adapters.hostile.memory_limit import task_memory
    from jobs.ingest.task import EpisodeTask, TaskSettings
    from jobs.ingest.worker import process_episode
    from jobs.spec_models import JobSpec
    from tests.fixtures.discovery import discover

    def limited() -> None:
        with task_memory(640):
            pass

    limit_s = statistics.median(_per(limited, 2000) for _ in range(args.rounds))

    out: dict[str, Any] = {"limit_us": round(limit_s * 1e6, 1)}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _write(root, args.stores)
        for name, options, sub in (("arrays", {"fps": 10}, "zarr"), ("lerobot", {}, "lerobot")):
            adapter = get_adapter(name, options)
            bare = type(adapter).discover.__wrapped__  # type: ignore[attr-defined]
            refs = len(list(adapter.discover(root / sub)))
            walls: dict[str, list[float]] = {"boundary": [], "bare": []}
            runs = {
                "boundary": lambda a=adapter, s=sub: list(a.discover(root / s)),
                "bare": lambda a=adapter, s=sub, b=bare: list(b(a, root / s)),
            }
            for r in range(args.rounds):  # each first in every other round
                for key in sorted(runs, reverse=bool(r % 2)):
                    walls[key].append(_per(runs[key], 1))
            out[f"discovery_{name}"] = {
                "refs": refs,
                **{k: round(statistics.median(v) / refs * 1e3, 3) for k, v in walls.items()},  # ms a ref
            }
        per_mode: dict[str, list[float]] = {"640": [], "none": []}
        for r in range(args.rounds):
            for mode, mib in sorted((("640", 640), ("none", None)), reverse=bool(r % 2)):
                spec = JobSpec.model_validate(
                    {
                        "output": str(root / f"out-{mode}"),
                        "parallelism": {"task_memory_mib": mib},
                        "sources": [{"name": "h5", "adapter": "arrays", "root": str(root / "h5")}],
                    }
                )
                items, _ = discover(spec)
                settings = TaskSettings.of(spec)
                t = time.process_time()
                for it in items:
                    process_episode(EpisodeTask(it, settings))
                per_mode[mode].append((time.process_time() - t) / len(items))
        out["episode_ms"] = {k: round(statistics.median(v) * 1e3, 2) for k, v in per_mode.items()}
        out["allocators_ms"] = _allocators(root, args.rounds)
        out["frame_ms"] = _frames(root, args.rounds)
        out["episodes"] = args.stores
    print(json.dumps(out))


if __name__ == "__main__":
    main()
