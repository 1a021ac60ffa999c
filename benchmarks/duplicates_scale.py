"""The copy search at corpus scale: repetitions of one task built from real recordings, copies planted in them the way
copies are made, found by `eidata verdicts`' own code (fingerprints, `near_duplicates`, `copy_check`).

Episodes: the GR00T PickNPlace sample's 5 real recordings (tests/REAL_SAMPLES.md; `observation.state`, 44 dims at 20 Hz)
replayed as one task's repetitions: each a recording drawn at random, time-warped (its pace 0.85-1.15x and a smooth
drift within it) and moved off its path by a smooth per-dim curve of `--spread` of the dim's range (plus sensor noise
of 0.2 %), then re-gridded to 10 Hz as the ingest does. `--spread` is set so that the closest pairs of repetitions lie
where the real G1 teleop set's distinct demonstrations lie (copy residual >= 0.17; `schemas.behaviour` copy_quantile):
the run reports the residuals of a sample of repetition pairs. One episode in 100 is replaced by a copy of another,
made as issue 35's benchmark makes them (`benchmarks.duplicates_real.COPIES`: trimmed 11 frames, trimmed at both
ends, at half the rate, re-gridded half a frame later, float16), in turn.

Measured per size: the production fingerprint of every episode (`ingest.qa.duplicates.fingerprint`, limits from the
corpus's range), then the candidate search alone (`near_duplicates`: candidates, pairs left unjudged, CPU and wall,
its traced peak), recall of the planted pairs among the candidates, then the verification (`copy_check`) of every
planted pair and of a random sample of `--verify` other candidates: copies verified (recall of the whole verdict),
false copies among the sample, and the CPU per verified pair. The growth exponents of candidates and search CPU
between sizes; the process's peak RSS. Progress on stderr, one JSON object on the last stdout line.

    .venv/bin/python -m benchmarks.duplicates_scale [--episodes 1000 10000 100000]
    .venv/bin/python -m benchmarks.duplicates_scale --smoke
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import time
import tracemalloc

import numpy as np

from benchmarks._cli import parse_args
from benchmarks._machine import log, peak_rss_mb
from benchmarks.duplicates_real import COPIES, GR00T, episodes, grid
from ingest.canonical.limits import DimLimits
from ingest.qa.copies import _shifted, copy_check, scale_with_floor
from ingest.qa.duplicates import fingerprint, near_duplicates
from schemas.behaviour import BehaviourConfig
from tests.realdata import realdata

FPS_OUT = 10.0  # the ingest's grid


class Task:
    """One task's repetitions from real recordings: episode i is a pure function of (seed, i)."""

    def __init__(self, spread: float, seed: int = 0) -> None:
        self.recordings, self.fps = episodes(realdata(GR00T))
        every = np.concatenate(self.recordings)
        self.range = np.ptp(every, axis=0)
        self.limits = DimLimits.observed(every)
        self.spread, self.seed = spread, seed

    def raw(self, i: int) -> np.ndarray:
        """Episode i at the source rate: a recording, time-warped and moved off its path."""
        rng = np.random.default_rng([self.seed, i])
        base = self.recordings[int(rng.integers(len(self.recordings)))]
        n = max(8, round(len(base) * rng.uniform(0.85, 1.15)))
        u = np.linspace(0.0, 1.0, n)
        k = np.arange(1, 4)[:, None]
        drift = (rng.normal(0, 0.02, (3, 1)) / k * np.sin(np.pi * k * u)).sum(axis=0)  # 0 at both ends
        x = _shifted(base, np.clip(u + drift, 0.0, 1.0) * (len(base) - 1))
        d = base.shape[1]
        phase = rng.uniform(0, 2 * np.pi, (3, d))
        amp = rng.normal(0, 1, (3, d)) / np.arange(1, 4)[:, None]
        curve = sum(amp[j] * np.sin(np.pi * (j + 1) * u[:, None] + phase[j]) for j in range(3))
        x = x + self.spread * self.range * curve + rng.normal(0, 0.002, x.shape) * self.range
        return x

    def episode(self, i: int, copy_of: dict[int, tuple[int, str]]) -> np.ndarray:
        """Episode i on the 10 Hz grid: a repetition, or the copy planted in its place."""
        if i in copy_of:
            a, how = copy_of[i]
            return COPIES[how](self.raw(a), self.fps)
        return grid(self.raw(i), self.fps)


