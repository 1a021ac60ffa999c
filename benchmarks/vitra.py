"""VITRA episodes per core through eidata's ingest against the bare decode + encode of the same video (issue 56).

Inputs: the real VITRA example (`vitra_ego4d_example`: one Ego4D episode, 25 frames of a 480x368 H.264 mp4 at 30 fps,
its MANO joints, camera poses and text in a pickled `.npy`), read `--reps` times; and a synthetic set in VITRA's
layout (`tests/fixtures/writers/vitra.py`: `--episodes` episodes of `--frames` raw frames, both hands), each with its
own 480x368 H.264 mp4 of camera-like footage (`benchmarks.footage`: a 1/f^2 scene, a camera panning over it, sensor
noise), as Ego4D's downscaled copies are.

Two measured runs per input, in one process on one thread (decoders on one thread, SVT-AV1 `lp=1`; CPU time from
getrusage, so any helper thread a library starts is counted), side by side in the same run:

- `ingest`: one ingest task as a job worker runs it, minus Ray: the `vitra` adapter reads the episode (unpickles the
  `.npy` allowing numpy's globals only, reads the video's header), `prepare` canonicalizes it (10 Hz grid, camera
  decoupling, validity per hand, QA) and judges it, and `stage_canonical` decodes the frames the grid picks, encodes
  them with the dataset codec (`VideoCodec(threads=1)`: libsvtav1 crf 30 g 2 preset 12, yuv420p) at the stored size
  (native by default) and writes the parquet columns into a staging folder.
- `bare`: PyAV alone on the same frames: decode the episode's `video_decode_frame` range of its mp4, keep every third
  frame (the 10 Hz grid's picks), encode them with the same codec, options, size and pixel format.

Rates are episodes and output frames (10 Hz) per CPU-second, i.e. per core; `ingest_vs_bare` is the ingest's CPU per
episode over the bare loop's (1.5 = 50 % more). Before any clock, one pipeline run makes the imports made on first
use. Progress goes to stderr; the last stdout line is one JSON object.

    .venv/bin/python -m benchmarks.vitra [--episodes 8] [--frames 90] [--reps 10] [--size 368x480]
    .venv/bin/python -m benchmarks.vitra --smoke     # 2 tiny synthetic episodes and one read of the real one
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1's banner per file, before any encoder starts

import av

from adapters.pickles import unpickle_npy
from adapters.registry import get_adapter
from benchmarks._cli import parse_args
from benchmarks._machine import log, wait_quiet
from benchmarks.footage import _measured, _open_one_thread, write_sources
from ingest.lerobot.video import VideoCodec
from schemas.canonical import CANONICAL_FPS
from tests.fixtures.offline import prepare, stage
from tests.fixtures.writers.vitra import VitraEpisodeSpec, write_vitra
from tests.realdata import realdata

REAL = "vitra_ego4d_example"  # the real sample (tests/REAL_SAMPLES.md), read with `realdata`
STEP = 3  # VITRA's videos here are 30 fps: the 10 Hz grid takes every third raw frame


def ingest(root: Path, stage_root: Path, reps: int = 1) -> tuple[int, int]:
    """(episodes, output frames) of one ingest task over every episode under `root`, `reps` times; an episode
    nothing is kept of fails the run (a rate of rejections would measure nothing)."""
    adapter = get_adapter("vitra")
    codec = VideoCodec(threads=1)
    episodes = frames = 0
    for _ in range(reps):
        for ref in adapter.discover(root):
            result = prepare(adapter.read(ref), source="vitra")
            if not result.episodes:
                raise RuntimeError(f"{ref.raw_id}: nothing kept: {result.rejection_message()}")
            for ep in result.episodes:
                st = stage(stage_root, ep, codec)
                episodes, frames = episodes + 1, frames + st.length
        shutil.rmtree(stage_root, ignore_errors=True)
    return episodes, frames


def clips(root: Path) -> list[tuple[Path, int, int]]:
    """(video, first, last raw frame) of each episode under `root`, as the adapter finds them (outside the clock)."""
    adapter = get_adapter("vitra")
    out = []
    for ref in adapter.discover(root):
        frames = unpickle_npy(Path(ref.paths[0]).read_bytes())["video_decode_frame"]
        out.append((Path(ref.paths[1]), int(frames[0]), int(frames[-1])))
    return out


def bare(episodes: list[tuple[Path, int, int]], out: Path, reps: int = 1) -> tuple[int, int]:
    """(episodes, output frames): each episode's raw frames decoded, every third encoded with the dataset codec."""
    codec = VideoCodec(threads=1)
    n_eps = n_frames = 0
    for _ in range(reps):
        for video, first, last in episodes:
            c, s = _open_one_thread(video)
            with c, av.open(str(out), "w") as dst:
                enc = dst.add_stream(codec.vcodec, rate=CANONICAL_FPS, options=codec.options())
                enc.width, enc.height, enc.pix_fmt = s.codec_context.width, s.codec_context.height, codec.pix_fmt
                k = 0
                for i, frame in enumerate(c.decode(s)):
                    if i > last:
                        break
                    if i < first or (i - first) % STEP:
                        continue
                    f = frame.reformat(format=codec.pix_fmt)
                    f.pts = k
                    k += 1
                    dst.mux(enc.encode(f))
                dst.mux(enc.encode(None))
            n_eps, n_frames = n_eps + 1, n_frames + k
    return n_eps, n_frames


