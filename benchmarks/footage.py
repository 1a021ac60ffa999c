"""Rates on realistic footage (issue 16 item 6): 30 fps camera files in, 224x224 at 10 Hz out, per core.

Input: for each size (default 480x640 and 1080x1920) and codec (H.264 via libx264, AV1 via libsvtav1, MPEG-4 Part 2
via FFmpeg's `mpeg4`, which EgoDex ships), `--seconds` of footage that compresses like camera video rather than noise
or flat colour: a procedurally generated scene (a 1/f^2-spectrum colour texture, the power law of natural images,
with a few dozen textured objects with hard edges on it) seen by a camera that pans, rolls and zooms smoothly by a few
pixels per frame, with a darker "hand" moving across it, and fresh Gaussian sensor noise (sigma 2 grey levels) on
every frame. The bitrate each file gets is reported (bits per pixel).

Each file goes through four measured runs, in one process and on one thread where the library allows (decoders on
one thread; SVT-AV1 `lp=1`; CPU time from getrusage, so any helper thread a library still starts is counted):

- `decode`: every frame decoded, nothing else: the physical floor (inter-coded video needs every frame).
- `decode+encode`: the same, plus every third frame scaled to 224x224 by libswscale straight to yuv420p and encoded
  with the dataset codec (`VideoCodec(threads=1)`: libsvtav1 crf 30 g 2 preset 12 lp 1): the bare loop the issue
  compares with.
- `pipeline`: our path as a job worker runs it, minus Ray: the EgoDex adapter reads the episode (HDF5 poses + this
  mp4), `canonicalize` resamples to 10 Hz with `canonicalize.image` 224x224 pad, and `stage_canonical` encodes the
  frames and writes the parquet columns into a staging folder.
- `pipeline-native` (1080p MPEG-4 only, unless `--no-native`): the same at native size, as before the size option.

Before any clock, one tiny pipeline run makes every import the pipeline makes on first use (pandas, through pyarrow's
first array, was charged to whichever input ran first). Rates are output frames (10 Hz) per CPU-second, i.e. per
core. `--job` also runs the real `eidata ingest` job (embedded
Ray, 2 CPUs) on the 1080p MPEG-4 episodes before / after the size option, and reports output frames per wall second.
Progress goes to stderr; the last stdout line is one JSON object.

    .venv/bin/python -m benchmarks.footage [--seconds 10] [--sizes 480x640 1080x1920] [--job] [--out DIR]
    .venv/bin/python -m benchmarks.footage --smoke     # tiny frames, 2 s: checks that it runs, measures nothing
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1's banner per file, before any encoder starts

import av
import cv2
import h5py
import numpy as np
from av.video.reformatter import VideoReformatter

from adapters.registry import get_adapter
from adapters.synthetic.egodex import intrinsic_for, write_egodex
from benchmarks._cli import parse_args
from benchmarks._machine import log, machine_busy_s, wait_quiet
from ingest.lerobot.video import VideoCodec
from schemas.canonical import CANONICAL_FPS
from schemas.canonicalize import CanonicalizeSpec
from tests.fixtures.offline import prepared, stage

FPS, OUT_HZ, OUT = 30, CANONICAL_FPS, (224, 224)
SOURCE_CODECS = {  # how each input kind is written: x264 / mpeg4 as cameras and phones write them, AV1 as LeRobot
    "h264": ("libx264", {"crf": "23", "g": "60", "preset": "veryfast"}),
    "av1": ("libsvtav1", {"crf": "30", "g": "2", "preset": "10"}),
    "mpeg4": ("mpeg4", {"g": "30"}),
}
MPEG4_BPP = 0.13  # bits per pixel for the mpeg4 files (rate control of FFmpeg's mpeg4 is bitrate only)


# -- content -------------------------------------------------------------------------------------------------------


def _pink(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A zero-mean, unit-std field with a 1/f^2 power spectrum (natural images' statistics)."""
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.rfftfreq(shape[1])[None, :]
    amp = 1.0 / np.maximum(np.hypot(fx, fy), 1.0 / max(shape))
    spec = amp * (rng.standard_normal(amp.shape) + 1j * rng.standard_normal(amp.shape))
    field = np.fft.irfft2(spec, s=shape).astype(np.float32)
    return (field - field.mean()) / field.std()


