"""The training loop: manifest -> sample index -> DataLoader -> LDAObjective (DDP when launched distributed) ->
AdamW + cosine, bf16 autocast on CUDA, metrics every `log_every` steps, checkpoints every `ckpt_every`.

Exact resume: the model, optimizer, scheduler and step come from the checkpoint; the sampler restarts at the number
of samples drawn; the flow noise of step s is drawn from a generator seeded (seed, rank, s). The step after a resume
is therefore the step an uninterrupted run takes (same world size; bit-exact where the kernels are deterministic).

AdamW and the cosine learning-rate schedule of the LDA report (lr 1e-4 -> 5e-7, wd 1e-5, betas 0.9/0.95).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from adapters.storage.atomic import atomic_write
from adapters.storage.corpus_files import CorpusFiles
from schemas.storage import StorageOptions
from training import flops
from training.attention import choose_backend, pad_text
from training.checkpoint import (
    CheckpointError,
    checkpoint_config,
    latest_checkpoint,
    load_checkpoint,
    load_lam_weights,
    save_checkpoint,
    unwrap,
)
from training.config import OptimConfig, TrainConfig
from training.dataset import ManifestDataset, StreamSampler, collate, to_device
from training.distributed import DistInfo, barrier, derive_seed, init_distributed, wrap_ddp
from training.episodes import SampleIndex, build_index
from training.index_report import IndexReport
from training.metrics import JsonlLog, Meter, collapse_warning, format_record
from training.normalize import NormStats, compute_stats
from training.objective import LDAObjective, draw_noise


def cosine_lr(step: int, cfg: OptimConfig, total: int) -> float:
    """Linear warm-up to `lr`, then half a cosine down to `min_lr` at `total` steps, `min_lr` after."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
    return cfg.min_lr + (cfg.lr - cfg.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


def build_optimizer(model: nn.Module, cfg: OptimConfig, *, fused: bool = False) -> torch.optim.AdamW:
    """Weight decay on matrices only (biases and norm gains are not shrunk); frozen parameters are left out."""
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [
        {"params": [p for _, p in params if p.ndim >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for _, p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, fused=fused or None)


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: OptimConfig, total: int
) -> torch.optim.lr_scheduler.LRScheduler:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: cosine_lr(step, cfg, total) / cfg.lr)


log = logging.getLogger(__name__)

METRICS = "metrics.jsonl"
CONFIG = "config.json"
NORM_STATS = "norm_stats.json"
INDEX_REPORT = "index.json"  # the train split's episodes used and left out, with the reasons
# what a resumed run must share with its checkpoint; the rest (data loading, logging, kernels, memory) may change
RESUME_FIXED = ("preset", "model", "lam", "lara", "flow", "optim", "batch_size", "schedule_steps", "seed", "manifest")
RESUME_FREE = tuple(k for k in TrainConfig.model_fields if k not in RESUME_FIXED)


@dataclass
class TrainResult:
    step: int
    loss: float  # the last logged total loss: the mean over the last logging interval and all ranks
    checkpoint: Path | None
    run_dir: Path
    is_main: bool = True  # rank 0 (the one that writes logs and checkpoints)
    index: IndexReport | None = None  # what the train split used and left out


def resolve_resume(run_dir: Path, resume: str | Path | None) -> Path | None:
    """`latest` -> the run's newest checkpoint; a path -> that checkpoint; None -> a fresh run."""
    if resume is None:
        return None
    path = latest_checkpoint(run_dir) if str(resume) == "latest" else Path(resume)
    if path is None or not path.is_file():
        raise CheckpointError(f"nothing to resume: no checkpoint {'in ' + str(run_dir) if path is None else path}")
    return path


def _with_text_width(cfg: TrainConfig, width: int | None) -> TrainConfig:
    if width is None or width == cfg.model.text_dim:
        return cfg
    log.info("text embeddings are %d wide: model text_dim %d -> %d", width, cfg.model.text_dim, width)
    return cfg.model_copy(update={"model": cfg.model.model_copy(update={"text_dim": width})})


def train(
    cfg: TrainConfig,
    run_dir: Path,
    *,
    stop_step: int | None = None,
    resume: str | Path | None = None,
    device: str | None = None,
    storage: StorageOptions | None = None,
) -> TrainResult:
    """Train `cfg` into `run_dir`. A manifest in a bucket (`cfg.manifest` an s3:// URL) is read with `storage` (else
    the AWS environment); its bucket and credential are checked first (`StorageError`, never naming the secret)."""
    data = cfg.data
    if cfg.lara.mode == "pretrain":  # LAM pretraining pairs a frame with the first latent `stride` frames on (LARA: 5)
        data = data.model_copy(update={"future_offset": cfg.lara.stride})
    files, manifest = CorpusFiles.of_manifest(
        cfg.manifest, storage, cache_dir=data.cache_dir, cache_bytes=data.cache_bytes
    )
    dist = init_distributed(device)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    stop = stop_step or cfg.schedule_steps
    ckpt_path = resolve_resume(run_dir, resume)
    state = load_checkpoint(ckpt_path) if ckpt_path else None

    index = build_index(manifest, "train", cfg.model, data, files=files)
    if state is None:
        cfg = _with_text_width(cfg, index.text_dim)
        stats = compute_stats(index)
    else:
        saved, stats = checkpoint_config(state)
        sized = _with_text_width(cfg, index.text_dim)
        if diff := [k for k in RESUME_FIXED if getattr(sized, k) != getattr(saved, k)]:
            raise CheckpointError(
                f"{ckpt_path}: the run config differs from the checkpoint's in {diff}; resume with the same"
            )
        cfg = saved.model_copy(update={k: getattr(cfg, k) for k in RESUME_FREE})
    if dist.is_main:
        atomic_write(run_dir / CONFIG, cfg.dump())
        stats.save(run_dir / NORM_STATS)
        atomic_write(run_dir / INDEX_REPORT, json.dumps(index.report.to_json(), indent=1) + "\n")

    torch.manual_seed(cfg.seed)  # identical initial weights on every rank (DDP also broadcasts rank 0's)
    objective = LDAObjective(cfg).to(dist.device)
    if cfg.lara.weights and objective.lam is not None and state is None:
        # joint starts from them, frozen keeps them; on resume the checkpoint holds the LAM as trained so far
        load_lam_weights(objective.lam, cfg.lara.weights)
    optimizer = build_optimizer(objective, cfg.optim, fused=dist.device.type == "cuda")
    scheduler = build_scheduler(optimizer, cfg.optim, cfg.schedule_steps)
    step, drawn = 0, 0
    if state is not None:
        objective.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng_torch"])
        step, drawn = int(state["step"]), int(state["samples_drawn"])
        if drawn % (cfg.batch_size * dist.world_size):
            log.warning("resuming with another world size: the sample stream continues, not bit-exactly")
        log.info("resumed from %s at step %d", ckpt_path, step)
    if step >= stop:
        log.info("the checkpoint is at step %d already; nothing to train up to step %d", step, stop)
        return TrainResult(step, float("nan"), ckpt_path, run_dir, is_main=dist.is_main, index=index.report)
    if dist.is_main:
        JsonlLog(run_dir / METRICS).truncate_after(step)

    objective.dit.checkpointing = cfg.checkpointing
    module: torch.nn.Module = wrap_ddp(objective, dist) if dist.world_size > 1 else objective
    choose_backend(dist.device.type, cfg.attention)  # decided (and logged) once, outside any compiled graph
    if compile_enabled(cfg.compile, dist.device.type):
        # static shapes: text comes in fixed buckets (pad_text), so each bucket compiles once
        module = torch.compile(module, dynamic=False)
    loader = _loader(cfg, index, stats, dist, start=drawn // dist.world_size)
    result = _loop(cfg, dist, module, objective, optimizer, scheduler, loader, step, stop, run_dir, stats)
    result.index = index.report
    return result


def compile_enabled(setting: str, device_type: str) -> bool:
    """`TrainConfig.compile`: on, off, or auto = on CUDA devices (on CPU, compiling costs more than it saves)."""
    return setting == "on" or (setting == "auto" and device_type == "cuda")


def collate_bucketed(samples: list[dict[str, torch.Tensor]], bucket: int, most: int) -> dict[str, torch.Tensor]:
    """`collate`, text padded to its fixed bucket in the loader worker (so the padded batch is what gets pinned)."""
    return pad_text(collate(samples), bucket, most)


def _loader(cfg: TrainConfig, index: SampleIndex, stats: NormStats, dist: DistInfo, start: int) -> DataLoader:
    dataset = ManifestDataset(index, stats, cfg.model, index.manifest.routing, seed=cfg.seed)
    sampler = StreamSampler(
        index.sample_weights(), seed=cfg.seed, rank=dist.rank, world_size=dist.world_size, start=start
    )
    workers = cfg.data.num_workers
    return DataLoader(
        dataset,
        batch_size=cfg.batch_size,
        sampler=sampler,
        num_workers=workers,
        collate_fn=functools.partial(collate_bucketed, bucket=cfg.text_bucket, most=cfg.text_max),
        pin_memory=dist.device.type == "cuda",
        # each worker's torch, numpy and random are seeded from this (torch's _worker_loop); no draw uses them
        generator=torch.Generator().manual_seed(derive_seed(cfg.seed, dist.rank)),
        persistent_workers=workers > 0,
        prefetch_factor=4 if workers > 0 else None,
    )


def _loop(
    cfg: TrainConfig,
    dist: DistInfo,
    module: torch.nn.Module,
    objective: LDAObjective,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    loader: DataLoader,
    step: int,
    stop: int,
    run_dir: Path,
    stats: NormStats,
) -> TrainResult:
    cuda = dist.device.type == "cuda"
    peak = flops.device_peak(dist.device, cfg.peak_tflops)
    noise_gen = torch.Generator(dist.device)
    meter = Meter(dist.device, codes=cfg.lam.codes if objective.lam is not None else 0)
    jsonl = JsonlLog(run_dir / METRICS)
    params = [p for p in objective.parameters() if p.requires_grad]
    loss, saved = float("nan"), None
    batches = iter(loader)
    objective.train()
    while step < stop:
        t0 = time.perf_counter()
        batch = next(batches)
        wait = time.perf_counter() - t0
        batch = to_device(batch, dist.device)
        noise_gen.manual_seed(derive_seed(cfg.seed, dist.rank, step))
        noise = draw_noise(batch["task"].shape[0], cfg.model, cfg.flow, noise_gen)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=cuda):
            losses = module(batch, noise)
        optimizer.zero_grad(set_to_none=True)
        losses.total.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.optim.grad_clip)
        optimizer.step()
        scheduler.step()
        step += 1
        meter.add(losses, batch["task"], batch["text_mask"], wait)
        if step % cfg.log_every == 0 or step == stop:
            record = meter.flush(dist.world_size)
            loss = record["loss"]  # the logged one: the interval's mean over every rank, not this step's alone
            per_sample = flops.train_per_sample(cfg, record["text_tokens"])
            record = {
                "step": step,
                "epoch": loader.sampler.epoch(step * cfg.batch_size),  # type: ignore[attr-defined]
                "lr": scheduler.get_last_lr()[0],
                **record,
                "grad_norm": float(grad_norm),
                "tflops_per_device": per_sample * record["samples_per_s"] / dist.world_size / 1e12,
                "mfu": flops.mfu(per_sample, record["samples_per_s"], peak, dist.world_size),
                "max_memory_gb": torch.cuda.max_memory_allocated(dist.device) / 2**30 if cuda else None,
            }
            if dist.is_main:
                jsonl.append(record)
                print(format_record(record), flush=True)
                if warning := collapse_warning(record):
                    log.warning(warning)
        if step % cfg.ckpt_every == 0 or step == stop:
            if dist.is_main:
                saved = save_checkpoint(
                    run_dir,
                    {
                        "step": step,
                        "samples_drawn": step * cfg.batch_size * dist.world_size,
                        "world_size": dist.world_size,
                        "config": cfg.model_dump_json(),
                        "norm_stats": stats.model_dump_json(),
                        "model": unwrap(module).state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(),
                        "rng_torch": torch.get_rng_state(),
                    },
                    step,
                    cfg.keep_checkpoints,
                )
            barrier()
    return TrainResult(step=step, loss=loss, checkpoint=saved, run_dir=run_dir, is_main=dist.is_main)
