"""The latents stage at the real DINOv3 ViT-S/16 size (random weights, 4 registers): images/s of the model alone and
of the encoder actor's path, beside transformers' plain inference loop on the same batch, of decode + resize per CPU
core, of one file write, and of the whole `eidata latents` job.

- model alone: `PixelEncoder` (normalization, the ViT, the cast to the stored dtype; compiled with `--compile`) on a
  uint8 batch already on the device, after warm-up, for at least `--seconds`: the ceiling of the GPU.
- reference: what a user would write with transformers alone, timed the same way on a batch of the same size:
  `DINOv3ViTModel(encoder_config(spec))` (the same seed, so the same weights), eager, on an already-normalized
  float32 batch on the device, `model(pixel_values=x).last_hidden_state` under inference mode (and bf16 autocast when
  ours runs it). `model_vs_reference` is our model's rate over it. Where `timm` is importable and has
  `vit_small_patch16_dinov3`, its `forward_features` is timed the same way (`timm_img_s`); `timm` says which model
  ran or why none did. timm is not a dependency.
- actor path: `LatentsEncoder.__call__` itself (no Ray) on in-memory episodes of uint8 frames, as the object store
  hands them to it: gathering batches into the staging buffers, host -> device, the model, device -> host into the
  output buffer, and the file writes (4 threads, to a temp folder). Side by side with the model alone: the share of
  the model's rate the actor keeps (the target on an H100 is >= 80 %).
- NVDEC (`--nvdec-streams`, on by default on CUDA): every frame of one episode's AV1 file decoded on the GPU's NVDEC
  through PyAV (FFmpeg's `av1` decoder with a CUDA device, and `av1_cuvid`) beside the CPU decoder, one stream and N
  in parallel (`benchmarks/_nvdec.py`): how many latents/s decode could feed without CPU cores.
- decode + resize: `decode_resized()` (the job's decode task: uint8 frames) on an AV1 episode (`--frame`, 480x640 by
  default; the ingest codec, GOP 2) at the latent rate, beside `decode_pixels()` (the float32 processor path the job
  used before); "per core" is frames per second of process CPU time, which sizes the CPU tasks that must feed a GPU:
  cores = GPU images/s / per-core rate.
- write: `write_latents()` of one episode's file (temp + fsync + rename).
- end to end: `LatentsStage(job).run()` over a corpus of such episodes with Ray already up (Ray's start excluded; the
  actor start, the model load and the catalog rebuild included).

`--parts` picks what runs (default all): `model` (model alone, reference, timm, actor path), `decode` (writes the AV1
corpus; decode + resize and write), `e2e` (writes the corpus; the job through Ray). Ray and the corpus's writer are
imported only by the parts that use them, so `--parts model` measures the model on a machine without Ray or PyAV.

    .venv/bin/python -m benchmarks.latents                                    # CPU: batch 16, fp32 compute
    .venv/bin/python -m benchmarks.latents --device cuda --batch 256 --compile on --episodes 32 --episode-s 60
    .venv/bin/python -m benchmarks.latents --device cuda --parts model        # the model part only: no Ray
    .venv/bin/python -m benchmarks.latents --smoke     # batch 2, one 1 s episode at 32x32: runs, measures nothing

The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("SVT_LOG", "1")

import numpy as np
import torch

from benchmarks._cli import parse_args
from ingest.encoders.dinov3.frames import PreprocessConfig, decode_resized, resize_frames
from ingest.encoders.dinov3.model import EncoderSpec, encoder_config
from ingest.files.latents import LatentsFile, write_latents
from ingest.lerobot.video_read import decode_frames
from ingest.lerobot.writer import LeRobotWriter
from jobs.runtime.ray_pool import place_actors
from jobs.stages.latents import LatentsEncoder, LatentsJob, LatentsStage, expected_meta
from schemas.canonical import ACTION, HAND_KEYPOINTS, STATE
from schemas.image_latents import latent_frame_indices
from schemas.robots.registry import default_registry
from tests.fixtures.dinov3 import decode_pixels, normalize_frames, preprocess

FPS = 10
GPU_TARGET = 10_000  # images/s of the model on an H100-class GPU (issues 6 and 17)
PARTS = ("model", "decode", "e2e")
TIMM_MODEL = "vit_small_patch16_dinov3"  # timm's DINOv3 ViT-S/16 (4 registers, like ours)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _driver() -> str | None:
    """The NVIDIA driver version (torch does not report it)."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return out.stdout.strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def _sync(spec: EncoderSpec) -> None:
    if spec.device == "cuda":
        torch.cuda.synchronize()


