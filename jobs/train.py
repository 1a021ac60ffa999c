"""`eidata train`: a preset and a manifest -> a run folder; `--resume` continues one.

    eidata train --manifest CORPUS/manifests/NAME --preset tiny|lda-1b [--steps N] [--resume [CKPT]] [--out RUN]
    torchrun --nproc_per_node 8 -m jobs.cli train --manifest ... --preset lda-1b        # DDP, one GPU per process

Run folder (default `runs/<manifest>-<preset>`): config.json, norm_stats.json, metrics.jsonl, checkpoints/.
A fresh run's `--steps` is the cosine horizon and the stop step; on resume the config (horizon included) comes
from the checkpoint and `--steps` only moves the stop step.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from training.config import DataConfig, LaraConfig, ModelConfig, TrainConfig, config_from_preset, get_preset

# flags that define the run: on resume they must match the checkpoint's config when given
_FIXED_FLAGS = {"preset": "preset", "batch_size": "batch_size", "seed": "seed"}
_MODEL_FLAGS = ("per_block_adaln", "image_layout", "image_registers")  # ModelConfig fields (LDA's choices)


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--manifest", required=True, help="manifest folder (CORPUS/manifests/NAME)")
    p.add_argument("--preset", default=None, help="model size: tiny or lda-1b (default tiny)")
    p.add_argument("--steps", type=int, default=None, help="train to this step (fresh run: also the cosine horizon)")
    p.add_argument("--resume", nargs="?", const="latest", default=None, help="continue the run (or from CKPT)")
    p.add_argument("--out", default=None, help="run folder (default runs/<manifest>-<preset>)")
    p.add_argument("--batch-size", type=int, default=None, dest="batch_size", help="samples per process per step")
    p.add_argument("--lara", choices=["joint", "frozen", "off", "pretrain"], default=None,
                   help="LARA (default joint); pretrain: the LAM alone, for a later --lam-weights")  # fmt: skip
    p.add_argument("--lam-stride", type=int, default=None, dest="lam_stride",
                   help="--lara pretrain: frames between the LAM's pair (default 5, LARA's)")  # fmt: skip
    p.add_argument(
        "--lam-weights", default=None, dest="lam_weights", help="LAM weights (.safetensors or checkpoint) to start from"
    )
    p.add_argument("--num-workers", type=int, default=None, dest="num_workers", help="DataLoader workers per process")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--log-every", type=int, default=None, dest="log_every")
    p.add_argument("--ckpt-every", type=int, default=None, dest="ckpt_every")
    p.add_argument("--compile", choices=["auto", "on", "off"], default=None,
                   help="torch.compile the objective (default auto: on CUDA devices)")  # fmt: skip
    p.add_argument("--checkpointing", action="store_true", default=None,
                   help="recompute each MM-DiT block in backward (less activation memory)")  # fmt: skip
    p.add_argument("--attention", choices=["auto", "sdpa", "flash", "reference"], default=None,
                   help="attention kernel (default auto: SDPA, cuDNN first on CUDA)")  # fmt: skip
    p.add_argument("--per-block-adaln", action="store_true", default=None, dest="per_block_adaln",
                   help="LDA's per-block AdaLN instead of adaLN-single (+0.45 B parameters at lda-1b)")  # fmt: skip
    p.add_argument("--image-layout", choices=["token", "channel"], default=None, dest="image_layout",
                   help="channel: LDA's frames-along-channels image tokens (2.4x fewer FLOPs at lda-1b)")  # fmt: skip
    p.add_argument("--image-registers", type=int, default=None, dest="image_registers",
                   help="learned register tokens in the image stream (LDA: 32)")  # fmt: skip
    p.add_argument("--peak-tflops", type=float, default=None, dest="peak_tflops", help="device peak for MFU")


def add_eval_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="a training checkpoint (.pt)")
    p.add_argument("--manifest", required=True, help="manifest folder")
    p.add_argument("--split", choices=["train", "val"], default="val")
    p.add_argument("--out", default=None, help="report JSON (default: beside the checkpoint)")
    p.add_argument("--max-samples", type=int, default=2048, dest="max_samples", help="evenly spaced samples")
    p.add_argument("--batch-size", type=int, default=32, dest="batch_size")
    p.add_argument("--steps", type=int, default=None, help="Euler steps (default: the run's, 4)")
    p.add_argument("--device", default=None)


def _runtime(args: argparse.Namespace, cfg: TrainConfig) -> dict[str, object]:
    """Fields a run may change between launches (resume included)."""
    out: dict[str, object] = {}
    if args.num_workers is not None:
        out["data"] = DataConfig(**{**cfg.data.model_dump(), "num_workers": args.num_workers})
    for key in ("log_every", "ckpt_every", "peak_tflops", "compile", "checkpointing", "attention"):
        if getattr(args, key) is not None:
            out[key] = getattr(args, key)
    return out


def build_config(args: argparse.Namespace, manifest: Path, resume_from: Path | None) -> TrainConfig:
    if resume_from is not None:
        from training.checkpoint import checkpoint_config, load_checkpoint

        saved, _ = checkpoint_config(load_checkpoint(resume_from))
        if Path(saved.manifest).resolve() != manifest.resolve():
            raise ValueError(f"--manifest {manifest} is not the checkpoint's manifest {saved.manifest}")
        for flag, field in _FIXED_FLAGS.items():
            given = getattr(args, flag)
            if given is not None and given != getattr(saved, field):
                raise ValueError(
                    f"--{flag.replace('_', '-')} {given} differs from the checkpoint's {getattr(saved, field)}"
                )
        for flag in _MODEL_FLAGS:
            given = getattr(args, flag)
            if given is not None and given != getattr(saved.model, flag):
                raise ValueError(f"--{flag.replace('_', '-')} {given} differs from the checkpoint's model")
        if args.lara is not None and args.lara != saved.lara.mode:
            raise ValueError(f"--lara {args.lara} differs from the checkpoint's {saved.lara.mode}")
        if args.lam_weights is not None and args.lam_weights != saved.lara.weights:
            raise ValueError(f"--lam-weights {args.lam_weights}: a resume continues the checkpoint's LAM")
        return saved.model_copy(update=_runtime(args, saved))
    fields: dict[str, object] = {}
    if args.batch_size is not None:
        fields["batch_size"] = args.batch_size
    if args.seed is not None:
        fields["seed"] = args.seed
    if args.steps is not None:
        fields["schedule_steps"] = args.steps
    model = {k: getattr(args, k) for k in _MODEL_FLAGS if getattr(args, k) is not None}
    if model:
        fields["model"] = ModelConfig.model_validate({**get_preset(args.preset or "tiny").model.model_dump(), **model})
    if args.lam_stride is not None and args.lara != "pretrain":
        raise ValueError("--lam-stride sets the LAM's pretraining pairs: it needs --lara pretrain")
    if args.lara is not None or args.lam_weights is not None:
        stride = {} if args.lam_stride is None else {"stride": args.lam_stride}
        fields["lara"] = LaraConfig(mode=args.lara or "joint", weights=args.lam_weights, **stride)
        if args.lam_weights is not None and not Path(args.lam_weights).is_file():
            raise ValueError(f"--lam-weights {args.lam_weights}: no such file")
    cfg = config_from_preset(args.preset or "tiny", manifest.resolve(), **fields)
    return cfg.model_copy(update=_runtime(args, cfg))


def cli_train(args: argparse.Namespace) -> int:
    """Exit 0 when the run reached its stop step, 1 for data or checkpoint problems, 2 for bad arguments."""
    from schemas.manifest import MANIFEST_JSON
    from training.checkpoint import CheckpointError
    from training.distributed import shutdown
    from training.episodes import DataError
    from training.trainer import resolve_resume, train

    manifest = Path(args.manifest)
    if not (manifest / MANIFEST_JSON).is_file():
        print(f"eidata train: {manifest}: no {MANIFEST_JSON}; not a manifest folder", file=sys.stderr)
        return 2
    run_dir = Path(args.out) if args.out else Path("runs") / f"{manifest.resolve().name}-{args.preset or 'tiny'}"
    try:
        resume_from = resolve_resume(run_dir, args.resume)
        cfg = build_config(args, manifest, resume_from)
    except (KeyError, ValueError, ValidationError) as e:
        print(f"eidata train: {e}", file=sys.stderr)
        return 2
    except CheckpointError as e:
        print(f"eidata train: {e}", file=sys.stderr)
        return 1
    try:
        result = train(cfg, run_dir, stop_step=args.steps, resume=resume_from, device=args.device)
    except (DataError, CheckpointError) as e:
        print(f"eidata train: {e}", file=sys.stderr)
        return 1
    finally:
        shutdown()
    if result.is_main:
        print(f"trained to step {result.step}; last loss {result.loss:.4f}; checkpoint {result.checkpoint}")
    return 0


def format_report(report: dict[str, Any]) -> str:
    """The eval report's per-group metrics as a text table."""
    import pyarrow as pa

    from jobs.catalog.query import format_table  # duckdb: only when printing

    rows = [{"group": k, **v} for k, v in report["metrics"].items()]
    return format_table(pa.Table.from_pylist(rows), "table")


def cli_eval(args: argparse.Namespace) -> int:
    """`eidata eval --checkpoint PATH --manifest DIR [--split val]`: exit 0, 1 for data/checkpoint problems."""
    from ingest.files.atomic import write_text_atomic
    from training.checkpoint import CheckpointError
    from training.episodes import DataError
    from training.evaluate import evaluate

    ckpt = Path(args.checkpoint)
    try:
        report = evaluate(ckpt, Path(args.manifest), args.split, max_samples=args.max_samples,
                          batch_size=args.batch_size, device=args.device, steps=args.steps)  # fmt: skip
    except (DataError, CheckpointError, FileNotFoundError) as e:
        print(f"eidata eval: {e}", file=sys.stderr)
        return 1
    out = Path(args.out) if args.out else ckpt.parent / f"eval_{args.split}_step{report['step']:08d}.json"
    write_text_atomic(out, json.dumps(report, indent=2) + "\n")
    print(f"eval {report['split']} at step {report['step']}: {report['samples']} samples -> {out}")
    own = sorted(d for d, s in report["normalization"].items() if s != "train")
    if own:
        print(f"unseen in training, normalized with their own split's statistics: {', '.join(own)}")
    print(format_report(report), end="")
    return 0
