"""Writer throughput at equal quality: our `LeRobotWriter` vs lerobot 0.6.1 (default and `streaming_encoding=True`)
vs PyAV alone (the encode ceiling), optionally vs lerobot 0.3.3.

Every contestant writes the same episodes (one 224x224 camera of camera-like footage, `benchmarks.footage.footage`:
a 1/f^2 scene with hard-edged objects, a moving camera and hand, sensor noise; 50-dim float32 state and action; fps
30) with the same codec settings (libsvtav1, yuv420p, g=2, crf=30, preset 12: lerobot 0.6.1's defaults,
`lerobot/configs/video.py`, and ours since issue 25), in its own subprocess, so peak RSS is per contestant. The driver
generates the frames once into a .npy file; each child loads them before its clock starts and reuses them for every
episode. lerobot 0.6.1 needs Python >= 3.12 and runs from its own venv (`.venv-oracle-v30`, `make oracle-v30`, or
`EIDATA_ORACLE_V30_VENV`); without it its two contestants are left out and the JSON says so. Outputs are checked
afterwards (info.json totals, parquet rows, mp4 frame counts), then every mp4 is decoded for its PSNR against the
source frames and its bytes per frame. Each run starts once the machine is quiet (`--quiet-cores`, `--max-wait`);
"other" is the cores that other processes used during it. Ratios are taken within each repetition and their median is
reported. Progress goes to stderr; the last stdout line is one JSON object.

    .venv/bin/python -m benchmarks.writer [--episodes 10] [--frames 300] [--size 224] [--reps 1] [--out DIR]
    .venv/bin/python -m benchmarks.writer --contestants ours ceiling lerobot061 lerobot061_stream lerobot
    .venv/bin/python -m benchmarks.writer --smoke     # 2 tiny episodes: checks that it runs, measures nothing
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import importlib.metadata
import json
import os
import platform
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._cli import parse_args
from benchmarks._machine import ROOT, machine_busy_s, peak_rss_mb, rss_mb, wait_quiet

SHIM = ROOT / "tests" / "oracle" / "shim"  # the oracle's `torchvision` stand-in, for lerobot 0.3.3's process only
VENV_V30 = Path(os.environ.get("EIDATA_ORACLE_V30_VENV", ROOT / ".venv-oracle-v30"))  # lerobot 0.6.1's own venv
# run in this order: ours and its ceiling back to back
CONTESTANTS = ("ours", "ceiling", "lerobot061", "lerobot061_stream", "lerobot")
V30 = ("lerobot061", "lerobot061_stream")
CAMERA, DIM, FPS = "observation.images.head", 50, 30
SVT_OPTIONS = {"g": "2", "crf": "30", "preset": "12"}  # lerobot 0.6.1's and ours (ingest.lerobot.video.CODEC_DEFAULTS)
RESULT = "RESULT "
NOISE = 12  # +-12 grey levels of fresh noise a frame: SVT cannot skip it, so the encode costs what camera frames do


def make_data(n: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`n` RGB frames of a smooth colour texture sliding 3 px per frame plus +-12 noise, and 50-dim state/action."""
    rng = np.random.default_rng(seed)
    width = size + 3 * n
    y = np.arange(size, dtype=np.float32)[:, None]
    x = np.arange(width, dtype=np.float32)[None, :]
    tex = np.empty((size, width, 3), np.float32)
    for c in range(3):
        fx, fy, ph = rng.uniform(0.02, 0.12, size=3)
        tex[..., c] = 128 + 70 * np.sin(fx * x + 6 * ph) * np.cos(fy * y) + 40 * np.sin(0.011 * (c + 1) * (x + 2 * y))
    frames = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        noise = rng.integers(-NOISE, NOISE + 1, size=(size, size, 3)).astype(np.float32)
        frames[i] = np.clip(tex[:, 3 * i : 3 * i + size] + noise, 0, 255)
    t = np.arange(n, dtype=np.float32)[:, None] / FPS
    j = np.arange(DIM, dtype=np.float32)[None, :]
    state = np.sin(t * (1 + j / 10) + j).astype(np.float32)
    action = np.cos(t * (1 + j / 7) - j).astype(np.float32)
    return frames, state, action


def write_data(path: Path, n: int, size: int, content: str) -> None:
    """The episode every contestant writes, as one .npz (frames, state, action), generated once by the driver."""
    frames, state, action = make_data(n, size)
    if content == "footage":
        from benchmarks.footage import footage

        frames = np.stack(list(footage(size, size, n, seed=1)))
    np.savez(path, frames=frames, state=state, action=action)


