"""Joint space -> canonical hands: what the FK path costs per frame inside canonicalization, on the real GR00T GR1
sample (`gr00t_robot_sim_picknplace`, tests/REAL_SAMPLES.md: 5 episodes, 2096 rows at 20 Hz, two 7-DoF arms, two 6-DoF
hands). Three figures from the same run, one core (`torch.set_num_threads(1)`):

- floor: the FK calls alone (`load_model(...).forward` for the state's arms, the action's arms and both hands, on
  the same joint matrices), the least any joint-space path can cost;
- joint_space: `ingest.canonical.joint_space.joint_space_signals` (name / modality resolution, units, the FK calls,
  the wrist and hand frames, the command-tracking note);
- canonicalize: the whole `canonicalize` of the episode (resampling to 10 Hz, validity, quality, QA), which the
  joint-space step is part of.

Per-frame figures are per native row. Best and median of `--reps`; the last stdout line is one JSON object.

    .venv/bin/python -m benchmarks.joint_space [--reps 5]
    .venv/bin/python -m benchmarks.joint_space --smoke     # one episode, one repetition: runs, measures nothing
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from adapters.base import RawEpisode
from adapters.lerobot.adapter import LeRobotSource
from benchmarks._cli import parse_args
from benchmarks._machine import log, machine_busy_s
from ingest.canonical.joint_space import joint_space_signals
from ingest.kinematics import load_model
from schemas.robots.registry import JOINT_SPACE
from tests.fixtures.offline import prepared
from tests.realdata import realdata

GR1 = JOINT_SPACE["gr1"]
SAMPLE = "gr00t_robot_sim_picknplace"  # the real sample (tests/REAL_SAMPLES.md)


def floor(raws: list[RawEpisode]) -> Callable[[], None]:
    """The FK calls joint_space_signals makes, on the same matrices, and nothing else."""
    arm = load_model(GR1.description)
    hands = {a.side: a.hand.spec() for a in GR1.arms if a.hand is not None}
    models = {side: load_model(h.description) for side, h in hands.items()}
    jobs = []
    for raw in raws:
        for group in ("state", "action"):
            named = {
                j.urdf: raw.states[f"state.{a.modality_arm}"].values[:, i]
                if group == "state"
                else raw.actions[f"action.{a.modality_arm}"].values[:, i]
                for a in GR1.arms
                for i, j in enumerate(a.joints)
            }
            n = len(next(iter(named.values())))
            jobs.append((arm, arm.assemble(named, n), [a.link for a in GR1.arms], GR1.base_link))
        for side, h in hands.items():
            v = raw.states[f"state.{side}_hand"].values
            q = models[side].assemble({j: v[:, i] for i, j in enumerate(h.native_order)}, len(v))
            tips = [t for t in h.fingertips.values() if t is not None]
            jobs.append((models[side], q, tips, h.base_link))

    def run() -> None:
        for model, q, links, base in jobs:
            model.forward(q, links, base=base)

    return run


def timed(run: Callable[[], Any], reps: int) -> tuple[list[float], float]:
    run()  # warm-up (model loading, caches)
    times, busy0, t_all = [], machine_busy_s(), time.perf_counter()
    for _ in range(reps):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    busy = (machine_busy_s() - busy0) / (time.perf_counter() - t_all)
    return times, round(max(busy - 1.0, 0.0), 2)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--episodes", type=int, default=5)
    args = parse_args(p, {"reps": 1, "episodes": 1}, "one episode, one repetition")
    import torch

    torch.set_num_threads(1)  # this process only: the figures are per core
    source = LeRobotSource()
    raws = [source.read(ref) for ref in list(source.discover(realdata(SAMPLE)))[: args.episodes]]
    rows = sum(len(raw.states["state.left_arm"]) for raw in raws)
    contestants: dict[str, Callable[[], Any]] = {
        "floor": floor(raws),
        "joint_space": lambda: [joint_space_signals(raw, GR1) for raw in raws],
        "canonicalize": lambda: [prepared(raw) for raw in raws],
    }
    result: dict[str, Any] = {"episodes": len(raws), "rows": rows, "reps": args.reps}
    for name, run in contestants.items():
        times, others = timed(run, args.reps)
        best, median = rows / min(times), rows / statistics.median(times)
        log(f"[{name}] {rows} rows: best {best:,.0f}/s, median {median:,.0f}/s, others used {others} cores")
        result.update({f"{name}_rows_per_s": round(best), f"{name}_rows_per_s_median": round(median)})
        result[f"{name}_other_cores"] = others
    result["joint_space_share_of_canonicalize"] = round(
        result["canonicalize_rows_per_s_median"] / result["joint_space_rows_per_s_median"], 3
    )
    result.update(cpus=os.cpu_count(), numpy=np.__version__, torch=torch.__version__)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
