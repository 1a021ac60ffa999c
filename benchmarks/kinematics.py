"""Forward kinematics: frames/s on one core, four contestants in the same run on the same random configurations
within the limits, in two cases:

- `panda`: the Panda flange (`panda_link8`; 7 arm joints + 2 finger joints in q), one call;
- `g1_dex3`: what `ingest/canonical/joint_space.py` computes per frame of a Unitree G1 + Dex3-1 episode: both wrists
  of `g1_arms` in the pelvis frame, and every fingertip of each `dex3_hand_*` in its palm frame (three calls).

Contestants:

- `ours`: `load_model(...).forward`, i.e. MuJoCo's batch (`mujoco.batch.Batch.forward` at the position stage, one
  C call per 2048 frames, the calling thread only);
- `mujoco_loop`: the same MjModel through a Python loop of `mujoco.mj_kinematics`, one call per frame: what the batch
  saves;
- `pinocchio_loop`: pinocchio's per-configuration C++ FK from a Python loop (`forwardKinematics` +
  `updateFramePlacement`), the independent implementation the tests compare against;
- `pytorch_kinematics`: its batched torch kernel (`Chain.forward_kinematics_tensor`, float64) on the same URDFs.

torch runs on one thread (`torch.set_num_threads(1)`) and MuJoCo's batch on the calling thread, so every figure is
per core. Each contestant's poses are checked against ours before it is timed. Frames/s are reported from wall time
(best and median of `--reps`) and from this process's CPU time (`time.process_time`, the per-core rate, which the
other sessions on a shared machine do not inflate). The run waits (up to `--quiet-wait` s) for the other processes
to use under 0.5 cores and records what they used. The installed size of each library (its wheels and the ones it
pulls in beyond eidata's own dependencies) is measured from the installed files. The last stdout line is one JSON
object.

    .venv/bin/python -m benchmarks.kinematics [--frames 10000] [--reps 7]
    .venv/bin/python -m benchmarks.kinematics --smoke     # 200 frames, 1 rep: runs, measures nothing
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata as md
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from benchmarks._cli import parse_args
from benchmarks._machine import log, machine_busy_s, wait_quiet
from ingest.kinematics import load_model, robots_dir
from ingest.kinematics.description import description_path, read_description
from ingest.kinematics.engine import build_model
from schemas.robots.registry import JOINT_SPACE

G1_DEX3 = JOINT_SPACE["unitree_g1_dex3"]
TARGET_FPS = 50_000  # issue 14: FK must not be the bottleneck (Panda flange, per core)
# pytorch-kinematics builds each joint origin from float32 rpy/xyz (its urdf.py), ~1e-7 off the file's numbers
TOLERANCE = {"ours": 0.0, "mujoco_loop": 1e-12, "pinocchio_loop": 1e-9, "pytorch_kinematics": 1e-5}
LIBRARIES = {"ours": "mujoco-core", "pinocchio_loop": "pin", "pytorch_kinematics": "pytorch-kinematics"}

Call = tuple[str, list[str], str | None]  # (description, links, base)
Run = Callable[[], np.ndarray]


def cases() -> dict[str, list[Call]]:
    g1: list[Call] = [(G1_DEX3.description, [a.link for a in G1_DEX3.arms], G1_DEX3.base_link)]
    for arm in G1_DEX3.arms:
        assert arm.hand is not None
        hand = arm.hand.spec()
        g1.append((hand.description, [t for t in hand.fingertips.values() if t is not None], hand.base_link))
    return {"panda": [("panda", ["panda_link8"], None)], "g1_dex3": g1}


def relative(poses: np.ndarray) -> np.ndarray:
    """[N, K+1, 4, 4] root-frame poses, the base last -> [N, K, 4, 4] in the base's frame."""
    return np.linalg.inv(poses[:, -1:]) @ poses[:, :-1]


def ours(calls: list[Call], qs: list[np.ndarray]) -> Run:
    models = [load_model(name) for name, _, _ in calls]
    return lambda: np.concatenate(
        [m.forward(q, links, base) for m, (_, links, base), q in zip(models, calls, qs, strict=True)], axis=1
    )


def mujoco_loop(calls: list[Call], qs: list[np.ndarray]) -> Run:
    import mujoco

    prepared = []
    for (name, links, base), q in zip(calls, qs, strict=True):
        model = build_model(read_description(description_path(name)))
        ids = [model.body(b).id for b in [*links, base or load_model(name).root]]
        prepared.append((model, mujoco.MjData(model), ids, q))

    def run() -> np.ndarray:
        out = []
        for model, data, ids, q in prepared:
            poses = np.zeros((len(q), len(ids), 4, 4))
            poses[..., 3, 3] = 1.0
            for i, row in enumerate(q):  # qpos follows the description's joint order (engine.py checks it)
                data.qpos[:] = row
                mujoco.mj_kinematics(model, data)
                poses[i, :, :3, :3] = data.xmat[ids].reshape(-1, 3, 3)
                poses[i, :, :3, 3] = data.xpos[ids]
            out.append(relative(poses))
        return np.concatenate(out, axis=1)

    return run


