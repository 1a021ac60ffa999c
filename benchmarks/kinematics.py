"""Forward kinematics: frames/s on one core for the Panda flange (7 arm joints + 2 finger joints), three contestants
in the same run on the same random configurations within the limits:

- ours: `load_model("panda").forward(q, ["panda_link8"])`, one batched call for all frames;
- pinocchio (`pin`): its per-configuration C++ FK from a Python loop (`forwardKinematics` + `updateFramePlacement`),
  the independent implementation the tests compare against;
- pytorch-kinematics: its batched torch kernel (`Chain.forward_kinematics_tensor`, float64) on the same URDF, the
  library first planned for this and measured here to say why we do not run on it.

torch runs on one thread (`torch.set_num_threads(1)`), numpy's element-wise kernels are single-threaded, so every
figure is per core. Each contestant's poses are checked against ours before it is timed. The machine is shared: the
run waits (up to `--quiet-wait` s) for the other processes to use under 0.5 cores and records what they used. Best and
median of `--reps` runs; the last stdout line is one JSON object.

    .venv/bin/python -m benchmarks.kinematics [--frames 10000] [--reps 7]
    .venv/bin/python -m benchmarks.kinematics --smoke     # 200 frames, 1 rep: runs, measures nothing
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks._cli import parse_args
from benchmarks._machine import log, machine_busy_s, wait_quiet
from ingest.kinematics import load_model, robots_dir

TARGET_FPS = 50_000  # issue 14: FK must not be the bottleneck
LINK = "panda_link8"
# pytorch-kinematics builds each joint origin from float32 rpy/xyz (its urdf.py), ~1e-7 off the file's numbers
TOLERANCE = {"ours": 0.0, "pinocchio_loop": 1e-9, "pytorch_kinematics": 1e-5}


def ours(q: np.ndarray) -> Callable[[], np.ndarray]:
    model = load_model("panda")
    return lambda: model.forward(q, [LINK])[:, 0]


def pinocchio_loop(q: np.ndarray) -> Callable[[], np.ndarray] | None:
    try:
        import pinocchio as pin
    except ImportError:
        return None
    model = pin.buildModelFromXML((robots_dir() / "panda.urdf").read_text())
    data, frame = model.createData(), model.getFrameId(LINK)

    def run() -> np.ndarray:
        out = np.empty((len(q), 4, 4))
        for i, row in enumerate(q):  # panda has only revolute and prismatic joints: pinocchio's q is ours
            pin.forwardKinematics(model, data, row)
            out[i] = pin.updateFramePlacement(model, data, frame).homogeneous
        return out

    return run


def pytorch_kinematics(q: np.ndarray) -> Callable[[], np.ndarray] | None:
    try:
        import pytorch_kinematics as pk
        import torch
    except ImportError:
        return None
    chain = pk.build_chain_from_urdf((robots_dir() / "panda.urdf").read_bytes()).to(dtype=torch.float64)
    assert list(chain.get_joint_parameter_names()) == list(load_model("panda").joint_names)
    th, frame = torch.from_numpy(q), chain.frame_to_idx[LINK]

    def run() -> np.ndarray:
        with torch.inference_mode():
            return chain.forward_kinematics_tensor(th)[frame].numpy()

    return run


def timed(run: Callable[[], np.ndarray], reps: int) -> tuple[list[float], float]:
    run()  # warm-up
    times, busy0, t_all = [], machine_busy_s(), time.perf_counter()
    for _ in range(reps):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - t_all
    busy = (machine_busy_s() - busy0) / elapsed  # ours (about 1) plus everybody else's
    return times, round(max(busy - 1.0, 0.0), 2)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=10_000)
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--quiet-wait", type=float, default=120.0, help="seconds to wait for a quiet machine (0: none)")
    args = parse_args(p, {"frames": 200, "reps": 1, "quiet_wait": 0.0}, "200 frames, 1 repetition")
    try:
        import torch

        torch.set_num_threads(1)  # this process only: the figure is per core
    except ImportError:
        pass
    model = load_model("panda")
    q = np.random.default_rng(0).uniform(model.lower, model.upper, size=(args.frames, model.dof))
    q[:, model.joint_names.index("panda_finger_joint2")] = q[:, model.joint_names.index("panda_finger_joint1")]
    result: dict[str, Any] = {"frames": args.frames, "reps": args.reps, "link": LINK}
    result.update(wait_quiet(0.5, args.quiet_wait))
    reference = ours(q)()
    for name, make in (("ours", ours), ("pinocchio_loop", pinocchio_loop), ("pytorch_kinematics", pytorch_kinematics)):
        run = make(q)
        if run is None:
            log(f"[{name}] not installed, skipped")
            result[f"{name}_fps"] = None
            continue
        err = float(np.abs(run() - reference).max())
        assert err <= TOLERANCE[name], f"{name} disagrees with ours by {err}"
        times, others = timed(run, args.reps)
        best, median = args.frames / min(times), args.frames / statistics.median(times)
        log(f"[{name}] {args.frames} frames: best {best:,.0f}/s, median {median:,.0f}/s, others used {others} cores")
        result.update({f"{name}_fps": round(best), f"{name}_fps_median": round(median), f"{name}_max_abs_diff": err})
        result[f"{name}_other_cores"] = others
    ours_fps = result["ours_fps"]
    for other in ("pinocchio_loop", "pytorch_kinematics"):
        if result[f"{other}_fps"]:
            result[f"ours_vs_{other}"] = round(ours_fps / result[f"{other}_fps"], 2)
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for dist in ("pin", "pytorch-kinematics", "torch"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[dist] = importlib.metadata.version(dist)
    result.update(target_fps=TARGET_FPS, meets_target=ours_fps >= TARGET_FPS, cpus=os.cpu_count(), versions=versions)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
