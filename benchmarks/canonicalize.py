"""prepared() throughput per source, against the video encode rate it must never hold back (target >= 20x).

    .venv/bin/python -m benchmarks.canonicalize [--frames 900] [--reps 3]
    .venv/bin/python -m benchmarks.canonicalize --smoke     # 60 native steps, 1 rep: runs, measures nothing

Raw episodes are written by `adapters/synthetic/` and read once before timing; the clock covers `prepared(raw)`
alone (cameras are lazy, so no video is decoded or encoded in it). frames/s counts canonical 10 Hz output frames.
The encode rate is PyAV with the writer's default codec (libsvtav1, g=2, crf=30) on one camera of the same size.
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("SVT_LOG", "1")

import numpy as np

import adapters
from adapters.synthetic.agibot import EpisodeSpec, write_agibot
from adapters.synthetic.egodex import write_egodex
from adapters.synthetic.rlds import write_rlds
from adapters.synthetic.video import synthetic_frame
from benchmarks._cli import parse_args
from ingest.lerobot.video import VideoCodec, VideoEncoder
from schemas.canonicalize import CanonicalizeSpec
from tests.fixtures.offline import prepared

SIZE = (224, 224)


def corpora(base: Path, frames: int, size: tuple[int, int] = (64, 64)) -> dict[str, tuple[str, Path]]:
    """One long episode per source at its native rate (`frames` native steps), cameras of `size` (height, width)."""
    h, w = size
    write_rlds(base / "bridge", "bridge", episodes=1, steps=frames, vary_steps=False, image_size=(h, w))
    write_rlds(base / "droid", "droid", episodes=1, steps=frames, vary_steps=False, image_size=(h, w))
    write_agibot(base / "agibot", [EpisodeSpec(327, 700_001, frames)], height=h, width=w, parameters=False)
    write_egodex(
        base / "egodex",
        tasks=("basic_pick_place",),
        episodes_per_task=1,
        num_frames=frames,
        height=h,
        width=w,
        old_episode=False,
    )
    return {
        "oxe/bridge (5 Hz)": ("oxe", next((base / "bridge").rglob("dataset_info.json")).parent),
        "oxe/droid (15 Hz)": ("oxe", next((base / "droid").rglob("dataset_info.json")).parent),
        "agibot (30 Hz, 2 arms)": ("agibot", base / "agibot"),
        "egodex (30 Hz, hands + camera)": ("egodex", base / "egodex"),
    }


def encode_rate(n: int = 150) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        frames = [synthetic_frame(*SIZE, t) for t in range(n)]
        enc = VideoEncoder(Path(tmp) / "x.mp4", SIZE[1], SIZE[0], 10, VideoCodec())
        t0 = time.perf_counter()
        for f in frames:
            enc.encode(f)
        enc.close()
        return n / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=900, help="native steps per episode")
    p.add_argument("--reps", type=int, default=3)
    args = parse_args(p, {"frames": 60, "reps": 1}, "60 native steps, 1 repetition")
    spec = CanonicalizeSpec()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (adapter_name, root) in corpora(Path(tmp), args.frames).items():
            adapter = adapters.get_adapter(adapter_name)
            raw_ref = next(r for r in adapter.discover(root) if r.error is None)
            times, out_frames = [], 0
            for _ in range(args.reps):
                raw = adapter.read(raw_ref)  # fresh: canonicalize appends tier reasons to it
                t0 = time.perf_counter()
                eps = prepared(raw, spec)
                times.append(time.perf_counter() - t0)
                out_frames = sum(ep.num_frames for ep in eps)
            best = float(np.median(times))
            results[name] = {"frames": out_frames, "seconds": round(best, 4), "frames_per_s": round(out_frames / best)}
            print(
                f"[canonicalize] {name:32s} {out_frames:5d} frames in {best * 1e3:7.1f} ms "
                f"= {out_frames / best:9.0f} frames/s",
                file=sys.stderr,
            )
    enc = encode_rate()
    print(f"\nvideo encode rate (libsvtav1 g=2 crf=30, {SIZE[0]}x{SIZE[1]}, one camera): {enc:.0f} frames/s")
    print(f"{'source':34s} {'frames/s':>10s} {'x encode':>9s}")
    for name, r in results.items():
        print(f"{name:34s} {r['frames_per_s']:10d} {r['frames_per_s'] / enc:9.1f}")
    worst = min(r["frames_per_s"] for r in results.values()) / enc
    print(
        json.dumps(
            {
                "canonicalize_frames_per_s": {k: r["frames_per_s"] for k, r in results.items()},
                "encode_frames_per_s": round(enc, 1),
                "min_ratio": round(worst, 1),
                "target_ratio": 20,
                "meets_target": worst >= 20,
                "native_frames": args.frames,
            }
        )
    )


if __name__ == "__main__":
    main()