def load_data(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with np.load(path) as z:
        return z["frames"], z["state"], z["action"]


def cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)  # all threads of this process
    return ru.ru_utime + ru.ru_stime


class Clock:
    """Marks the timed section of a child; optionally profiles it (main thread only) into stderr."""

    def __init__(self, profile: bool) -> None:
        self.profiler = cProfile.Profile() if profile else None
        self.base_rss_mb = self.seconds = self.cpu_s = 0.0

    def start(self) -> None:
        self.base_rss_mb = rss_mb()
        self.t0, self.cpu0 = time.perf_counter(), cpu_s()
        if self.profiler:
            self.profiler.enable()

    def stop(self) -> None:
        if self.profiler:
            self.profiler.disable()
        self.seconds, self.cpu_s = time.perf_counter() - self.t0, cpu_s() - self.cpu0
        if self.profiler:
            for key in ("tottime", "cumulative"):
                pstats.Stats(self.profiler, stream=sys.stderr).sort_stats(key).print_stats(25)


def log(name: str, ep: int, episodes: int, t_ep: float, frames: int) -> None:
    print(f"[{name}] episode {ep + 1}/{episodes}: {frames} frames in {t_ep:.2f} s", file=sys.stderr, flush=True)


def run_ours(root: Path, data: tuple[np.ndarray, ...], args: argparse.Namespace, clock: Clock) -> None:
    import pyarrow as pa

    from ingest.lerobot.writer import LeRobotWriter
    from schemas.lerobot_features import FeatureSpec

    # pyarrow imports pandas (about 0.5 s) on its first array: an import, so before the clock, as lerobot's imports
    # (pandas among them, through `datasets`) are before its clock
    pa.array([0])

    frames, state, action = data
    episodes = args.episodes
    n, h, w, _ = frames.shape
    names = [f"j{i}" for i in range(DIM)]
    features = {
        CAMERA: FeatureSpec(dtype="video", shape=(h, w, 3), names=["height", "width", "channels"]),
        "observation.state": FeatureSpec(dtype="float32", shape=(DIM,), names=names),
        "action": FeatureSpec(dtype="float32", shape=(DIM,), names=names),
    }
    clock.start()
    with LeRobotWriter.create(root, fps=FPS, features=features, robot_type="bench") as writer:
        for ep in range(episodes):
            t_ep = time.perf_counter()
            with writer.episode(task=f"task {ep % 3}", expected_frames=n, threaded_encode=args.threaded) as b:
                for i in range(n):
                    b.add_frame({CAMERA: frames[i], "observation.state": state[i], "action": action[i]})
            log("ours", ep, episodes, time.perf_counter() - t_ep, n)
    clock.stop()


def run_lerobot(root: Path, data: tuple[np.ndarray, ...], args: argparse.Namespace, clock: Clock) -> None:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    frames, state, action = data
    episodes = args.episodes
    n, h, w, _ = frames.shape
    features = lerobot_features(h, w)
    clock.start()
    ds = LeRobotDataset.create(
        repo_id="bench/x",
        fps=FPS,
        features=features,
        root=root,
        robot_type="bench",
        use_videos=True,
        image_writer_threads=args.lerobot_threads,
    )
    for ep in range(episodes):
        t_ep = time.perf_counter()
        for i in range(n):
            ds.add_frame({CAMERA: frames[i], "observation.state": state[i], "action": action[i]}, task=f"task {ep % 3}")
        ds.save_episode()
        log("lerobot", ep, episodes, time.perf_counter() - t_ep, n)
    clock.stop()
    ds.stop_image_writer()


def lerobot_features(h: int, w: int) -> dict[str, dict]:
    """The features both lerobot contestants declare: one camera, state and action of DIM joints."""
    names = [f"j{i}" for i in range(DIM)]
    return {
        CAMERA: {"dtype": "video", "shape": (h, w, 3), "names": ["height", "width", "channels"]},
        "observation.state": {"dtype": "float32", "shape": (DIM,), "names": names},
        "action": {"dtype": "float32", "shape": (DIM,), "names": names},
    }