def synthetic(root: Path, episodes: int, frames: int, h: int, w: int) -> Path:
    """`episodes` VITRA episodes of `frames` raw frames, each with its own camera-like H.264 mp4 of h x w."""
    both = {"left": (0, frames), "right": (0, frames)}
    specs = [VitraEpisodeSpec("Ego4D", f"c{k}", f"videos/c{k}.mp4", frames=frames, kept=both) for k in range(episodes)]
    for k, spec in enumerate(specs):  # the footage first: `write_vitra` keeps a video that is there
        (root / "videos").mkdir(parents=True, exist_ok=True)
        write_sources({"h264": root / spec.video_path}, h, w, frames, seed=k)
    return write_vitra(root, specs, size=(w, h))


def _side_by_side(name: str, root: Path, work: Path, reps: int, quiet: dict[str, float]) -> dict[str, Any]:
    row: dict[str, Any] = {"input": name, "reps": reps, "quiet": quiet}
    eps = clips(root)
    row["episodes"], row["raw_frames"] = len(eps), sum(b - a + 1 for _, a, b in eps)
    for label, run in (
        ("bare", lambda: bare(eps, work / "bare.mp4", reps)),
        ("ingest", lambda: ingest(root, work / "stage", reps)),
    ):
        counts: dict[str, int] = {}

        def measured(run=run, counts=counts) -> int:
            counts["episodes"], frames = run()
            return frames

        m = _measured(measured)
        m["episodes_per_core_s"] = round(counts["episodes"] / max(m["cpu_s"], 1e-9), 2)
        m["cpu_ms_per_episode"] = round(1000 * m["cpu_s"] / max(counts["episodes"], 1), 1)
        row[label] = m
    row["ingest_vs_bare"] = round(row["ingest"]["cpu_s"] / max(row["bare"]["cpu_s"], 1e-9), 3)
    log(
        f"{name}: episodes per core-s: ingest {row['ingest']['episodes_per_core_s']}, bare decode + encode "
        f"{row['bare']['episodes_per_core_s']} ({row['ingest_vs_bare']}x the CPU)"
    )
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    p.add_argument("--episodes", type=int, default=8, help="synthetic episodes")
    p.add_argument("--frames", type=int, default=90, help="raw frames (30 fps) per synthetic episode")
    p.add_argument("--size", default="368x480", help="HEIGHTxWIDTH of the synthetic videos (the real sample's)")
    p.add_argument("--reps", type=int, default=10, help="passes over the real sample (one short episode)")
    p.add_argument("--synthetic-reps", type=int, default=1, help="passes over the synthetic set")
    p.add_argument("--quiet-cores", type=float, default=0.5, help="wait for the machine to be this quiet")
    p.add_argument("--max-wait", type=float, default=30)
    args = parse_args(
        p,
        {"episodes": 2, "frames": 12, "size": "120x160", "reps": 1, "max_wait": 0},
        "2 synthetic episodes of 12 frames at 160x120 and one pass over the real sample",
    )
    h, w = (int(x) for x in args.size.split("x"))
    work = Path(tempfile.mkdtemp(prefix="vitra_bench_"))
    results = []
    try:
        real = realdata(REAL)
        log("warm-up: one pipeline pass over the real sample")
        ingest(real, work / "stage")
        results.append(_side_by_side(REAL, real, work, args.reps, wait_quiet(args.quiet_cores, args.max_wait)))
        log(f"writing {args.episodes} synthetic episodes of {args.frames} frames at {w}x{h}")
        root = synthetic(work / "synthetic", args.episodes, args.frames, h, w)
        quiet = wait_quiet(args.quiet_cores, args.max_wait)
        name = f"synthetic {args.episodes}x{args.frames} {w}x{h}"
        results.append(_side_by_side(name, root, work, args.synthetic_reps, quiet))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "pyav": av.__version__}
    print(json.dumps({"benchmark": "vitra", "machine": {**machine, "loadavg": os.getloadavg()}, "results": results}))


if __name__ == "__main__":
    main()