def _timed(step: Any, spec: EncoderSpec, seconds: float) -> tuple[int, float, float]:
    """(calls, wall s, process CPU s) of `step()` repeated for at least `seconds` after warm-up."""
    for _ in range(1 if spec.device == "cpu" else 5):  # warm-up (cuDNN/cuBLAS choice, torch.compile)
        step()
    _sync(spec)
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while n < 3 or time.perf_counter() - t0 < seconds:
        step()
        n += 1
    _sync(spec)
    return n, time.perf_counter() - t0, time.process_time() - c0


def _rates(name: str, step: Any, spec: EncoderSpec, seconds: float) -> dict[str, float]:
    """`{name}_img_s` and `{name}_img_s_per_cpu_s` of `step()`, one batch of `spec.batch_size` a call."""
    n, dt, cpu = _timed(step, spec, seconds)
    return {f"{name}_img_s": n * spec.batch_size / dt, f"{name}_img_s_per_cpu_s": n * spec.batch_size / cpu}


def _autocast(spec: EncoderSpec) -> torch.autocast:
    """bf16 autocast where ours computes in bf16 (CUDA), off otherwise: what a user would wrap a forward in."""
    amp = spec.amp_dtype
    return torch.autocast(spec.device, dtype=amp or torch.float32, enabled=amp is not None)


def bench_reference(spec: EncoderSpec, x: torch.Tensor, seconds: float) -> dict[str, Any]:
    """transformers' plain loop on `x` (normalized float32 on the device): the same config and seed as ours, eager."""
    from transformers import DINOv3ViTModel

    torch.manual_seed(spec.seed)
    model = DINOv3ViTModel(encoder_config(spec)).eval().to(spec.device)

    def step() -> torch.Tensor:
        with torch.inference_mode(), _autocast(spec):
            return model(pixel_values=x).last_hidden_state

    return _rates("reference", step, spec, seconds)


def bench_timm(spec: EncoderSpec, x: torch.Tensor, seconds: float) -> dict[str, Any]:
    """timm's DINOv3 ViT-S/16 (random weights) timed like the reference, where timm is there and has it."""
    try:
        import timm
    except ImportError:
        return {"timm": "not importable"}
    if TIMM_MODEL not in timm.list_models("*dinov3*"):
        return {"timm": f"timm {timm.__version__} has no {TIMM_MODEL}"}
    try:
        model = timm.create_model(TIMM_MODEL, pretrained=False, num_classes=0, img_size=x.shape[-1])
    except (TypeError, ValueError, RuntimeError) as e:
        return {"timm": f"timm {timm.__version__}: cannot build {TIMM_MODEL} ({e})"}
    model = model.eval().to(spec.device)

    def step() -> torch.Tensor:
        with torch.inference_mode(), _autocast(spec):
            return model.forward_features(x)

    ran = f"{TIMM_MODEL} (timm {timm.__version__}, random weights, eager)"
    return {"timm": ran, **_rates("timm", step, spec, seconds)}


