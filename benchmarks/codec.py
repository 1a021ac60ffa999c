"""Codec settings by measurement (issue 25 item 1): speed per core at equal quality against lerobot 0.6.1's settings.

Footage: `benchmarks.footage.footage` (a 1/f^2 scene with hard-edged objects, a smoothly panning, rolling, zooming
camera, a moving hand, Gaussian sensor noise), generated at the stored size (default 224x224, the size the README's
EI-30K plan stores) so that only the encoder is measured. Every setting encodes the same frames through our own
`ingest.lerobot.video.VideoEncoder` on one encoder thread (SVT-AV1 `lp=1`, libx264 `threads=1`), in this process;
"CPU s" is getrusage (every thread). Quality is the PSNR of the decoded RGB frames against the source frames (the
mean squared error over the whole episode), size is the mp4's bytes per frame.

The reference is lerobot 0.6.1's default (`lerobot/configs/video.py`, `VideoEncoderConfig`: libsvtav1, yuv420p, g=2,
crf=30, `LIBSVTAV1_DEFAULT_PRESET = 12`, `svtav1-params` `fast-decode=0`). For each SVT-AV1 preset the sweep finds the
crf whose PSNR is the closest at or above the reference's, so presets are compared at equal quality; each setting is
timed `--reps` times and the fastest CPU time is kept (the machine is shared). H.264 (libx264, `VideoCodec.h264()`'s
crf 23) is swept over its presets against its library default (`medium`), which lerobot 0.6.1 uses when asked for
h264 (preset None). Last, one and three cameras encoded at once (as an ingest task feeds an episode's cameras, each
encoder at `lp=1`), unpinned and held to one CPU (`jobs.runtime.cpu_slots`): the cores they keep busy. Progress
goes to stderr; the last stdout line is one JSON object.

    .venv/bin/python -m benchmarks.codec [--frames 300] [--size 224x224] [--reps 3]
    .venv/bin/python -m benchmarks.codec --smoke     # 20 frames at 64x64: checks that it runs, measures nothing
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("SVT_LOG", "1")

import av
import numpy as np

from benchmarks._cli import parse_args
from benchmarks._machine import log, machine_busy_s
from benchmarks.footage import footage
from ingest.lerobot.video import VideoCodec, VideoEncoder

FPS = 30
# lerobot 0.6.1, lerobot/configs/video.py: VideoEncoderConfig defaults and LIBSVTAV1_DEFAULT_PRESET; get_codec_options
# adds svtav1-params fast-decode=0 (the library's own default, so the same bitstream as leaving it out)
LEROBOT_061 = {"vcodec": "libsvtav1", "pix_fmt": "yuv420p", "g": 2, "crf": 30, "preset": "12"}
SVT_PRESETS = ("8", "10", "11", "12", "13")
SVT_CRFS = tuple(range(20, 37))
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium")
X264_CRFS = tuple(range(15, 31))


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def psnr(path: Path, frames: np.ndarray) -> float:
    """PSNR (dB) of the decoded RGB frames against `frames`, from the mean squared error over all of them."""
    se, n = 0.0, 0
    with av.open(str(path)) as f:
        for i, fr in enumerate(f.decode(video=0)):
            d = fr.to_ndarray(format="rgb24").astype(np.float32) - frames[i]
            se += float(np.square(d).sum())
            n += d.size
    if n != frames.size:
        raise RuntimeError(f"{path}: decoded {n} values, expected {frames.size}")
    return float(10 * np.log10(255.0**2 / (se / n)))


def encode(codec: VideoCodec, frames: np.ndarray, path: Path, reps: int) -> dict[str, Any]:
    """Encode `frames` with `codec` `reps` times; the fastest CPU time, its wall time, bytes/frame and PSNR."""
    n, h, w, _ = frames.shape
    best: tuple[float, float] | None = None
    for _ in range(reps):
        c0, t0 = _cpu_s(), time.perf_counter()
        enc = VideoEncoder(path, w, h, FPS, codec)
        for f in frames:
            enc.encode(f)
        enc.close()
        cpu, wall = _cpu_s() - c0, time.perf_counter() - t0
        best = (cpu, wall) if best is None or cpu < best[0] else best
    assert best is not None
    return {
        "cpu_s": round(best[0], 3),
        "wall_s": round(best[1], 3),
        "fps_per_core": round(n / best[0], 1),
        "bytes_per_frame": round(path.stat().st_size / n),
        "psnr_db": round(psnr(path, frames), 3),
    }


def cameras_at_once(frames: np.ndarray, work: Path, cameras: int, pin: bool) -> dict[str, Any]:
    """`cameras` encoders fed frame by frame in turn, as an ingest task feeds an episode's cameras (`lp=1` each):
    the cores they keep busy (CPU / wall), unpinned or held to one CPU as a pinned task is (`held_to_cpus`)."""
    from jobs.runtime.cpu_slots import held_to_cpus

    n, h, w, _ = frames.shape
    with held_to_cpus(1, work / "slots") if pin else contextlib.nullcontext() as cpus:
        c0, t0 = _cpu_s(), time.perf_counter()
        encs = [VideoEncoder(work / f"cam{k}.mp4", w, h, FPS, VideoCodec(threads=1)) for k in range(cameras)]
        for f in frames:
            for enc in encs:
                enc.encode(f)
        for enc in encs:
            enc.close()
        cpu, wall = _cpu_s() - c0, time.perf_counter() - t0
    return {
        "cameras": cameras,
        "pinned_to": cpus,
        "cpu_s": round(cpu, 3),
        "wall_s": round(wall, 3),
        "cores_busy": round(cpu / wall, 2),
        "fps_per_core": round(cameras * n / cpu, 1),
    }


def at_quality(rows: list[dict[str, Any]], target_db: float) -> dict[str, Any]:
    """The row whose PSNR is the lowest at or above `target_db` (the highest-PSNR row if none reaches it)."""
    ok = [r for r in rows if r["psnr_db"] >= target_db - 0.005]
    return min(ok, key=lambda r: r["psnr_db"]) if ok else max(rows, key=lambda r: r["psnr_db"])


def sweep(
    name: str,
    base: dict[str, Any],
    presets: tuple[str, ...],
    crfs: tuple[int, ...],
    ref: dict[str, Any],
    frames: np.ndarray,
    work: Path,
    reps: int,
) -> list[dict[str, Any]]:
    """For each preset, bisect the crf grid for the setting at the reference's PSNR (PSNR falls as crf rises)."""
    out = []
    for preset in presets:
        tried: dict[int, dict[str, Any]] = {}
        lo, hi = 0, len(crfs) - 1
        while lo <= hi:  # the largest crf (smallest file) still at or above the reference PSNR
            mid = (lo + hi) // 2
            crf = crfs[mid]
            codec = VideoCodec(**{**base, "preset": preset, "crf": crf})
            tried[crf] = {"preset": preset, "crf": crf, **encode(codec, frames, work / f"{name}.mp4", reps)}
            if tried[crf]["psnr_db"] >= ref["psnr_db"] - 0.005:
                lo = mid + 1
            else:
                hi = mid - 1
        row = at_quality(list(tried.values()), ref["psnr_db"])
        row["fps_vs_ref"] = round(row["fps_per_core"] / ref["fps_per_core"], 3)
        row["bytes_vs_ref"] = round(row["bytes_per_frame"] / ref["bytes_per_frame"], 3)
        log(
            f"{name} preset {preset}: crf {row['crf']}, {row['psnr_db']} dB, {row['bytes_per_frame']} B/frame, "
            f"{row['fps_per_core']} frames/s per core ({row['fps_vs_ref']}x the reference)"
        )
        out.append(row)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--size", default="224x224", help="HEIGHTxWIDTH of the stored frames")
    p.add_argument("--reps", type=int, default=3, help="encodes per setting; the fastest CPU time is kept")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--cameras-only", action="store_true", help="only the cameras-at-once rows")
    smoke = {"frames": 20, "size": "64x64", "reps": 1}
    args = parse_args(p, smoke, "20 frames at 64x64, presets 12 and 13, x264 veryfast and medium")
    svt_presets, x264_presets = (("12", "13"), ("veryfast", "medium")) if args.smoke else (SVT_PRESETS, X264_PRESETS)
    h, w = (int(x) for x in args.size.split("x"))
    frames = np.stack(list(footage(h, w, args.frames, seed=args.seed)))
    busy0, t0 = machine_busy_s(), time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="codec_") as tmp:
        work = Path(tmp)
        one = {"threads": 1}
        if args.cameras_only:  # a quick re-run of the last rows when the machine is quiet
            rows = [cameras_at_once(frames, work, k, pin) for k, pin in ((1, False), (3, False), (3, True))]
            print(json.dumps({"benchmark": "codec", "cameras_at_once": rows, "loadavg": os.getloadavg()}))
            return
        ref = {
            "setting": "lerobot 0.6.1 default",
            **LEROBOT_061,
            **encode(VideoCodec(**LEROBOT_061, **one), frames, work / "ref.mp4", args.reps),
        }
        log(f"reference {ref}")
        before = {
            "setting": "SVT-AV1 default preset (eidata before issue 25)",
            "crf": 30,
            **encode(VideoCodec(preset=None, **one), frames, work / "before.mp4", args.reps),
        }
        before["fps_vs_ref"] = round(before["fps_per_core"] / ref["fps_per_core"], 3)
        log(f"library default preset {before}")
        svt = sweep("svt", {"vcodec": "libsvtav1", **one}, svt_presets, SVT_CRFS, ref, frames, work, args.reps)
        x264_medium = VideoCodec.h264(preset="medium", crf=23, **one)  # the library default, at its own crf
        x264_ref = {"setting": "libx264 medium crf 23", **encode(x264_medium, frames, work / "x.mp4", args.reps)}
        x264 = sweep("x264", {"vcodec": "h264", **one}, x264_presets, X264_CRFS, x264_ref, frames, work, args.reps)
        threads = [cameras_at_once(frames, work, k, pin) for k, pin in ((1, False), (3, False), (3, True))]
        for row in threads:
            log(f"{row['cameras']} camera(s) at once, pinned to {row['pinned_to']}: {row['cores_busy']} cores busy")
    wall = time.perf_counter() - t0
    other = max(0.0, (machine_busy_s() - busy0 - _cpu_s()) / wall)  # rough: this process's CPU since start
    print(
        json.dumps(
            {
                "benchmark": "codec",
                "frames": args.frames,
                "size": args.size,
                "reps": args.reps,
                "reference": ref,
                "svt_default_preset": before,
                "svtav1": svt,
                "x264_reference": x264_ref,
                "x264": x264,
                "cameras_at_once": threads,
                "machine": {
                    "cpus": os.cpu_count(),
                    "loadavg": os.getloadavg(),
                    "other_cores": round(other, 2),
                    "python": platform.python_version(),
                    "av": av.__version__,
                },
            }
        )
    )


if __name__ == "__main__":
    main()
