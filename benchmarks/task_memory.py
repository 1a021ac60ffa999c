"""What the task memory limit and the per-file discovery boundary cost a normal ingest (issue 58 items 1 and 2).

Three figures, in this process, on good data only (`tests.fixtures.library_bombs` writers, none a bomb):

- `limit`: `adapters.storage.memory_limit.task_memory(640)` entered and left (read `VmData`, reset the resident
  peak, two `setrlimit`), per task;
- `discovery`: the `arrays` and `lerobot` adapters' discovery of `--stores` Zarr buffers / datasets through the
  boundary every adapter gets (`adapters.isolated`: the audit hook watching the opens, refs counted) against the
  adapter's own `discover` (`__wrapped__`), per ref;
- `episode`: `jobs.ingest.worker.process_episode` (read, canonicalize, judge, stage) of the same episodes with
  `parallelism.task_memory_mib` 640 and null, alternated, per episode.

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=20, help="Zarr buffers and robomimic files (LeRobot: a quarter)")
    parser.add_argument("--rounds", type=int, default=5, help="alternated rounds of each measure")
    args = parse_args(parser, {"stores": 2, "rounds": 1}, "2 stores, 1 round")

    from adapters import get_adapter
    from adapters.storage.memory_limit import task_memory
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
        out["episodes"] = args.stores
    print(json.dumps(out))


if __name__ == "__main__":
    main()