def bench_model_and_actor(
    spec: EncoderSpec, job: LatentsJob, tmp: Path, seconds: float, call_frames: int
) -> dict[str, Any]:
    """The model alone on a device-resident batch, transformers' plain loop (and timm's) on the same batch
    normalized, then the actor's whole call on episodes of uint8 frames."""
    meta = expected_meta(job).model_dump(exclude={"video_key", "episode_index"})
    actor = LatentsEncoder(spec.model_dump(), job.preprocess.model_dump(), meta, threads=None)
    enc = actor.encoder
    size = job.preprocess.size
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.integers(0, 256, (spec.batch_size, 3, size, size), dtype=np.uint8)).to(spec.device)

    def model_step() -> None:
        enc._forward(x, spec.batch_size)

    n, dt, cpu = _timed(model_step, spec, seconds)
    out: dict[str, Any] = {
        "model_img_s": n * spec.batch_size / dt,
        "model_img_s_per_cpu_s": n * spec.batch_size / cpu,
        "model_batches": n,
        "model_s": dt,
    }
    ref = normalize_frames(x, job.preprocess)  # what a user's processor would have handed the model
    out |= bench_reference(spec, ref, seconds)
    out["model_vs_reference"] = out["model_img_s"] / out["reference_img_s"]
    out |= bench_timm(spec, ref, seconds)
    del ref
    # the actor: `call_frames` per call (the job's default on CUDA: 4 batches) in episodes of up to 36 frames
    # (12 s at 3 Hz), so batches cross episode boundaries and the last one of a call is short
    per_ep = min(36, call_frames)
    eps = max(1, round(call_frames / per_ep))
    frames = [rng.integers(0, 256, (per_ep, 3, size, size), dtype=np.uint8) for _ in range(eps)]
    outs = np.array([str(tmp / f"actor_{i}.safetensors") for i in range(eps)])
    batch = {
        "dataset": np.array(["bench"] * eps),
        "episode_index": np.arange(eps),
        "video_key": np.array(["observation.images.head"] * eps),
        "out": outs,
        "error": np.array([""] * eps, dtype=object),
        "frame_index": [np.arange(per_ep) * 3] * eps,
        "frames": frames,
    }

    def actor_step() -> None:
        result = actor(batch)
        assert not any(result["error"]), result["error"]

    n, dt, cpu = _timed(actor_step, spec, seconds)
    imgs = n * eps * per_ep
    out |= {
        "actor_img_s": imgs / dt,
        "actor_img_s_per_cpu_s": imgs / cpu,
        "actor_calls": n,
        "actor_frames_per_call": eps * per_ep,
        "actor_vs_model": imgs / dt / out["model_img_s"],
    }
    return out


def write_corpus(root: Path, episodes: int, episode_s: float, size: tuple[int, int]) -> int:
    """One dataset of `episodes` head-camera episodes of `episode_s` s at `size` (the ingest job's writer)."""
    from adapters.synthetic.video import synthetic_frame  # PyAV: only the parts that need a corpus import it

    length = int(episode_s * FPS)
    features = default_registry().get("franka").features({"head": size})
    rng = np.random.default_rng(0)
    with LeRobotWriter.create(root / "datasets/bench/head", fps=FPS, features=features, robot_type="franka") as w:
        for ep in range(episodes):
            with w.episode(task="pick up the cup") as b:
                for t in range(length):
                    b.add_frame(
                        {
                            "observation.images.head": synthetic_frame(*size, t, seed=ep),
                            STATE: rng.normal(size=50).astype(np.float32),
                            ACTION: rng.normal(size=50).astype(np.float32),
                            HAND_KEYPOINTS: np.zeros((2, 21, 3), np.float32),
                        }
                    )
    return length


def bench_decode(video: Path, length: int, rate: float) -> dict[str, Any]:
    torch.set_num_threads(1)  # as in a Ray task with num_cpus=1 (OMP_NUM_THREADS=1)
    idx = latent_frame_indices(length, FPS, rate)
    cfg = PreprocessConfig()
    c0, t0 = time.process_time(), time.perf_counter()
    decode_resized(video, idx, cfg)  # the job's decode task: uint8 frames
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    c0 = time.process_time()
    decode_pixels(video, idx, cfg)  # the float32 processor path the task ran before
    float_cpu = time.process_time() - c0
    c0 = time.process_time()
    frames = [f for _, f in decode_frames(video, idx.tolist())]
    decode_cpu = time.process_time() - c0
    c0 = time.process_time()
    for i in range(0, len(frames), 16):
        resize_frames(np.stack(frames[i : i + 16]), cfg)
    resize_cpu = time.process_time() - c0
    c0 = time.process_time()
    for i in range(0, len(frames), 16):
        preprocess(np.stack(frames[i : i + 16]), cfg)
    pre_cpu = time.process_time() - c0
    n = len(idx)
    return {
        "decode_resize_img_s_per_core": n / cpu,
        "decode_resize_img_s_wall": n / wall,
        "decode_float_preprocess_img_s_per_core": n / float_cpu,
        "decode_only_img_s_per_core": n / decode_cpu,
        "resize_uint8_img_s_per_core": n / resize_cpu,
        "preprocess_float_img_s_per_core": n / pre_cpu,
        "stream_frames_decoded_per_latent": length / n,
    }


