"""Training-step figures: `tiny` step time and samples/s on CPU; `lda-1b` parameter count and FLOPs per sample; on a
CUDA device also `lda-1b` in bf16 with the fused attention (samples/s, MFU, peak memory).

A step is what the trainer does per batch: routed forward of the whole objective (DiT + LARA's LAM and projector
unless `--lara off`), backward, gradient clipping and AdamW. Batches are random tensors of the real shapes
(`training.batch.random_batch`): the data path is not timed here. Median over `--steps` timed steps after
`--warmup`. FLOPs per sample are the analytic model FLOPs of `training/flops.py` (3 x forward matmul FLOPs), for
`--text-tokens` text tokens. Progress goes to stderr; the last stdout line is one JSON object.

    .venv/bin/python -m benchmarks.train_step [--threads 1] [--steps 20] [--lara joint] [--gpu-batch 32]
    .venv/bin/python -m benchmarks.train_step --smoke     # 1 warm-up and 2 timed steps (also lda-1b's on CUDA)
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from typing import Any

import torch

from benchmarks._cli import parse_args
from training import flops
from training.attention import backend_for
from training.batch import random_batch, to_device
from training.config import LaraConfig, TrainConfig, config_from_preset
from training.objective import LDAObjective, draw_noise
from training.optim import build_optimizer


def _config(preset: str, lara: str, batch: int | None = None) -> TrainConfig:
    weights = "unused" if lara == "frozen" else None
    cfg = config_from_preset(preset, "benchmark", lara=LaraConfig(mode=lara, weights=weights))
    return cfg if batch is None else cfg.model_copy(update={"batch_size": batch})


def _params(module: torch.nn.Module | None) -> int:
    return 0 if module is None else sum(p.numel() for p in module.parameters())


def time_steps(cfg: TrainConfig, device: torch.device, steps: int, warmup: int, text_tokens: int) -> dict[str, Any]:
    torch.manual_seed(0)
    obj = LDAObjective(cfg).to(device)
    cuda = device.type == "cuda"
    opt = build_optimizer(obj, cfg.optim, fused=cuda)
    params = [p for p in obj.parameters() if p.requires_grad]
    batch = to_device(random_batch(cfg.model, cfg.batch_size, text_tokens=text_tokens), device)
    gen = torch.Generator(device).manual_seed(0)
    times = []
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        noise = draw_noise(cfg.batch_size, cfg.model, cfg.flow, gen)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=cuda):
            loss = obj(batch, noise).total
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.optim.grad_clip)
        opt.step()
        if cuda:
            torch.cuda.synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
        print(f"  step {i + 1}/{warmup + steps}: {time.perf_counter() - t0:.3f} s", file=sys.stderr)
    step_s = statistics.median(times)
    out = {
        "batch": cfg.batch_size,
        "step_s": round(step_s, 4),
        "samples_per_s": round(cfg.batch_size / step_s, 2),
        "attention": backend_for(device.type),
    }
    if cuda:
        peak = flops.peak_flops(torch.cuda.get_device_name(device))
        per_sample = flops.train_per_sample(cfg, text_tokens)
        out["mfu"] = flops.mfu(per_sample, out["samples_per_s"], peak, 1)
        out["peak_memory_gb"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
        out["device_name"] = torch.cuda.get_device_name(device)
    return out


def model_figures(cfg: TrainConfig, text_tokens: int) -> dict[str, Any]:
    with torch.device("meta"):
        obj = LDAObjective(cfg)
    m = cfg.model
    return {
        "params_dit": _params(obj.dit),
        "params_lam": _params(obj.lam),
        "params_projector": _params(obj.projector),
        "tokens_per_sample": m.image_tokens + m.action_tokens,
        "text_tokens": text_tokens,
        "forward_flops_per_sample": flops.forward_per_sample(cfg, text_tokens),
        "train_flops_per_sample": flops.train_per_sample(cfg, text_tokens),
        "train_flops_per_sample_dit_only": 3 * flops.dit_forward(m, text_tokens),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads for the tiny run")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--lara", choices=["joint", "frozen", "off"], default="joint")
    p.add_argument("--text-tokens", type=int, default=32, dest="text_tokens")
    p.add_argument("--gpu-batch", type=int, default=32, dest="gpu_batch")
    args = parse_args(p, {"steps": 2, "warmup": 1, "gpu_batch": 2}, "1 warm-up and 2 timed steps, lda-1b batch 2")
    torch.set_num_threads(args.threads)
    tiny = _config("tiny", args.lara)
    big = _config("lda-1b", args.lara, args.gpu_batch)
    print(f"tiny on CPU, {args.threads} thread(s), batch {tiny.batch_size}", file=sys.stderr)
    tiny_cpu = time_steps(tiny, torch.device("cpu"), args.steps, args.warmup, args.text_tokens)
    tiny_cpu.update(model_figures(tiny, args.text_tokens), threads=args.threads)
    result: dict[str, Any] = {"tiny_cpu": tiny_cpu, "lda_1b": model_figures(big, args.text_tokens), "lara": args.lara}
    if torch.cuda.is_available():
        print(f"lda-1b on {torch.cuda.get_device_name()}, bf16, batch {args.gpu_batch}", file=sys.stderr)
        result["lda_1b"].update(time_steps(big, torch.device("cuda"), args.steps, args.warmup, args.text_tokens))
    else:
        result["lda_1b"]["gpu"] = "no CUDA device: samples/s, MFU and peak memory not measured"
    result["versions"] = {"python": platform.python_version(), "torch": torch.__version__}
    t, b = result["tiny_cpu"], result["lda_1b"]
    print(f"tiny CPU: {t['step_s'] * 1000:.0f} ms/step, {t['samples_per_s']:.1f} samples/s (batch {t['batch']})")
    total = b["params_dit"] + b["params_lam"] + b["params_projector"]
    print(f"lda-1b: {b['params_dit'] / 1e9:.3f} B DiT params ({total / 1e9:.3f} B with LARA), "
          f"{b['train_flops_per_sample'] / 1e12:.2f} TFLOP per training sample")  # fmt: skip
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
