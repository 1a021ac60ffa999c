"""Where a GPU stage's time goes: torch.profiler over a few steps of the DINOv3 model or the lda-1b training step,
after warm-up (so a compiled run's compile is not in it). Issue 29's step 2: run when a goal is missed.

Prints the operators and kernels with the most device time (attention shows its kernel: flash, cuDNN or
memory-efficient), then one JSON line with what a fix needs first:

- `device_busy`: kernel time / wall time of the profiled steps (low = the GPU waits on the host);
- `host_syncs`: synchronizing calls the CUDA runtime saw (cudaStreamSynchronize, cudaDeviceSynchronize, blocking
  cudaMemcpy), per step;
- `graph_breaks` and `recompiles` of a compiled run (TorchDynamo's counters);
- `attention_kernels`: the device time of each attention kernel family.

    python3 -m benchmarks._profile latents --batch 256 [--compile off]
    python3 -m benchmarks._profile train --batch 32 [--compile off] [--checkpointing] [--image-layout channel]

`--trace FILE` also writes the Chrome trace (gzip), to open in Perfetto. On CPU it runs too (a check, not a figure).
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile

SYNC_CALLS = ("cudaStreamSynchronize", "cudaDeviceSynchronize", "cudaEventSynchronize", "cudaMemcpy ")
ATTENTION = {  # kernel-name fragments -> family (SDPA's choices and FlashAttention-2)
    "flash": "flash",
    "fmha": "cudnn/fmha",
    "cudnn": "cudnn/fmha",
    "efficient_attention": "memory-efficient",
    "mem_eff": "memory-efficient",
}


def _latents_step(device: torch.device, batch: int, compiled: bool) -> Callable[[], None]:
    from ingest.encoders.dinov3.frames import PreprocessConfig
    from ingest.encoders.dinov3.model import EncoderSpec
    from ingest.encoders.dinov3.stream import FrameEncoder

    spec = EncoderSpec(random_init=True, device=device.type, batch_size=batch, compile=compiled)  # type: ignore[arg-type]
    enc = FrameEncoder(spec, PreprocessConfig())
    size = enc.cfg.size
    x = torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8, device=device)

    def step() -> None:
        enc._forward(x, batch)

    return step


def _train_step(device: torch.device, batch: int, compiled: bool, args: argparse.Namespace) -> Callable[[], None]:
    from benchmarks.train_step import _config, make_step
    from training.attention import choose_backend

    model = {"image_layout": args.image_layout, "image_registers": args.image_registers}
    cfg = _config(args.preset, "joint", model, batch)
    choose_backend(device.type, "auto")
    return make_step(cfg, device, 32, compiled=compiled, checkpointing=args.checkpointing)


def summarize(prof: Any, steps: int, wall_s: float, cuda: bool) -> dict[str, Any]:
    """The JSON figures from a finished profile (see the module docstring)."""
    events = prof.key_averages()
    device_us = sum(getattr(e, "self_device_time_total", 0.0) for e in events if e.device_type.name == "CUDA")
    syncs = sum(e.count for e in events if any(e.key.startswith(s.strip()) for s in SYNC_CALLS))
    families: dict[str, float] = {}
    for e in events:
        name = e.key.lower()
        for frag, fam in ATTENTION.items():
            if frag in name and e.device_type.name == "CUDA":
                families[fam] = families.get(fam, 0.0) + e.self_device_time_total / 1e3 / steps
                break
    from torch._dynamo.utils import counters

    return {
        "steps": steps,
        "wall_ms_per_step": round(wall_s * 1e3 / steps, 3),
        "device_ms_per_step": round(device_us / 1e3 / steps, 3) if cuda else None,
        "device_busy": round(device_us / 1e6 / wall_s, 3) if cuda else None,
        "host_syncs_per_step": round(syncs / steps, 2),
        "graph_breaks": sum(counters["graph_break"].values()),
        "recompiles": sum(counters["recompiles"].values()),
        "attention_ms_per_step": {k: round(v, 3) for k, v in families.items()},
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("stage", choices=["latents", "train"])
    p.add_argument("--batch", type=int, default=None, help="default: 256 latents, 32 train (2 and 2 on CPU)")
    p.add_argument("--compile", choices=["on", "off"], default="on")
    p.add_argument("--steps", type=int, default=None, help="profiled steps (default: 10 on CUDA, 2 on CPU)")
    p.add_argument("--warmup", type=int, default=None, help="default: 5 on CUDA, 1 on CPU")
    p.add_argument("--checkpointing", action="store_true")
    p.add_argument("--image-layout", choices=["token", "channel"], default="token", dest="image_layout")
    p.add_argument("--image-registers", type=int, default=0, dest="image_registers")
    p.add_argument("--preset", default=None, help="training preset (default: lda-1b on CUDA, tiny on CPU)")
    p.add_argument("--rows", type=int, default=30, help="rows of the printed table")
    p.add_argument("--trace", type=Path, default=None, help="also write the Chrome trace here (.json.gz)")
    args = p.parse_args()
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    args.preset = args.preset or ("lda-1b" if cuda else "tiny")
    compiled = args.compile == "on"
    if args.stage == "latents":
        batch = args.batch or (256 if cuda else 2)
        step = _latents_step(device, batch, compiled)
    else:
        batch = args.batch or (32 if cuda else 2)
        step = _train_step(device, batch, compiled, args)
    steps, warmup = args.steps or (10 if cuda else 2), args.warmup or (5 if cuda else 1)
    print(f"{args.stage}: batch {batch}, compiled {compiled}, {warmup} warm-up + {steps} profiled", file=sys.stderr)
    for _ in range(warmup):
        step()
    if cuda:
        torch.cuda.synchronize()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities, record_shapes=False) as prof:
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        if cuda:
            torch.cuda.synchronize()
        wall = time.perf_counter() - t0
    sort = "self_device_time_total" if cuda else "self_cpu_time_total"
    print(prof.key_averages().table(sort_by=sort, row_limit=args.rows), file=sys.stderr)
    result = {"profile": args.stage, "batch": batch, "compiled": compiled, "device": str(device)}
    result |= summarize(prof, steps, wall, cuda)
    if cuda:
        result["gpu"] = torch.cuda.get_device_name(0)
    if args.trace:
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "trace.json"
            prof.export_chrome_trace(str(raw))
            with raw.open("rb") as src, gzip.open(args.trace, "wb") as dst:
                shutil.copyfileobj(src, dst)
        result["trace"] = str(args.trace)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