def bench_write(tmp: Path, n: int, spec: EncoderSpec, job: LatentsJob) -> dict[str, Any]:
    meta = expected_meta(job).model_copy(update={"video_key": "observation.images.head"})
    dtype = torch.bfloat16 if spec.stored_dtype == "bfloat16" else torch.float16
    f = LatentsFile(torch.randn(n, 196, 384).to(dtype), torch.randn(n, 5, 384).to(dtype), torch.arange(n) * 3, meta)
    times = []
    for i in range(5):
        t0 = time.perf_counter()
        write_latents(tmp / f"w{i}.safetensors", f)
        times.append(time.perf_counter() - t0)
    ms = float(np.median(times)) * 1e3
    return {"write_ms_per_file": ms, "write_frames_per_file": n, "write_img_s": n / (ms / 1e3)}


def bench_e2e(job: LatentsJob, episodes: int, threads: int | None = None, key: str = "e2e") -> dict[str, Any]:
    """`LatentsStage(job).run()` over the corpus at `job.root` in a Ray of its own, started before the clock; with
    `threads`, the CPU actor's torch threads forced to it (the placement before, for comparison), its keys `key_*`."""
    from dataclasses import replace
    from unittest import mock

    import ray

    import jobs.runtime.stage as stage_module
    from jobs.runtime.ray_pool import init_ray

    # a Ray of its own, started as every job starts it (its waits, once more if it fails, `RayStartError`), never one
    # another process on this machine runs (its head records its address in /tmp/ray/ray_current_cluster, which a
    # bare ray.init() joins)
    init_ray(None, job.num_cpus, 2 * 1024)
    from benchmarks._ingest_measure import TreeSampler, self_cpu_s

    # the CPU of the driver and of every process under it (Ray's GCS, raylet, agents, the decode workers and the
    # actor): the stage's images per CPU-second, beside the model's, is the comparison a loaded machine keeps
    sampler = TreeSampler()
    try:
        sampler.sample()
        before = {pid: p["cpu_s"] for pid, p in sampler.procs.items()}
        sampler.start()
        log("end to end (eidata latents) ...")
        own = self_cpu_s()
        placed = stage_module.place_actors
        forced = (lambda *a: replace(placed(*a), threads=threads)) if threads else placed
        with mock.patch.object(stage_module, "place_actors", forced):
            report = LatentsStage(job).run(progress=False)
        own = self_cpu_s() - own
        sampler.stop()
        sampler.sample()
    finally:
        ray.shutdown()
    assert report.written == episodes and not report.failed, report.summary()
    by_kind: dict[str, float] = {}
    for pid, p in sampler.procs.items():
        by_kind[p["kind"]] = by_kind.get(p["kind"], 0.0) + p["cpu_s"] - before.get(pid, 0.0)
    cpu, cpus = own + sum(by_kind.values()), job.num_cpus or os.cpu_count() or 1
    out = {
        "img_s": report.frames / report.seconds,
        "img_s_per_cpu_s": report.frames / cpu,
        "cpu_s": cpu,
        "cpu_s_driver": own,
        "cpu_s_by_process": {k: round(v, 2) for k, v in sorted(by_kind.items())},
        "actor_threads": threads or place_actors(job.device, job.actors, {"CPU": float(cpus)}).threads,
        "frames": report.frames,
        "s": report.seconds,
        "episodes": report.written,
    }
    return {f"{key}_{k}": v for k, v in out.items()}


