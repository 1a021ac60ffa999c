"""Training-step figures: `tiny` step time and samples/s on CPU; `lda-1b` parameter count and FLOPs per sample; on a
CUDA device also `lda-1b` in bf16 (samples/s, MFU, peak memory). `--compile` times the torch.compiled step beside
the eager one in the same run (CPU and CUDA).

A step is what the trainer does per batch: routed forward of the whole objective (DiT + LARA's LAM and projector
unless `--lara off`), backward, gradient clipping and AdamW. Batches are random tensors of the real shapes
(`tests.fixtures.training.random_batch`, text padded to the trainer's 64-key bucket): the data path is not timed here.
Median over `--steps` timed steps after `--warmup` (a compiled run's first step, the compile: `compile_s`).
FLOPs per sample are the analytic model FLOPs of `training/flops.py` (3 x forward matmul FLOPs), for `--text-tokens`
text tokens. Progress goes to stderr; the last stdout line is one JSON object.

    .venv/bin/python -m benchmarks.train_step [--threads 1] [--steps 20] [--lara joint] [--gpu-batch 32] [--compile]
        [--checkpointing] [--attention-backend auto|sdpa|flash|reference] [--per-block-adaln] [--image-layout channel]
        [--gpu-only]
    .venv/bin/python -m benchmarks.train_step --smoke     # 1 warm-up and 2 timed steps (also lda-1b's on CUDA)
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch

from benchmarks._cli import parse_args
from tests.fixtures.training import forward_per_sample, random_batch
from training import flops
from training.attention import choose_backend, pad_text
from training.config import LaraConfig, ModelConfig, TrainConfig, config_from_preset, get_preset
from training.dataset import to_device
from training.objective import LDAObjective, draw_noise
from training.trainer import build_optimizer


def _config(preset: str, lara: str, model: dict[str, Any], batch: int | None = None) -> TrainConfig:
    weights = "unused" if lara == "frozen" else None
    m = ModelConfig.model_validate({**get_preset(preset).model.model_dump(), **model})
    cfg = config_from_preset(preset, "benchmark", lara=LaraConfig(mode=lara, weights=weights), model=m)
    return cfg if batch is None else cfg.model_copy(update={"batch_size": batch})


def _params(module: torch.nn.Module | None) -> int:
    return 0 if module is None else sum(p.numel() for p in module.parameters())


def make_step(
    cfg: TrainConfig, device: torch.device, text_tokens: int, *, compiled: bool = False, checkpointing: bool = False
) -> Callable[[], None]:
    """One training step as the trainer runs it, on a fixed random batch (fresh noise each call): routed forward,
    backward, gradient clipping, AdamW (fused on CUDA). Not synchronized: the caller times or profiles it."""
    torch.manual_seed(0)
    obj = LDAObjective(cfg).to(device)
    obj.dit.checkpointing = checkpointing
    step_fn = torch.compile(obj, dynamic=False) if compiled else obj
    cuda = device.type == "cuda"
    opt = build_optimizer(obj, cfg.optim, fused=cuda)
    params = [p for p in obj.parameters() if p.requires_grad]
    batch = random_batch(cfg.model, cfg.batch_size, text_tokens=text_tokens)
    batch = to_device(pad_text(batch, cfg.text_bucket, cfg.text_max), device)
    gen = torch.Generator(device).manual_seed(0)

    def step() -> None:
        noise = draw_noise(cfg.batch_size, cfg.model, cfg.flow, gen)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=cuda):
            loss = step_fn(batch, noise).total
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.optim.grad_clip)
        opt.step()

    return step


def time_steps(
    cfg: TrainConfig,
    device: torch.device,
    steps: int,
    warmup: int,
    text_tokens: int,
    *,
    compiled: bool = False,
    checkpointing: bool = False,
) -> dict[str, Any]:
    cuda = device.type == "cuda"
    step = make_step(cfg, device, text_tokens, compiled=compiled, checkpointing=checkpointing)
    times = []
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    label = "compiled" if compiled else "eager"
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        step()
        if cuda:
            torch.cuda.synchronize(device)
        took = time.perf_counter() - t0
        times.append(took)
        print(f"  {label} step {i + 1}/{warmup + steps}: {took:.3f} s", file=sys.stderr)
    step_s = statistics.median(times[warmup:])
    out = {
        "batch": cfg.batch_size,
        "step_s": round(step_s, 4),
        "samples_per_s": round(cfg.batch_size / step_s, 2),
        "first_step_s": round(times[0], 2),  # the compile, for a compiled run
        "mode": "compiled" if compiled else "eager",
        "checkpointing": checkpointing,
        "attention": cfg.attention,
    }
    if cuda:
        peak = flops.device_peak(device)
        per_sample = flops.train_per_sample(cfg, text_tokens)
        out["mfu"] = flops.mfu(per_sample, out["samples_per_s"], peak, 1)
        out["peak_memory_gb"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
        out["device_name"] = torch.cuda.get_device_name(device)
    return out


def time_variants(cfg: TrainConfig, device: torch.device, args: argparse.Namespace) -> dict[str, Any]:
    """Eager, and with `--compile` the compiled step beside it (same batch, same weights)."""
    run = {"steps": args.steps, "warmup": args.warmup, "text_tokens": args.text_tokens}
    eager = time_steps(cfg, device, **run, checkpointing=args.checkpointing)
    if not args.compile:
        return eager
    compiled = time_steps(cfg, device, **run, compiled=True, checkpointing=args.checkpointing)
    return {**eager, "compiled": compiled, "compiled_speedup": round(eager["step_s"] / compiled["step_s"], 3)}


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
        "forward_flops_per_sample": forward_per_sample(cfg, text_tokens),
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
    p.add_argument("--compile", action="store_true", help="also time the torch.compiled step (beside eager)")
    p.add_argument("--checkpointing", action="store_true", help="per-block activation checkpointing")
    p.add_argument(
        "--attention-backend",
        default="auto",
        dest="attention",
        choices=["auto", "sdpa", "flash", "reference"],
        help="TrainConfig.attention",
    )
    p.add_argument("--per-block-adaln", action="store_true", dest="per_block_adaln", help="LDA's per-block AdaLN")
    p.add_argument("--image-layout", choices=["token", "channel"], default="token", dest="image_layout")
    p.add_argument("--image-registers", type=int, default=0, dest="image_registers")
    p.add_argument(
        "--gpu-only",
        action="store_true",
        dest="gpu_only",
        help="skip timing tiny on the CPU (spend a lent GPU's minutes on lda-1b)",
    )
    args = parse_args(p, {"steps": 2, "warmup": 1, "gpu_batch": 2}, "1 warm-up and 2 timed steps, lda-1b batch 2")
    torch.set_num_threads(args.threads)
    model = {k: getattr(args, k) for k in ("per_block_adaln", "image_layout", "image_registers")}
    tiny = _config("tiny", args.lara, model).model_copy(update={"attention": args.attention})
    big = _config("lda-1b", args.lara, model, args.gpu_batch).model_copy(update={"attention": args.attention})
    tiny_cpu: dict[str, Any] = {}
    if not args.gpu_only:
        print(f"tiny on CPU, {args.threads} thread(s), batch {tiny.batch_size}", file=sys.stderr)
        choose_backend("cpu", "sdpa" if args.attention == "flash" else args.attention)  # flash is CUDA-only
        tiny_cpu = time_variants(tiny, torch.device("cpu"), args)
    tiny_cpu.update(model_figures(tiny, args.text_tokens), threads=args.threads)
    result: dict[str, Any] = {"tiny_cpu": tiny_cpu, "lda_1b": model_figures(big, args.text_tokens), "lara": args.lara}
    if torch.cuda.is_available():
        print(f"lda-1b on {torch.cuda.get_device_name()}, bf16, batch {args.gpu_batch}", file=sys.stderr)
        choose_backend("cuda", args.attention)
        result["lda_1b"].update(time_variants(big, torch.device("cuda"), args))
    else:
        result["lda_1b"]["gpu"] = "no CUDA device: step time, samples/s, MFU and peak memory not measured"
    result["model_options"] = model
    result["versions"] = {"python": platform.python_version(), "torch": torch.__version__}
    if torch.cuda.is_available():
        result["versions"].update(cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version())
    t, b = result["tiny_cpu"], result["lda_1b"]
    for name, r in (("tiny CPU", t), ("lda-1b GPU", b)):
        if "step_s" not in r:
            continue
        line = (
            f"{name}: {r['step_s'] * 1000:.0f} ms/step eager, {r['samples_per_s']:.1f} samples/s (batch {r['batch']})"
        )
        if "compiled" in r:
            line += f"; compiled {r['compiled']['step_s'] * 1000:.0f} ms/step ({r['compiled_speedup']:.2f}x)"
        print(line)
    total = b["params_dit"] + b["params_lam"] + b["params_projector"]
    print(
        f"lda-1b: {b['params_dit'] / 1e9:.3f} B DiT params ({total / 1e9:.3f} B with LARA), "
        f"{b['train_flops_per_sample'] / 1e12:.2f} TFLOP per training sample"
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
