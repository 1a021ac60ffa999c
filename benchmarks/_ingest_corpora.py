"""The ingest benchmark's corpora, written once by `adapters/synthetic/` and reused from `--workdir`: mix, demo, long
and the smoke run's tiny one (see `benchmarks.ingest`), and the job spec that ingests them.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import time
from pathlib import Path
from typing import Any

from benchmarks._machine import log

ADAPTERS = {"bridge": "oxe", "agibot": "agibot", "ego4d": "ego4d", "egodex": "egodex", "lerobot": "lerobot"}


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

        write_egodex(
            raw / "egodex", episodes_per_task=3 * scale, num_frames=300, height=224, width=224, old_episode=False
        )
        return "egodex", str(raw / "egodex")
    if kind == "lerobot":
        from jobs.demo.robot import run_demo

        return "lerobot", str(run_demo(raw / "lerobot_out", episodes=4 * scale).root.parent)
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


def job_spec(
    roots: dict[str, str], output: Path, cpus: int, threads: int | None, in_flight: int, *, pin: bool = True
) -> dict[str, Any]:
    return {
        "output": str(output),
        "sources": [{"name": n, "adapter": ADAPTERS[n], "root": r} for n, r in roots.items()],
        "codec": {"threads": threads},
        "parallelism": {"num_cpus": cpus, "max_in_flight": in_flight, "pin_tasks": pin},
    }