def run_lerobot061(root: Path, data: tuple[np.ndarray, ...], args: argparse.Namespace, clock: Clock) -> None:
    """lerobot 0.6.1: `create`, `add_frame` (with its task), `save_episode`, `finalize`; default codec settings."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    frames, state, action = data
    episodes, streaming = args.episodes, args.child == "lerobot061_stream"
    n, h, w, _ = frames.shape
    features = lerobot_features(h, w)
    clock.start()
    ds = LeRobotDataset.create(
        repo_id="bench/x",
        fps=FPS,
        features=features,
        root=root,
        robot_type="bench",
        use_videos=True,
        image_writer_threads=args.lerobot_threads,
        streaming_encoding=streaming,
        # lerobot drops a frame when its encoder queue stays full for 0.1 s (StreamingVideoEncoder.feed_frame; 1 of
        # 3000 at the default 30 under this machine's load): a queue as long as the episode keeps every frame
        encoder_queue_maxsize=max(30, n),
    )
    for ep in range(episodes):
        t_ep = time.perf_counter()
        for i in range(n):
            ds.add_frame(
                {CAMERA: frames[i], "observation.state": state[i], "action": action[i], "task": f"task {ep % 3}"}
            )
        ds.save_episode()
        log(args.child, ep, episodes, time.perf_counter() - t_ep, n)
    ds.finalize()
    clock.stop()


def run_ceiling(root: Path, data: tuple[np.ndarray, ...], args: argparse.Namespace, clock: Clock) -> None:
    import av

    frames, episodes = data[0], args.episodes
    n, h, w, _ = frames.shape
    root.mkdir(parents=True)
    clock.start()
    for ep in range(episodes):
        t_ep = time.perf_counter()
        with av.open(str(root / f"episode_{ep:06d}.mp4"), "w") as out:
            stream = out.add_stream("libsvtav1", FPS, options=SVT_OPTIONS)
            stream.pix_fmt, stream.width, stream.height = "yuv420p", w, h
            for i in range(n):
                frame = av.VideoFrame.from_ndarray(frames[i], format="rgb24")
                frame.pts = i
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
        log("ceiling", ep, episodes, time.perf_counter() - t_ep, n)
    clock.stop()


RUNNERS: dict[str, Callable[[Path, tuple[np.ndarray, ...], argparse.Namespace, Clock], None]] = {
    "ours": run_ours,
    "lerobot": run_lerobot,
    "ceiling": run_ceiling,
    "lerobot061": run_lerobot061,
    "lerobot061_stream": run_lerobot061,
}


def child(args: argparse.Namespace) -> None:
    data = load_data(Path(args.data))
    clock = Clock(args.profile == args.child)
    RUNNERS[args.child](Path(args.out), data, args, clock)
    peak = peak_rss_mb()
    result = {"frames": args.episodes * args.frames, "seconds": clock.seconds, "cpu_s": clock.cpu_s}
    print(RESULT + json.dumps({**result, "base_rss_mb": clock.base_rss_mb, "peak_rss_mb": peak}), flush=True)


def spawn(name: str, out: Path, data: Path, args: argparse.Namespace) -> dict[str, Any]:
    quiet = wait_quiet(args.quiet_cores, args.max_wait)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(SVT_LOG="1", HF_HUB_OFFLINE="1", HF_DATASETS_DISABLE_PROGRESS_BARS="1", PYTHONPATH=str(ROOT))
    if name == "lerobot":  # the torchvision stub only ever goes to lerobot 0.3.3's process
        env["PYTHONPATH"] = os.pathsep.join([str(SHIM), str(ROOT)])
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    python = str(VENV_V30 / "bin" / "python") if name in V30 else sys.executable
    cmd = [python, "-m", __spec__.name, "--child", name, "--out", str(out), "--data", str(data)]
    cmd += ["--episodes", str(args.episodes), "--frames", str(args.frames), "--size", str(args.size)]
    cmd += ["--lerobot-threads", str(args.lerobot_threads)]
    cmd += ["--profile", args.profile] + (["--threaded"] if args.threaded else [])
    busy0, kids0, t0 = machine_busy_s(), resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    try:  # SVT-AV1 has hung here under heavy load (all threads in sem_wait; BENCHMARKS.md "Codec settings")
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, check=False, timeout=args.child_timeout)
    except subprocess.TimeoutExpired:
        sys.exit(f"{name}: child ran past --child-timeout {args.child_timeout} s (a hung encoder?)")
    kids1, wall = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT)]
    if proc.returncode != 0 or not lines:
        sys.exit(f"{name}: child failed (exit {proc.returncode})\n{proc.stdout}")
    child_cpu = kids1.ru_utime + kids1.ru_stime - kids0.ru_utime - kids0.ru_stime
    other = max(machine_busy_s() - busy0 - child_cpu, 0.0) / wall  # cores used by anything else meanwhile
    if other > 0.1:
        print(f"WARNING: other processes used {other:.2f} cores during {name}; figures distorted", file=sys.stderr)
    return {**json.loads(lines[-1][len(RESULT) :]), "other_load": other, **quiet}


def verify(name: str, out: Path, episodes: int, data: tuple[np.ndarray, ...]) -> dict[str, Any]:
    """Fail loudly unless the output holds `episodes` complete episodes; return sizes and the video's PSNR against
    the source frames (every episode is the same frames; lerobot 0.6.1 concatenates episodes into one mp4)."""
    import av
    import pyarrow.parquet as pq

    frames = data[0]
    n = len(frames)
    want = episodes * n
    mp4s, parquets = sorted(out.rglob("*.mp4")), sorted(out.rglob("data/**/*.parquet") if name != "ceiling" else [])
    se, count = 0.0, 0
    for p in mp4s:
        with av.open(str(p)) as f:
            for fr in f.decode(video=0):
                d = fr.to_ndarray(format="rgb24").astype(np.float32) - frames[count % n]
                se += float(np.square(d).sum())
                count += 1
    v30 = name in V30
    problems = [] if (v30 or len(mp4s) == episodes) and count == want else [f"mp4s {len(mp4s)}, frames {count}"]
    features = None
    if name != "ceiling":
        info = json.loads((out / "meta" / "info.json").read_text())
        rows = sum(pq.read_metadata(p).num_rows for p in parquets)
        files_ok = v30 or len(parquets) == episodes
        if (info["total_episodes"], info["total_frames"], rows) != (episodes, want, want) or not files_ok:
            problems.append(f"info {info['total_episodes']} eps/{info['total_frames']} frames, parquet rows {rows}")
        features = {k: (v["dtype"], tuple(v["shape"])) for k, v in info["features"].items()}
    if problems:
        sys.exit(f"{name}: invalid output in {out}: {'; '.join(problems)}")
    video_bytes = sum(p.stat().st_size for p in mp4s)
    return {
        "video_mb": video_bytes / 2**20,
        "bytes_per_frame": video_bytes / want,
        "psnr_db": 10 * float(np.log10(255.0**2 * frames.size * episodes / se)) if se else float("inf"),
        "data_kb": sum(p.stat().st_size for p in parquets) / 2**10,
        "features": features,
    }


def contestants(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """The contestants to run, in `CONTESTANTS` order, and those left out (lerobot 0.6.1 without its venv)."""
    chosen = [c for c in CONTESTANTS if c in args.contestants]
    missing = [c for c in chosen if c in V30 and not (VENV_V30 / "bin" / "python").exists()]
    if missing:
        print(f"WARNING: no {VENV_V30}/bin/python (make oracle-v30): {', '.join(missing)} left out", file=sys.stderr)
    return [c for c in chosen if c not in missing], missing


def driver(args: argparse.Namespace) -> None:
    import av
    import pyarrow

    names, left_out = contestants(args)
    base = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="eidata-bench-"))
    runs: dict[str, list[dict[str, Any]]] = {c: [] for c in names}
    try:
        base.mkdir(parents=True, exist_ok=True)
        data_path = base / "episode.npz"
        write_data(data_path, args.frames, args.size, args.content)  # imports and generation outside every clock
        data = load_data(data_path)
        for rep in range(args.reps):
            for name in names:
                print(f"--- rep {rep + 1}/{args.reps}: {name}", file=sys.stderr, flush=True)
                out = base / f"rep{rep}" / name
                r = spawn(name, out, data_path, args)
                r.update(verify(name, out, args.episodes, data), rep=rep, fps=r["frames"] / r["seconds"])
                runs[name].append(r)
            ours = runs["ours"][-1]["features"] if "ours" in runs else None
            for name in names:
                theirs = runs[name][-1]["features"]
                if ours and theirs and {k: v for k, v in theirs.items() if k in ours} != ours:
                    sys.exit(f"ours and {name} wrote different features; not comparable")
    finally:
        if not args.out:
            shutil.rmtree(base, ignore_errors=True)

    head = f"{'contestant':<17} {'rep':>3} {'frames':>6} {'seconds':>8} {'frames/s':>9} {'CPU s':>6} {'other':>5}"
    print(f"{head} {'peak RSS MB':>11} {'video MB':>8} {'B/frame':>7} {'PSNR dB':>7} {'parquet KB':>10}")
    for name in names:
        for r in runs[name]:
            print(
                f"{name:<17} {r['rep'] + 1:>3} {r['frames']:>6} {r['seconds']:>8.2f} {r['fps']:>9.1f} "
                f"{r['cpu_s']:>6.1f} {r['other_load']:>5.2f} {r['peak_rss_mb']:>11.0f} {r['video_mb']:>8.2f} "
                f"{r['bytes_per_frame']:>7.0f} {r['psnr_db']:>7.2f} {r['data_kb']:>10.0f}"
            )
    summary: dict[str, Any] = {}
    for c in names:
        summary[c] = {
            "fps": round(statistics.median(r["fps"] for r in runs[c]), 1),
            "cpu_s": round(statistics.median(r["cpu_s"] for r in runs[c]), 1),
            "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs[c]), 1),
            "bytes_per_frame": round(statistics.median(r["bytes_per_frame"] for r in runs[c])),
            "psnr_db": round(statistics.median(r["psnr_db"] for r in runs[c]), 3),
        }
    # each ratio within a repetition, then their median: the machine's drift between repetitions cancels out
    ratios = {}
    if "ours" in runs:
        for c in names:
            if c != "ours":
                per_rep = [o["fps"] / b["fps"] for o, b in zip(runs["ours"], runs[c], strict=True)]
                ratios[f"ours/{c}"] = round(statistics.median(per_rep), 3)
    fastest = max((c for c in names if c in V30), key=lambda c: summary[c]["fps"], default=None)
    line = "   ".join(f"{k} = {v:.2f}x" for k, v in ratios.items())
    print(line + (f"   (targets: ours/{fastest} >= 3 at equal PSNR, ours/ceiling >= 0.90)" if fastest else ""))
    versions = {
        "python": platform.python_version(),
        "av": av.__version__,
        "pyarrow": pyarrow.__version__,
        "numpy": np.__version__,
    }
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        versions["lerobot"] = importlib.metadata.version("lerobot")
    if any(c in V30 for c in names):
        dist = list(VENV_V30.glob("lib/python3*/site-packages/lerobot-*.dist-info"))
        versions["lerobot_v30_venv"] = dist[0].name.removesuffix(".dist-info") if dist else "?"
    other = max(r["other_load"] for c in names for r in runs[c])
    out = {
        "contestants": summary,
        "ratios": ratios,
        "fastest_lerobot061_mode": fastest,
        "left_out": left_out,
        "episodes": args.episodes,
        "frames": args.frames,
        "size": args.size,
        "reps": args.reps,
        "content": args.content,
        "lerobot_threads": args.lerobot_threads,
        "threaded": args.threaded,
        "other_load_max": round(other, 2),
        "loadavg": os.getloadavg(),
        "versions": versions,
    }
    print(json.dumps(out))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--frames", type=int, default=300, help="frames per episode")
    p.add_argument("--size", type=int, default=224, help="camera height and width")
    p.add_argument("--out", default=None, help="keep the outputs here (default: a temp dir, removed)")
    p.add_argument("--reps", type=int, default=1, help="repetitions; each runs every contestant in turn")
    p.add_argument("--contestants", nargs="+", choices=CONTESTANTS, default=["ours", "ceiling", *V30])
    p.add_argument(
        "--content",
        choices=["footage", "texture"],
        default="footage",
        help="camera-like footage (default) or the older sliding texture with uniform noise",
    )
    p.add_argument("--data", help=argparse.SUPPRESS)
    p.add_argument("--child-timeout", type=float, default=900, help="seconds a contestant may run")
    p.add_argument("--lerobot-threads", type=int, default=0, help="lerobot's image_writer_threads")
    p.add_argument("--threaded", action="store_true", help="ours with threaded_encode=True (diagnostic)")
    p.add_argument("--profile", choices=[*CONTESTANTS, ""], default="", help="cProfile this contestant's main thread")
    p.add_argument("--quiet-cores", type=float, default=0.3, help="before each run, wait until others use fewer")
    p.add_argument("--max-wait", type=float, default=120, help="at most this many seconds of waiting per run (0: none)")
    p.add_argument("--child", choices=CONTESTANTS, help=argparse.SUPPRESS)
    smoke = {"episodes": 2, "frames": 10, "size": 64, "reps": 1, "max_wait": 0}  # every contestant whose venv exists
    args = parse_args(p, smoke, "2 episodes of 10 frames at 64x64, 1 repetition, no quiet wait")
    if args.child:
        child(args)
    else:
        driver(args)


if __name__ == "__main__":
    main()
