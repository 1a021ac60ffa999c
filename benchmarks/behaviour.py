"""Behaviour QA's cost per frame against the video encode per core, and the near-duplicate search at catalog scale.

    .venv/bin/python -m benchmarks.behaviour [--reps 3] [--scale 1] [--rows 1000000] [--pairwise-rows 1000]
    .venv/bin/python -m benchmarks.behaviour --smoke     # one episode, 5000 rows: runs, measures nothing

Per-frame cost: the real GR00T PickNPlace episodes (`gr00t_robot_sim_picknplace`: tests/REAL_SAMPLES.md; 44-dim state,
action at 20 fps, one 256x256 camera; `--scale k` repeats pixels to k*256 square), in this one process (one core):

- encode: the episode's frames through the writer's encoder (`VideoEncoder`, libsvtav1 at lerobot's g=2 crf=30,
  one thread: `lp=1`) into a temporary mp4, what ingest pays per camera frame at the least;
- checks: `ingest.qa.behaviour.measure_episode` on the same episode (state, action, camera), every check plus
  the fingerprint;
- wired: the phase as ingest runs it (`ingest.qa.phase`) on the episode canonicalized (untimed) by the lerobot
  adapter and `canonicalize_spans` (10 Hz grid, 256x256 stored frames): `idle_cut` + `assess_arrays` (canonical and
  native state checks, native joint saturation against gr1_arms' limits, tracking, fingerprint) before the writer,
  `FrameTap.add` on each frame the writer encodes, `assess_cameras` after it; per written frame, its share against
  the encode's cost per frame.

Near-duplicate search at `--rows` catalog rows: random 32-value signatures with 1000 planted copies (each with 0-4
of its 32 hashes changed), searched by `near_duplicates` (LSH, 8 bands); recall of the planted pairs and the seconds.
Beside it, the reference: lerobot-doctor 0.2's near-duplicate check (`checks/anomalies.py`
`_check_near_duplicate_episodes`: every pair of episodes, `np.allclose` of a 41-value fingerprint) timed at
`--pairwise-rows` and extrapolated to `--rows` by its n^2 pairs. Medians over `--reps`; the last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("SVT_LOG", "1")

import av
import numpy as np
import pyarrow.parquet as pq

from adapters.registry import get_adapter
from benchmarks._cli import parse_args
from benchmarks._machine import log
from ingest.canonical.idle import idle_cut
from ingest.canonical.limits import DimLimits
from ingest.episode import JudgedEpisode
from ingest.lerobot.video import VideoCodec, VideoEncoder
from ingest.qa.behaviour import measure_episode
from ingest.qa.duplicates import near_duplicates
from ingest.qa.phase import FrameTap, assess_arrays, assess_cameras
from schemas.behaviour import BehaviourConfig
from schemas.canonical import image_key
from schemas.canonicalize import CanonicalizeSpec
from tests.fixtures.offline import prepare
from tests.realdata import realdata

SAMPLE = "gr00t_robot_sim_picknplace"  # the real sample (tests/REAL_SAMPLES.md)
FPS = 20


def load(index: int, scale: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    table = pq.read_table(realdata(SAMPLE) / "data" / "chunk-000" / f"episode_{index:06d}.parquet")
    n = table.num_rows
    state = table["observation.state"].combine_chunks().flatten().to_numpy().reshape(n, -1).astype(np.float64)
    action = table["action"].combine_chunks().flatten().to_numpy().reshape(n, -1).astype(np.float64)
    video = realdata(SAMPLE) / "videos" / "chunk-000" / "observation.images.ego_view" / f"episode_{index:06d}.mp4"
    with av.open(str(video)) as c:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
    if scale > 1:
        frames = frames.repeat(scale, axis=1).repeat(scale, axis=2)
    return state, action, frames


def limits() -> DimLimits:
    stats = json.loads((realdata(SAMPLE) / "meta" / "stats.json").read_text())["observation.state"]
    modality = json.loads((realdata(SAMPLE) / "meta" / "modality.json").read_text())["state"]
    rest = np.zeros(len(stats["min"]), bool)
    for part in ("left_hand", "right_hand"):
        rest[modality[part]["start"] : modality[part]["end"]] = True
    return DimLimits(np.array(stats["min"]), np.array(stats["max"]), ("rad",) * len(rest), rest)


def encode_s(frames: np.ndarray, out: Path) -> float:
    t0 = time.perf_counter()
    enc = VideoEncoder(out, frames.shape[2], frames.shape[1], FPS, VideoCodec(threads=1))
    for f in frames:
        enc.encode(f)
    enc.close()
    return time.perf_counter() - t0


def checks_s(state: np.ndarray, action: np.ndarray, frames: np.ndarray, lim: DimLimits) -> float:
    t0 = time.perf_counter()
    measure_episode(state, FPS, lim, BehaviourConfig(), action=action, cameras={"ego": frames})
    return time.perf_counter() - t0


def canonical(index: int, spec: CanonicalizeSpec) -> tuple[JudgedEpisode, dict[str, np.ndarray]]:
    """Episode `index` as ingest builds it, and the frames the writer would encode per camera (fitted, decoded once)."""
    adapter = get_adapter("lerobot")
    ref = sorted(adapter.discover(realdata(SAMPLE)), key=lambda r: r.raw_id)[index]
    [ep] = prepare(adapter.read(ref), spec).episodes
    frames = {}
    for key, c in ep.cameras.items():
        decoded = dict(c.source.frames(sorted({int(i) for i in c.indices}), c.fit))
        frames[image_key(key)] = np.stack([decoded[int(i)] for i in c.indices])
    return ep, frames


def wired_s(ep: JudgedEpisode, frames: dict[str, np.ndarray], spec: CanonicalizeSpec) -> float:
    """The behaviour phase as wired at ingest (it answers new records with its verdicts)."""
    cfg = spec.behaviour
    workspace = spec.validity.limits_for(ep.embodiment).workspace
    work = ep  # a frozen record: the phase answers new ones
    t0 = time.perf_counter()
    cut = idle_cut(work.state, work.mask, cfg, workspace)
    done = replace(work, behaviour=assess_arrays(work, cfg, workspace, cut=cut).record)
    tap = FrameTap()
    for name, stack in frames.items():
        for f in stack:
            tap.add(name, f)
    assess_cameras(done, tap)
    return time.perf_counter() - t0


def planted_signatures(rows: int, copies: int, m: int, seed: int = 0) -> tuple[np.ndarray, set[tuple[int, int]]]:
    rng = np.random.default_rng(seed)
    sig = rng.integers(0, 2**32, (rows, m), dtype=np.uint64).astype(np.uint32)
    src = rng.choice(rows // 2, copies, replace=False)
    dst = rows // 2 + rng.choice(rows - rows // 2, copies, replace=False)
    sig[dst] = sig[src]
    for k, d in enumerate(dst):  # 0..4 of the 32 values differ: similarity 1.0 .. 0.875
        changed = rng.choice(m, k % 5, replace=False)
        sig[d, changed] ^= np.uint32(0x5BD1E995)
    return sig, {(int(a), int(b)) for a, b in zip(src, dst, strict=True)}


def doctor_pairwise_s(rows: int, seed: int = 1) -> float:
    """lerobot-doctor 0.2's loop over every pair (`_check_near_duplicate_episodes`), on 41-value fingerprints."""
    fps = [(i, fp) for i, fp in enumerate(np.random.default_rng(seed).normal(size=(rows, 41)))]
    t0 = time.perf_counter()
    dup = []
    for i in range(len(fps)):
        for j in range(i + 1, len(fps)):
            if len(fps[i][1]) == len(fps[j][1]) and np.allclose(fps[i][1], fps[j][1], atol=1e-6):
                dup.append((i, j))
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--scale", type=int, default=1, help="pixel repeat of the 256x256 camera (2: 512x512)")
    p.add_argument("--episodes", type=int, default=5, help="GR00T episodes measured (1..5)")
    p.add_argument("--rows", type=int, default=1_000_000, help="catalog rows for the near-duplicate search")
    p.add_argument("--pairwise-rows", type=int, default=1000, help="rows lerobot-doctor's pairwise loop is timed at")
    args = parse_args(
        p,
        {"reps": 1, "episodes": 1, "rows": 5000, "pairwise_rows": 100},
        "one episode, 5000 catalog rows, 100 pairwise rows",
    )
    lim, cfg, spec = limits(), BehaviourConfig(), CanonicalizeSpec()
    per_episode = []
    with tempfile.TemporaryDirectory() as tmp:
        for e in range(args.episodes):
            state, action, frames = load(e, args.scale)
            checks_s(state, action, frames, lim)  # imports, first calls
            enc = statistics.median(encode_s(frames, Path(tmp) / f"e{e}_{r}.mp4") for r in range(args.reps))
            chk = statistics.median(checks_s(state, action, frames, lim) for _ in range(args.reps))
            n = len(frames)
            ep, written = canonical(e, spec)
            wired_s(ep, written, spec)  # first calls
            wired = statistics.median(wired_s(ep, written, spec) for _ in range(args.reps))
            m = ep.num_frames
            row = {
                "frames": n,
                "encode_ms_per_frame": round(enc / n * 1e3, 4),
                "checks_us_per_frame": round(chk / n * 1e6, 2),
                "share": round(chk / enc, 5),
                "written_frames": m,
                "wired_us_per_frame": round(wired / m * 1e6, 2),
                "wired_share": round((wired / m) / (enc / n), 5),
            }
            per_episode.append(row)
            log(
                f"[behaviour] episode {e} {n} frames {frames.shape[1]}px: encode {enc / n * 1e3:.3f} ms/frame,"
                f" checks {chk / n * 1e6:.1f} us/frame = {100 * chk / enc:.2f} %; wired phase {wired / m * 1e6:.1f}"
                f" us per written frame ({m}) = {100 * row['wired_share']:.2f} %"
            )
    sig, planted = planted_signatures(args.rows, min(1000, args.rows // 10), cfg.fingerprint_hashes)
    near_duplicates(sig[:1000], cfg)  # first calls
    t0 = time.perf_counter()
    pairs = near_duplicates(sig, cfg, threshold=0.85)
    search = time.perf_counter() - t0
    found = {(int(a), int(b)) for a, b in zip(pairs.first, pairs.second, strict=True)}
    recall = len(found & planted) / len(planted)
    doctor = doctor_pairwise_s(args.pairwise_rows)
    doctor_at_rows = doctor * (args.rows * (args.rows - 1)) / (args.pairwise_rows * (args.pairwise_rows - 1))
    log(
        f"[behaviour] near-duplicates at {args.rows} rows: {search:.2f} s, recall {recall:.3f}, {len(found)} pairs"
        f" ({len(found - planted)} not planted); lerobot-doctor pairwise {doctor:.2f} s at {args.pairwise_rows} rows"
        f" -> {doctor_at_rows / 3600:.1f} h at {args.rows}"
    )
    share = max(r["share"] for r in per_episode)
    head = f"{'episode':>8s} {'frames':>6s} {'encode ms/f':>11s} {'checks us/f':>11s} {'share':>7s}"
    print(head + f" {'written':>7s} {'wired us/f':>10s} {'share':>7s}")
    for e, r in enumerate(per_episode):
        print(
            f"{e:8d} {r['frames']:6d} {r['encode_ms_per_frame']:11.3f} {r['checks_us_per_frame']:11.1f}"
            f" {100 * r['share']:6.2f}% {r['written_frames']:7d} {r['wired_us_per_frame']:10.1f}"
            f" {100 * r['wired_share']:6.2f}%"
        )
    print(
        json.dumps(
            {
                "episodes": per_episode,
                "max_share": share,
                "max_wired_share": max(r["wired_share"] for r in per_episode),
                "size": 256 * args.scale,
                "reps": args.reps,
                "rows": args.rows,
                "search_s": round(search, 3),
                "recall": recall,
                "pairs": len(found),
                "false_pairs": len(found - planted),
                "refined_buckets": pairs.refined_buckets,
                "unjudged_pairs": pairs.unjudged_pairs,
                "doctor_pairwise_rows": args.pairwise_rows,
                "doctor_pairwise_s": round(doctor, 3),
                "doctor_extrapolated_s": round(doctor_at_rows, 1),
                "cpus": os.cpu_count(),
                "loadavg_1m": round(os.getloadavg()[0], 2),
                "python": platform.python_version(),
                "numpy": np.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