def plant(n: int, seed: int = 0) -> dict[int, tuple[int, str]]:
    """copy row -> (its original's row, how it was made): one copy per 100 episodes, distinct episodes."""
    rng = np.random.default_rng([seed, n])
    rows = rng.permutation(n)[: 2 * (n // 100)].reshape(-1, 2)
    kinds = list(COPIES)
    return {int(b): (int(a), kinds[k % len(kinds)]) for k, (a, b) in enumerate(rows)}


def measure(task: Task, n: int, verify: int, cfg: BehaviourConfig) -> dict:
    copy_of = plant(n)
    planted = {(min(a, b), max(a, b)) for b, (a, _) in copy_of.items()}
    c0 = time.process_time()
    sig = np.stack([fingerprint(task.episode(i, copy_of), FPS_OUT, task.limits, cfg) for i in range(n)])
    fp_cpu = time.process_time() - c0
    c0, w0 = time.process_time(), time.perf_counter()
    pairs = near_duplicates(sig, cfg)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    tracemalloc.start()  # a second run, traced: the search's own peak of numpy/Python allocations
    near_duplicates(sig, cfg)
    traced = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    found = set(zip(pairs.first.tolist(), pairs.second.tolist(), strict=True))
    planted_sim = [float((sig[a] == sig[b]).mean()) for a, b in planted]
    # verification: every planted pair found, and a sample of the other candidates (false copies among them)
    scale = scale_with_floor(task.range)
    rng = np.random.default_rng(n)
    others = sorted(found - planted)  # all verified when there are at most `verify`, else a random sample
    sample = [others[k] for k in sorted(rng.choice(len(others), min(verify, len(others)), replace=False))]
    c0 = time.process_time()
    residual = {p: copy_check(task.episode(p[0], copy_of), task.episode(p[1], copy_of), scale, cfg) for p in sample}
    verify_cpu = time.process_time() - c0
    copies_ok = {
        p
        for p in found & planted
        if copy_check(task.episode(p[0], copy_of), task.episode(p[1], copy_of), scale, cfg).is_copy(cfg)
    }
    false = [p for p, c in residual.items() if c.is_copy(cfg)]
    rep = np.array([c.residual for c in residual.values()]) if residual else np.zeros(1)
    return {
        "episodes": n,
        "planted": len(planted),
        "recall": round(len(found & planted) / max(len(planted), 1), 4),
        "missed": sorted(copy_of[b if b in copy_of else a][1] for a, b in planted - found),  # how each was made
        "planted_similarity_min_p5": [round(float(np.quantile(planted_sim, q)), 3) for q in (0, 0.05)],
        "verified_copies": len(copies_ok),
        "candidates": len(found),
        "candidates_per_episode": round(len(found) / n, 2),
        "refined_buckets": pairs.refined_buckets,
        "unjudged_pairs": pairs.unjudged_pairs,
        "fingerprint_cpu_s": round(fp_cpu, 2),
        "search_cpu_s": round(cpu, 3),
        "search_wall_s": round(wall, 3),
        "search_traced_peak_mb": round(traced, 1),
        "verified_sample": len(sample),
        "false_copies_in_sample": len(false),
        "repetition_residual_p1_p50": [round(float(np.quantile(rep, q)), 3) for q in (0.01, 0.5)],
        "verify_ms_per_pair": round(1000 * verify_cpu / max(len(sample), 1), 2),
        "peak_rss_mb": round(peak_rss_mb()),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--episodes", type=int, nargs="+", default=[1000, 10000, 100000])
    p.add_argument("--spread", type=float, default=0.05, help="repetitions' smooth departure, of each dim's range")
    p.add_argument("--verify", type=int, default=5000, help="other candidates verified per size (false copies)")
    p.add_argument("--config", default="{}", help="BehaviourConfig fields to change, as JSON (experiments)")
    args = parse_args(p, {"episodes": [200, 400], "verify": 20}, "200 and 400 episodes")
    cfg = BehaviourConfig(**json.loads(args.config))
    task = Task(args.spread)
    rows = []
    for n in args.episodes:
        rows.append(measure(task, n, args.verify, cfg))
        log(json.dumps(rows[-1]))
    growth = [
        {
            "from": a["episodes"],
            "to": b["episodes"],
            "candidates_exponent": round(
                math.log(b["candidates"] / a["candidates"]) / math.log(b["episodes"] / a["episodes"]), 3
            ),
            "cpu_exponent": round(
                math.log(b["search_cpu_s"] / max(a["search_cpu_s"], 1e-3)) / math.log(b["episodes"] / a["episodes"]), 3
            ),
        }
        for a, b in itertools.pairwise(rows)
        if a["candidates"] and b["candidates"]
    ]
    print(json.dumps({"spread": args.spread, "sizes": rows, "growth": growth}))


if __name__ == "__main__":
    main()