def _parts(value: str) -> tuple[str, ...]:
    parts = tuple(v.strip() for v in value.split(",") if v.strip())
    bad = sorted(set(parts) - set(PARTS))
    if bad or not parts:
        raise argparse.ArgumentTypeError(f"{value!r}: a comma list of {', '.join(PARTS)}")
    return tuple(p for p in PARTS if p in parts)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--batch", type=int, default=None, help="frames per forward (default: 16 on CPU, 256 on CUDA)")
    p.add_argument("--dtype", choices=["fp32", "bf16"], default=None, help="compute (default: fp32 CPU, bf16 CUDA)")
    p.add_argument(
        "--compile",
        choices=["auto", "on", "off"],
        default="auto",
        help="torch.compile the encoder with static shapes (default auto: on CUDA, as the job)",
    )
    p.add_argument(
        "--seconds", type=float, default=None, help="each timing of the model part (default: 20 on CPU, 10 on CUDA)"
    )
    p.add_argument(
        "--call-frames",
        type=int,
        default=None,
        dest="call_frames",
        help="frames per actor call (default: 4 x batch, the job's default on CUDA)",
    )
    p.add_argument("--episodes", type=int, default=4, help="episodes of the end-to-end corpus")
    p.add_argument("--episode-s", type=float, default=12.0, dest="episode_s", help="seconds per episode")
    p.add_argument("--rate", type=float, default=3.0)
    p.add_argument("--frame", default="480x640", help="HxW of the episodes' video (default: 480x640)")
    p.add_argument("--threads", type=int, default=None, help="torch threads of the model-alone run (default: all CPUs)")
    p.add_argument("--num-cpus", type=int, default=None, dest="num_cpus", help="embedded Ray's CPUs (default: all)")
    p.add_argument(
        "--e2e-before-threads",
        type=int,
        default=0,
        dest="e2e_before_threads",
        help="e2e part: first run the stage with its CPU actor on this many torch threads (1: the placement before "
        "it took every CPU of its share; keys e2e_before_*), then as placed (default 0: not run)",
    )
    p.add_argument(
        "--parts",
        type=_parts,
        default=PARTS,
        help="comma list of model (model alone, reference, timm, actor), decode (AV1 corpus, decode, write), e2e "
        "(corpus, the job through Ray) (default: all)",
    )
    p.add_argument(
        "--nvdec-streams",
        type=int,
        default=None,
        dest="nvdec_streams",
        help="decode part: AV1 on NVDEC through PyAV beside the CPU decoder, this many streams in parallel "
        "(default: 7 on CUDA, an H100's NVDEC engines; 0 on CPU: not run)",
    )
    smoke = {"batch": 2, "seconds": 0.1, "episodes": 1, "episode_s": 1.0, "frame": "32x32", "threads": 1,
             "call_frames": 3}  # fmt: skip
    args = parse_args(p, smoke, "batch 2, one 1 s episode at 32x32, 1 torch thread")
    cuda = args.device == "cuda"
    batch = args.batch or (256 if cuda else 16)
    dtype = args.dtype or ("bf16" if cuda else "fp32")
    if dtype == "bf16" and not cuda:
        p.error("bf16 compute is the CUDA autocast path; CPU runs fp32")
    spec = EncoderSpec(
        random_init=True,
        device=args.device,
        batch_size=batch,
        autocast=dtype == "bf16",
        compile={"on": True, "off": False}.get(args.compile),
    )
    torch.set_num_threads(args.threads or os.cpu_count() or 1)
    result: dict[str, Any] = {
        "benchmark": "latents",
        "load_avg_1m": os.getloadavg()[0],
        "device": args.device,
        "batch": batch,
        "compute_dtype": dtype,
        "stored_dtype": spec.stored_dtype,
        "model": "dinov3-vit-s16+4reg (random weights)",
        "params_m": 21.6,
        "rate_hz": args.rate,
        "frame": args.frame,
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    result["threads"] = torch.get_num_threads()
    result["compiled"] = spec.compiled
    if cuda:
        result |= {"gpu": torch.cuda.get_device_name(0), "cuda": torch.version.cuda, "driver": _driver()}
    result["parts"] = ",".join(args.parts)

    with tempfile.TemporaryDirectory(prefix="bench-latents-") as tmp_s:
        tmp = Path(tmp_s)
        job = LatentsJob(
            root=tmp / "corpus", encoder=spec, rate_hz=args.rate, device=args.device, num_cpus=args.num_cpus
        )
        if "model" in args.parts:
            log(
                f"model alone, the transformers reference and the actor path: batch {batch}, {dtype}, "
                f"compiled {spec.compiled} ..."
            )
            seconds = args.seconds or (10.0 if cuda else 20.0)
            result |= bench_model_and_actor(spec, job, tmp, seconds, args.call_frames or 4 * batch)
            log(
                f"  model {result['model_img_s']:.1f} img/s ({result['model_vs_reference']:.2f}x the reference's "
                f"{result['reference_img_s']:.1f}), actor {result['actor_img_s']:.1f} img/s "
                f"({result['actor_vs_model']:.0%} of the model's); timm: {result['timm']}"
            )
        if "decode" in args.parts or "e2e" in args.parts:
            size = tuple(int(v) for v in args.frame.lower().split("x"))
            log(f"writing {args.episodes} episodes of {args.episode_s:.0f} s at {args.frame} (AV1) ...")
            length = write_corpus(tmp / "corpus", args.episodes, args.episode_s, size)  # type: ignore[arg-type]
        if "decode" in args.parts:
            video = next((tmp / "corpus/datasets/bench/head/videos").rglob("*.mp4"))
            result |= bench_decode(video, length, args.rate)
            log(
                f"  decode+resize {result['decode_resize_img_s_per_core']:.1f} img/s per core (float path "
                f"{result['decode_float_preprocess_img_s_per_core']:.1f})"
            )
            result |= bench_write(tmp, len(latent_frame_indices(length, FPS, args.rate)), spec, job)
            streams = (7 if cuda else 0) if args.nvdec_streams is None else args.nvdec_streams
            if streams:
                from benchmarks._nvdec import ROUTES, bench_nvdec

                log(f"AV1 decode on NVDEC and on the CPU, {streams} streams in parallel ...")
                result |= bench_nvdec(video, streams)
                per_latent = result["stream_frames_decoded_per_latent"]
                for route in ROUTES:
                    key = f"nvdec_{route}_frames_s" + ("_parallel" if streams > 1 else "")
                    if key in result:  # decoded frames/s -> latent frames/s at the latent rate
                        result[f"nvdec_{route}_latent_img_s"] = result[key] / per_latent
                    log(f"  {route}: {result.get(f'nvdec_{route}_error') or result[f'nvdec_{route}_latent_img_s']}")
        if "e2e" in args.parts:
            if args.e2e_before_threads:
                result |= bench_e2e(job, args.episodes, args.e2e_before_threads, key="e2e_before")
                shutil.rmtree(job.root)  # the same corpus again, without its latents
                write_corpus(job.root, args.episodes, args.episode_s, size)  # type: ignore[arg-type]
                log(f"end to end, actor on {args.e2e_before_threads} threads: {result['e2e_before_img_s']:.2f} img/s")
            result |= bench_e2e(job, args.episodes)
            log(f"end to end {result['e2e_img_s']:.1f} img/s over {result['e2e_frames']} frames")
            if "model" in args.parts:  # the stage beside the bare forward of the same run, batch and threads
                result["model_vs_e2e"] = result["model_img_s"] / result["e2e_img_s"]
                result["model_vs_e2e_per_cpu_s"] = result["model_img_s_per_cpu_s"] / result["e2e_img_s_per_cpu_s"]
                log(
                    f"  the model alone is {result['model_vs_e2e']:.2f}x the stage's rate by wall, "
                    f"{result['model_vs_e2e_per_cpu_s']:.2f}x per CPU-s; stage CPU-s {result['e2e_cpu_s_by_process']}"
                )
    if "decode" in args.parts:
        per_core = result["decode_resize_img_s_per_core"]
        if "model" in args.parts:
            result["cores_to_feed_model"] = result["model_img_s"] / per_core
            result["cores_to_feed_actor"] = result["actor_img_s"] / per_core
        result["cores_to_feed_10k"] = GPU_TARGET / per_core
        log(f"decode cores to feed 10k img/s: {result['cores_to_feed_10k']:.0f}")
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}))


if __name__ == "__main__":
    main()