def pinocchio_loop(calls: list[Call], qs: list[np.ndarray]) -> Run | None:
    try:
        import pinocchio as pin
    except ImportError:
        return None
    prepared = []
    for (name, links, base), q in zip(calls, qs, strict=True):
        ours_model = load_model(name)
        model = pin.buildModelFromXML((robots_dir() / f"{name}.urdf").read_text())
        # these descriptions have only revolute and prismatic joints: one q slot per joint, matched by name
        assert model.nq == ours_model.dof
        slots = [model.joints[model.getJointId(j)].idx_q for j in ours_model.joint_names]
        qp = np.empty_like(q)
        qp[:, slots] = q
        frames = [model.getFrameId(b) for b in [*links, base or ours_model.root]]
        prepared.append((model, model.createData(), frames, qp))

    def run() -> np.ndarray:
        out = []
        for model, data, frames, q in prepared:
            poses = np.empty((len(q), len(frames), 4, 4))
            for i, row in enumerate(q):
                pin.forwardKinematics(model, data, row)
                for k, f in enumerate(frames):
                    poses[i, k] = pin.updateFramePlacement(model, data, f).homogeneous
            out.append(relative(poses))
        return np.concatenate(out, axis=1)

    return run


def pytorch_kinematics(calls: list[Call], qs: list[np.ndarray]) -> Run | None:
    try:
        import pytorch_kinematics as pk
        import torch
    except ImportError:
        return None
    prepared = []
    for (name, links, base), q in zip(calls, qs, strict=True):
        chain = pk.build_chain_from_urdf((robots_dir() / f"{name}.urdf").read_bytes()).to(dtype=torch.float64)
        assert list(chain.get_joint_parameter_names()) == list(load_model(name).joint_names)
        frames = [chain.frame_to_idx[b] for b in [*links, base or load_model(name).root]]
        prepared.append((chain, frames, torch.from_numpy(q)))

    def run() -> np.ndarray:
        out = []
        with torch.inference_mode():
            for chain, frames, th in prepared:
                all_frames = chain.forward_kinematics_tensor(th)
                poses = torch.stack([all_frames[f] for f in frames], dim=1)
                out.append((torch.linalg.inv(poses[:, -1:]) @ poses[:, :-1]).numpy())
        return np.concatenate(out, axis=1)

    return run


CONTESTANTS = {
    "ours": ours,
    "mujoco_loop": mujoco_loop,
    "pinocchio_loop": pinocchio_loop,
    "pytorch_kinematics": pytorch_kinematics,
}


def timed(run: Run, reps: int) -> tuple[list[float], list[float], float]:
    run()  # warm-up
    wall, cpu, busy0, t_all = [], [], machine_busy_s(), time.perf_counter()
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        run()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    elapsed = time.perf_counter() - t_all
    busy = (machine_busy_s() - busy0) / elapsed  # ours (about 1) plus everybody else's
    return wall, cpu, round(max(busy - 1.0, 0.0), 2)


def installed_mb() -> dict[str, dict[str, Any]]:
    """Installed size of each library and what it pulls in beyond eidata's other dependencies, from the files."""
    tops = {canonicalize_name(d) for d in LIBRARIES.values()}

    def closure(name: str, skip: set[str]) -> set[str]:
        seen: set[str] = set()
        todo = [name]
        while todo:
            dist = canonicalize_name(todo.pop())
            if dist in seen or dist in skip:
                continue
            try:
                reqs = md.distribution(dist).requires or []
            except md.PackageNotFoundError:
                continue
            seen.add(dist)
            todo += [r.name for r in map(Requirement, reqs) if r.marker is None or r.marker.evaluate({"extra": ""})]
        return seen

    base = closure("eidata", tops) - {"eidata"}
    out = {}
    for dist in sorted(tops):
        names = closure(dist, base)
        size = sum(f.size or 0 for n in names for f in md.distribution(n).files or [])
        out[dist] = {"mb": round(size / 1e6, 1), "distributions": sorted(names)}
    return out


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
    result: dict[str, Any] = {"frames": args.frames, "reps": args.reps}
    result.update(wait_quiet(0.5, args.quiet_wait))
    rng = np.random.default_rng(0)
    for case, calls in cases().items():
        qs = []
        for name, _, _ in calls:
            m = load_model(name)
            lo, hi = np.where(np.isfinite(m.lower), m.lower, -np.pi), np.where(np.isfinite(m.upper), m.upper, np.pi)
            qs.append(rng.uniform(lo, hi, size=(args.frames, m.dof)))
        reference = ours(calls, qs)()
        row: dict[str, Any] = {"links": sum(len(links) for _, links, _ in calls), "calls": len(calls)}
        for name, make in CONTESTANTS.items():
            run = make(calls, qs)
            if run is None:
                log(f"[{case}/{name}] not installed, skipped")
                row[name] = None
                continue
            err = float(np.abs(run() - reference).max())
            assert err <= TOLERANCE[name], f"{case}: {name} disagrees with ours by {err}"
            wall, cpu, others = timed(run, args.reps)
            fig = {
                "fps_best": round(args.frames / min(wall)),
                "fps_median": round(args.frames / statistics.median(wall)),
                "cpu_fps_best": round(args.frames / min(cpu)),
                "cpu_fps_median": round(args.frames / statistics.median(cpu)),
                "max_abs_diff": err,
                "other_cores": others,
            }
            log(
                f"[{case}/{name}] {args.frames} frames: wall best {fig['fps_best']:,}/s median "
                f"{fig['fps_median']:,}/s; cpu best {fig['cpu_fps_best']:,}/s median {fig['cpu_fps_median']:,}/s; "
                f"others used {others} cores"
            )
            row[name] = fig
        result[case] = row
    panda = result["panda"]["ours"]
    result.update(target_fps=TARGET_FPS, meets_target_cpu=panda["cpu_fps_median"] >= TARGET_FPS)
    result["installed"] = installed_mb()
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for dist in ("mujoco-core", "pin", "pytorch-kinematics", "torch"):
        with contextlib.suppress(md.PackageNotFoundError):
            versions[dist] = md.version(dist)
    result.update(cpus=os.cpu_count(), versions=versions)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
