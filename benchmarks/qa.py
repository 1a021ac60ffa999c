"""Geometry QA's cost per frame against the ingest time per core (target: QA < 5 % of ingest).

    .venv/bin/python -m benchmarks.qa [--frames 900] [--reps 5] [--size 224]
    .venv/bin/python -m benchmarks.qa --smoke     # 60 native steps, 1 rep: runs, measures nothing

One raw episode per source (`benchmarks.canonicalize.corpora`: bridge 5 Hz, droid 15 Hz, AgiBot 30 Hz with 3 cameras,
EgoDex 30 Hz with hands and a posed camera), cameras of `--size` pixels. Per source and repetition, in this one
process (one core, the encoder at one thread as ingest tasks run it):

- ingest: what an ingest task does to an episode, `adapter.read` -> `canonicalize` -> `stage_canonical` (decode,
  encode every camera, write parquet) into a temporary dataset;
- qa: the time spent inside that `canonicalize` in the QA stage (`CameraView.from_trajectory` and `measure`, timed
  where canonicalize calls them).

Per canonical 10 Hz frame: ingest ms, QA us and QA's share of the ingest. Medians over `--reps`; the last stdout
line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("SVT_LOG", "1")

import numpy as np

import adapters
import ingest.qa.judge as canon  # the judging step runs the geometry QA: its measure and CameraView are timed
from benchmarks._cli import parse_args
from benchmarks._machine import log
from benchmarks.canonicalize import corpora
from ingest.lerobot.video import VideoCodec
from schemas.canonicalize import CanonicalizeSpec
from tests.fixtures.offline import prepared, stage

TARGET_SHARE = 0.05


@contextmanager
def qa_clock() -> Iterator[list[float]]:
    """Seconds spent in the QA stage of `canonicalize` while inside, appended to the yielded list."""
    spent: list[float] = []
    measure, view = canon.measure, canon.CameraView

    def timed(fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kw)
            finally:
                spent.append(time.perf_counter() - t0)

        return run

    class TimedView(view):  # type: ignore[misc, valid-type]
        from_trajectory = classmethod(lambda cls, *a, **kw: timed(view.from_trajectory)(*a, **kw))

    canon.measure, canon.CameraView = timed(measure), TimedView
    try:
        yield spent
    finally:
        canon.measure, canon.CameraView = measure, view


def one_run(adapter_name: str, root: Path, out: Path, spec: CanonicalizeSpec, codec: VideoCodec) -> dict[str, float]:
    adapter = adapters.get_adapter(adapter_name)
    ref = next(r for r in adapter.discover(root) if r.error is None)
    with qa_clock() as spent:
        t0 = time.perf_counter()
        raw = adapter.read(ref)
        episodes = prepared(raw, spec)
        for k, ep in enumerate(episodes):
            stage(out / f"ds{k}", ep, codec)
        ingest_s = time.perf_counter() - t0
    frames = sum(ep.num_frames for ep in episodes)
    assert frames and all(ep.qa is not None for ep in episodes), "the QA stage did not run"
    return {"frames": frames, "ingest_s": ingest_s, "qa_s": sum(spent), "calls": len(spent)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=900, help="native steps per episode")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--size", type=int, default=224, help="camera height and width (pixels)")
    args = parse_args(p, {"frames": 60, "reps": 1, "size": 64}, "60 native steps of 64x64 cameras, 1 repetition")
    spec, codec = CanonicalizeSpec(), VideoCodec(threads=1)
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sources = corpora(Path(tmp) / "raw", args.frames, (args.size, args.size))
        for name, (adapter_name, root) in sources.items():
            one_run(adapter_name, root, Path(tmp) / "warm" / name, spec, codec)  # imports, first calls
            runs = [one_run(adapter_name, root, Path(tmp) / f"out{i}" / name, spec, codec) for i in range(args.reps)]
            frames = runs[0]["frames"]
            ingest = statistics.median(r["ingest_s"] for r in runs) / frames
            qa = statistics.median(r["qa_s"] for r in runs) / frames
            results[name] = {
                "frames": frames,
                "ingest_ms_per_frame": round(ingest * 1e3, 4),
                "qa_us_per_frame": round(qa * 1e6, 3),
                "qa_share": round(qa / ingest, 5),
            }
            log(
                f"[qa] {name:32s} {frames:5d} frames: ingest {ingest * 1e3:7.3f} ms/frame, QA {qa * 1e6:7.2f} us/frame"
                f" = {100 * qa / ingest:.2f} % of ingest"
            )
    print(f"{'source':34s} {'frames':>6s} {'ingest ms/f':>11s} {'QA us/f':>8s} {'QA share':>8s}")
    for name, r in results.items():
        print(
            f"{name:34s} {r['frames']:6d} {r['ingest_ms_per_frame']:11.3f} {r['qa_us_per_frame']:8.2f} "
            f"{100 * r['qa_share']:7.2f}%"
        )
    worst = max(r["qa_share"] for r in results.values())
    print(
        json.dumps(
            {
                "results": results,
                "max_qa_share": worst,
                "target_share": TARGET_SHARE,
                "meets_target": worst < TARGET_SHARE,
                "native_frames": args.frames,
                "size": args.size,
                "reps": args.reps,
                "cpus": os.cpu_count(),
                "loadavg_1m": round(os.getloadavg()[0], 2),
                "python": platform.python_version(),
                "numpy": np.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