def scene(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A (h, w, 3) uint8 'world' texture: 1/f^2 colour background plus textured objects with sharp edges."""
    lum = 110 + 45 * _pink((h, w), rng)
    img = np.stack([lum + 12 * _pink((h, w), rng) + d for d in (8, 0, -10)], axis=-1)
    for _ in range(40):  # objects: flat-ish colours modulated by texture, hard (anti-aliased) outlines
        mask = np.zeros((h, w), np.uint8)
        cy, cx = rng.integers(0, h), rng.integers(0, w)
        size = rng.uniform(0.03, 0.15) * min(h, w)
        if rng.random() < 0.5:
            axes = (int(size), int(size * rng.uniform(0.4, 1.0)))
            cv2.ellipse(mask, (int(cx), int(cy)), axes, float(rng.uniform(0, 180)), 0, 360, 255, -1, cv2.LINE_AA)
        else:
            pts = (np.array([cx, cy]) + rng.uniform(-size, size, (int(rng.integers(3, 7)), 2))).astype(np.int32)
            cv2.fillPoly(mask, [pts], 255, cv2.LINE_AA)
        a = (mask.astype(np.float32) / 255)[..., None]
        colour = rng.uniform(30, 230, 3).astype(np.float32)
        tex = 1 + 0.15 * _pink((h, w), rng)[..., None] if rng.random() < 0.3 else 1.0
        img = img * (1 - a) + a * colour * tex
    return np.clip(img, 0, 255).astype(np.uint8)


def footage(h: int, w: int, n: int, seed: int = 0) -> Iterator[np.ndarray]:
    """`n` RGB frames: a camera moving smoothly over `scene`, a moving dark blob (a hand), fresh sensor noise."""
    rng = np.random.default_rng(seed)
    world = scene(int(h * 1.6), int(w * 1.6), rng)
    wh, ww = world.shape[:2]
    t = np.arange(n) / FPS
    # head-mounted camera: slow drifts plus a faster wobble, a few pixels per frame at this size
    px = 0.25 * ww + 0.12 * ww * np.sin(0.35 * t + rng.uniform(0, 6)) + 0.01 * ww * np.sin(2.1 * t)
    py = 0.25 * wh + 0.10 * wh * np.sin(0.27 * t + rng.uniform(0, 6)) + 0.008 * wh * np.sin(2.7 * t)
    roll = 3.0 * np.sin(0.5 * t)
    zoom = 1.0 + 0.05 * np.sin(0.2 * t)
    yy, xx = np.mgrid[0 : h // 4, 0 : w // 4].astype(np.float32) * 4  # the smooth hand is drawn at 1/4 size
    for i in range(n):
        m = cv2.getRotationMatrix2D((w / 2, h / 2), float(roll[i]), float(zoom[i]))
        m[:, 2] += (px[i], py[i])
        frame = cv2.warpAffine(world, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        hx, hy = w * (0.5 + 0.25 * np.sin(1.3 * t[i])), h * (0.75 + 0.1 * np.cos(0.9 * t[i]))
        hand = np.exp(-(((xx - hx) / (0.09 * w)) ** 2 + ((yy - hy) / (0.12 * h)) ** 2) * 2)
        hand = cv2.resize(hand, (w, h), interpolation=cv2.INTER_LINEAR)[..., None]
        out = frame * (1 - 0.5 * hand) + hand * np.array([90, 60, 50], np.float32)
        out += 2.0 * rng.standard_normal((h, w, 1), dtype=np.float32)
        yield np.clip(out, 0, 255).astype(np.uint8)


def write_sources(paths: dict[str, Path], h: int, w: int, n: int, seed: int) -> None:
    """One pass over the footage, encoded to every `{kind: path}` at once (generating 1080p frames is the slow part)."""
    with contextlib.ExitStack() as stack:
        outs = []
        for kind, path in paths.items():
            codec, options = SOURCE_CODECS[kind]
            c = stack.enter_context(av.open(str(path), "w"))
            s = c.add_stream(codec, rate=FPS, options=options)
            s.width, s.height, s.pix_fmt = w, h, "yuv420p"
            if kind == "mpeg4":
                s.bit_rate = int(MPEG4_BPP * w * h * FPS)
            outs.append((c, s))
        for i, rgb in enumerate(footage(h, w, n, seed)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            for c, s in outs:
                c.mux(s.encode(frame))
            if i % 50 == 0:
                log(f"  frame {i}/{n}")
        for c, s in outs:
            c.mux(s.encode(None))


# -- measured runs -------------------------------------------------------------------------------------------------


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _measured(fn: Callable[[], int]) -> dict[str, float]:
    b0, c0, t0 = machine_busy_s(), _cpu_s(), time.perf_counter()
    out_frames = fn()
    cpu, wall = _cpu_s() - c0, time.perf_counter() - t0
    other = max(0.0, (machine_busy_s() - b0 - cpu) / wall)
    return {
        "cpu_s": round(cpu, 3),
        "wall_s": round(wall, 3),
        "out_frames": out_frames,
        "out_fps_per_core": round(out_frames / cpu, 1),
        "other_cores": round(other, 2),
    }


def _open_one_thread(path: Path) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
    c = av.open(str(path))
    s = c.streams.video[0]
    s.thread_type, s.codec_context.thread_count = "NONE", 1
    return c, s


def bare_decode(path: Path) -> int:
    c, s = _open_one_thread(path)
    with c:
        n = sum(1 for _ in c.decode(s))
    return n // (FPS // OUT_HZ)


def bare_decode_encode(path: Path, out: Path) -> int:
    """Decode all, every third frame scaled to 224x224 yuv420p by libswscale and AV1-encoded (the bare loop)."""
    c, s = _open_one_thread(path)
    scaler = VideoReformatter()
    n = 0
    with c, av.open(str(out), "w") as dst:
        enc = dst.add_stream("libsvtav1", rate=OUT_HZ, options={**VideoCodec(threads=1).options()})
        enc.width, enc.height, enc.pix_fmt = OUT[1], OUT[0], "yuv420p"
        for i, frame in enumerate(c.decode(s)):
            if i % (FPS // OUT_HZ):
                continue
            small = scaler.reformat(frame, width=OUT[1], height=OUT[0], format="yuv420p", interpolation="AREA")
            small.pts = n
            n += 1
            dst.mux(enc.encode(small))
        dst.mux(enc.encode(None))
    return n


def egodex_episode(root: Path, video: Path, h: int, w: int, n: int) -> None:
    """One EgoDex episode under `root` (`part1/task/0.hdf5` + `0.mp4`): the fixture's poses, this footage's mp4 and
    Apple's intrinsics for its size."""
    fx = write_egodex(root, tasks=("basic_pick_place",), episodes_per_task=1, num_frames=n, old_episode=False)
    ep = fx.good[0]
    shutil.copy(video, ep.mp4)
    with h5py.File(ep.hdf5, "r+") as f:
        f["camera/intrinsic"][...] = intrinsic_for(h, w)


def pipeline(root: Path, stage_root: Path, image: dict[str, Any], video_bytes: list[int] | None = None) -> int:
    """Adapter read -> canonicalize (10 Hz, `image`) -> stage (encode + parquet), as one ingest task runs it; the
    staged videos' sizes go to `video_bytes`."""
    adapter = get_adapter("egodex")
    spec = CanonicalizeSpec(image=image)
    codec = VideoCodec(threads=1)
    frames = 0
    for ref in adapter.discover(root):
        for ep in prepared(adapter.read(ref), spec, source="egodex"):
            st = stage(stage_root, ep, codec)
            frames += st.length
            if video_bytes is not None:
                video_bytes += [(st.stage_dir / name).stat().st_size for name in st.video_files.values()]
    shutil.rmtree(stage_root, ignore_errors=True)
    return frames


def warm_up(work: Path) -> None:
    """One tiny pipeline run before any clock: the imports the pipeline makes on first use (pandas through pyarrow's
    first array, the stats and adapter modules) would otherwise be charged to whichever input runs first."""
    src, root = work / "warmup.mp4", work / "egodex_warmup"
    write_sources({"h264": src}, 64, 64, 6, seed=0)
    egodex_episode(root, src, 64, 64, 6)
    pipeline(root, work / "stage", {"size": f"{OUT[1]}x{OUT[0]}", "fit": "pad"})
    shutil.rmtree(root, ignore_errors=True)
    src.unlink()


def ingest_job(root: Path, out: Path, image: dict[str, Any] | None) -> dict[str, float]:
    """The real `eidata ingest` job on `root` (embedded Ray, 2 CPUs): output frames per wall second."""
    from jobs.ingest.job import run_ingest
    from jobs.spec_models import JobSpec

    shutil.rmtree(out, ignore_errors=True)
    spec = {
        "output": str(out),
        "sources": [{"name": "egodex", "adapter": "egodex", "root": str(root)}],
        "parallelism": {"num_cpus": 2},
    }
    if image is not None:
        spec["canonicalize"] = {"image": image}
    b0, t0 = machine_busy_s(), time.perf_counter()
    report = run_ingest(JobSpec.model_validate(spec), progress=False)
    wall = time.perf_counter() - t0
    frames = sum(t.frames for t in report.tallies.values())
    return {
        "wall_s": round(wall, 1),
        "out_frames": frames,
        "out_fps": round(frames / wall, 1),
        "busy_cores": round((machine_busy_s() - b0) / wall, 2),
    }


# -- driver --------------------------------------------------------------------------------------------------------


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    p.add_argument("--seconds", type=float, default=10.0, help="footage length per file")
    p.add_argument("--sizes", nargs="+", default=["480x640", "1080x1920"], help="HEIGHTxWIDTH of the inputs")
    p.add_argument("--codecs", nargs="+", default=list(SOURCE_CODECS), choices=list(SOURCE_CODECS))
    p.add_argument("--fit", default="pad", choices=["pad", "crop", "squash"])
    p.add_argument("--no-native", action="store_true", help="skip the native-size pipeline run (slow at 1080p)")
    p.add_argument("--job", action="store_true", help="also run the real ingest job before/after the size option")
    p.add_argument("--job-episodes", type=int, default=6, help="episodes the --job runs ingest")
    p.add_argument("--out", type=Path, default=None, help="keep inputs here (reused when present)")
    p.add_argument("--quiet-cores", type=float, default=0.5, help="wait for the machine to be this quiet")
    p.add_argument("--max-wait", type=float, default=60)
    args = parse_args(
        p,
        {"seconds": 2.0, "sizes": ["120x160"], "max_wait": 0, "no_native": True, "job": False},
        "120x160 inputs of 2 s, every codec",
    )
    work = args.out or Path(tempfile.mkdtemp(prefix="footage_"))
    work.mkdir(parents=True, exist_ok=True)
    n = round(args.seconds * FPS)
    image = {"size": f"{OUT[1]}x{OUT[0]}", "fit": args.fit}
    results: list[dict[str, Any]] = []
    try:
        warm_up(work)
        for size in args.sizes:
            h, w = (int(x) for x in size.split("x"))
            sources = {kind: work / f"{kind}_{h}x{w}_{n}.mp4" for kind in args.codecs}
            missing = {kind: path for kind, path in sources.items() if not path.exists()}
            if missing:
                log(f"writing {', '.join(p.name for p in missing.values())} ({n} frames)")
                write_sources(missing, h, w, n, seed=h + w)
            for kind, src in sources.items():
                bpp = src.stat().st_size * 8 / (n * h * w)
                ep_root = work / f"egodex_{kind}_{h}x{w}_{n}"
                if not ep_root.exists():
                    egodex_episode(ep_root, src, h, w, n)
                row: dict[str, Any] = {
                    "input": f"{kind} {h}x{w} {FPS} fps",
                    "frames_in": n,
                    "bits_per_pixel": round(bpp, 3),
                    "mbit_s": round(src.stat().st_size * 8 / args.seconds / 1e6, 2),
                }
                row["quiet"] = wait_quiet(args.quiet_cores, args.max_wait)
                row["decode"] = _measured(lambda src=src: bare_decode(src))
                row["decode+encode"] = _measured(lambda src=src: bare_decode_encode(src, work / "bare.mp4"))
                stored: list[int] = []
                row["pipeline"] = _measured(lambda r=ep_root, b=stored: pipeline(r, work / "stage", image, b))
                row["stored_bytes_per_frame"] = round(sum(stored) / max(row["pipeline"]["out_frames"], 1))
                if not args.no_native and kind == "mpeg4" and h >= 1080:
                    row["pipeline-native"] = _measured(lambda r=ep_root: pipeline(r, work / "stage", {}))
                rate = {k: row[k]["out_fps_per_core"] for k in ("decode", "decode+encode", "pipeline")}
                # CPU per output frame of the pipeline over that of each bare loop (1.25 = 25 % slower)
                row["pipeline_vs_decode+encode"] = round(rate["decode+encode"] / max(rate["pipeline"], 1e-9), 3)
                row["pipeline_vs_decode"] = round(rate["decode"] / max(rate["pipeline"], 1e-9), 3)
                log(
                    f"{row['input']}: {row['bits_per_pixel']} bpp; output frames/s per core: decode {rate['decode']}, "
                    f"decode+encode {rate['decode+encode']}, pipeline {rate['pipeline']}"
                )
                results.append(row)
                if args.job and kind == "mpeg4" and h >= 1080:
                    job_root = work / "job_in"
                    shutil.rmtree(job_root, ignore_errors=True)
                    job_root.mkdir()
                    for k in range(args.job_episodes):  # copies of the episode, spread over the Ray workers
                        shutil.copytree(ep_root / "part1", job_root / f"part{k + 1}")
                    for label, img in (("native", None), ("224x224", image)):
                        log(f"ingest job, {label}")
                        row[f"job_{label}"] = ingest_job(job_root, work / f"job_out_{label}", img)
    finally:
        if args.out is None:
            shutil.rmtree(work, ignore_errors=True)
    print(
        json.dumps(
            {
                "benchmark": "footage",
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "pyav": av.__version__,
                    "loadavg": os.getloadavg(),
                },
                "seconds": args.seconds,
                "fit": args.fit,
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
