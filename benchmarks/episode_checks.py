"""Validity and quality checks over long episodes: seconds for one hour of canonical 10 Hz data (target < 2 s each).

- validity: `check_validity` on one hour of two tracked hands (human embodiment, with confidences, 21 keypoints per
  hand and the state as action) that hold still for 200 s in the middle, so the motion check cuts the episode.
- quality: `assess_quality` on one hour of a Franka hand reaching out and back every 8 s.

Data comes from `tests/fixtures/motion.py`, the arrays the unit tests check for correctness. Median of `--reps`
runs; the last stdout line is one JSON object.

    .venv/bin/python -m benchmarks.episode_checks [--hours 1] [--reps 5]
    .venv/bin/python -m benchmarks.episode_checks --smoke     # 1 minute of data, 1 rep: runs, measures nothing
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks._cli import parse_args
from benchmarks._machine import log
from ingest.canonical.validity import check_validity
from ingest.qa.quality import assess_quality
from schemas.canonicalize import QualityConfig, ValidityConfig
from schemas.robots.registry import default_registry
from schemas.tiers import QualityTier
from tests.fixtures.motion import franka_reach, two_hands

FPS = 10
TARGET_S = 2.0  # per hour of data


def validity_run(n: int) -> Callable[[], Any]:
    start = n * 10 // 36  # still for 200 s of an hour, at least 10 s: far longer than the 3 s motion window
    state = two_hands(n, frozen=(start, start + max(n * 2 // 36, 100)))
    confidence, keypoints = np.ones((n, 2)), np.zeros((n, 2, 21, 3), np.float32)
    mask, timestamps, config = default_registry().get("human").mask(), np.arange(n) / FPS, ValidityConfig()

    def run() -> Any:
        report = check_validity(
            state,
            mask=mask,
            embodiment="human",
            timestamps=timestamps,
            config=config,
            confidence=confidence,
            keypoints=keypoints,
            action=state,
            human=True,
        )
        assert len(report.keep) == 2, report.keep  # the freeze was cut out: the check did its whole job
        return report

    return run


def quality_run(n: int) -> Callable[[], Any]:
    state = franka_reach(0.1 * np.sin(2 * np.pi * (np.arange(n) / FPS) / 8.0))
    mask, config = default_registry().get("franka").mask(), QualityConfig()

    def run() -> Any:
        verdict = assess_quality(
            QualityTier.high, success=True, has_action=True, state=state, mask=mask, validity=None, config=config
        )
        assert verdict.tier is QualityTier.high, verdict.reasons
        return verdict.tier

    return run


def timed(run: Callable[[], Any], reps: int) -> list[float]:
    run()  # warm-up: imports, numpy's first calls
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hours", type=float, default=1.0, help="episode length in hours at 10 Hz")
    p.add_argument("--reps", type=int, default=5)
    args = parse_args(p, {"hours": 1 / 60, "reps": 1}, "one minute of data, 1 repetition")
    n = round(args.hours * 3600 * FPS)
    result: dict[str, Any] = {"frames": n, "hours": round(args.hours, 4), "reps": args.reps}
    for name, make in (("validity", validity_run), ("quality", quality_run)):
        times = timed(make(n), args.reps)
        median = statistics.median(times)
        per_hour = median / args.hours
        log(f"[{name}] {n} frames: median {median:.3f} s ({per_hour:.3f} s per hour of data, target < {TARGET_S} s)")
        result[f"{name}_s"] = round(median, 4)
        result[f"{name}_s_per_hour"] = round(per_hour, 4)
        result[f"{name}_meets_target"] = per_hour < TARGET_S
    result.update(
        target_s_per_hour=TARGET_S,
        cpus=os.cpu_count(),
        loadavg_1m=round(os.getloadavg()[0], 2),
        python=platform.python_version(),
        numpy=np.__version__,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
