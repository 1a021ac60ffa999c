"""`eidata train`: a preset and a manifest -> a run folder; `--resume` continues one.

    eidata train --manifest CORPUS/manifests/NAME --preset tiny|lda-1b [--steps N] [--resume [CKPT]] [--out RUN]
    eidata train --manifest s3://BUCKET/CORPUS/manifests/NAME [--cache-dir DIR] [--cache-bytes N] ...  # AWS_* env
    torchrun --nproc_per_node 8 -m jobs.cli train --manifest ... --preset lda-1b        # DDP, one GPU per process

Run folder (default `runs/<manifest>-<preset>`): config.json, norm_stats.json, index.json, metrics.jsonl, checkpoints/,
and job/train.lock: a second run into the same folder is refused, naming the first one's pid (`jobs.output_lock`).
Episodes the run cannot use are counted by reason (log, `index.json`, closing summary); the run fails only when none
is left. A fresh run's `--steps` is the cosine horizon and the stop step; on resume the config comes from the
checkpoint and `--steps` only moves the stop step. A bucket's manifest is checked before any work, with the standard
AWS credentials and endpoint; the files an epoch opens are kept in a bounded local cache.
"""

from __future__ import annotations

import argparse
import json
import os
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationError

from adapters.storage.root import Root
from jobs.catalog.manifest_arg import manifest_folder, missing_hint
from jobs.runtime.exits import fail
from jobs.runtime.options import Arg, Opt, job_values, opts
from schemas.frozen import Frozen
from schemas.storage import StorageError
from training.config import PRESETS, DataConfig, LaraConfig, ModelConfig, TrainConfig, config_from_preset, get_preset

if TYPE_CHECKING:
    from training.index_report import IndexReport

# flags that define the run: on resume they must match the checkpoint's config when given
_FIXED_FLAGS = ("preset", "batch_size", "seed")
_MODEL_FLAGS = ("per_block_adaln", "image_layout", "image_registers")  # ModelConfig fields (LDA's choices)


DEFAULT_PRESET = "tiny"


def _train(field: str, *flags: str, **kw: Any) -> Opt:
    """A `TrainConfig` flag: not given (None) unless passed, since on resume a given flag must match the checkpoint."""
    return Opt(TrainConfig, field, flags=flags, unset=True, **kw)


# `eidata train`, in the flags' order
TRAIN_OPTIONS: tuple[Opt | Arg, ...] = (
    Opt(
        TrainConfig,
        "manifest",
        required=True,
        unset=True,
        help="manifest folder or URL (CORPUS/manifests/NAME), or its NAME in the current folder's corpus (as "
        "export --manifest takes it)",
    ),
    _train("preset", help=f"model size: {' or '.join(PRESETS)} (default {DEFAULT_PRESET})"),
    _train("schedule_steps", "--steps", help="train to this step (fresh run: also the cosine horizon)"),
    Arg("--resume", nargs="?", const="latest", default=None, help="continue the run (or from CKPT)"),
    Arg("--out", default=None, help="run folder (default runs/<manifest>-<preset>)"),
    _train("batch_size", "--batch-size"),
    _train("lara.mode", "--lara", help="LARA; pretrain: the LAM alone, for a later --lam-weights"),
    _train("lara.stride", "--lam-stride"),
    _train("lara.weights", "--lam-weights"),
    _train("data.num_workers", "--num-workers"),
    _train("data.cache_dir", "--cache-dir"),
    _train("data.cache_bytes", "--cache-bytes"),
    _train("seed"),
    Arg("--device", default=None, help="cpu or cuda (default: cuda when available)"),
    *map(_train, ("log_every", "ckpt_every", "compile", "checkpointing", "attention", "model.per_block_adaln")),
    *map(_train, ("model.image_layout", "model.image_registers", "peak_tflops")),
)


class EvalJob(Frozen):
    """`eidata eval`: open-loop metrics of a checkpoint on a manifest's split; the defaults of
    `training.evaluate.evaluate`, which takes every one of them."""

    checkpoint: Path = Field(description="a training checkpoint (.pt)")
    manifest: str = Field(
        description="manifest folder, or its bucket URL (s3://BUCKET/CORPUS/manifests/NAME), or its NAME in the "
        "current folder's corpus (as train and export take it)"
    )
    split: Literal["train", "val"] = Field("val", description="the manifest's split to score")
    out: Path | None = Field(None, description="report JSON (default: beside the checkpoint)")
    max_samples: int = Field(2048, description="evenly spaced samples")
    batch_size: int = Field(32, description="samples per forward pass")
    steps: int | None = Field(None, description="Euler steps (default: the run's flow.inference_steps)")
    device: str | None = Field(None, description="cpu or cuda (default: cuda when available)")


EVAL_OPTIONS = (
    Opt(EvalJob, "checkpoint", required=True),
    Opt(EvalJob, "manifest", required=True),
    *opts(EvalJob, "split", "out", "max_samples", "batch_size", "steps", "device"),
)


def _runtime(args: argparse.Namespace, cfg: TrainConfig) -> dict[str, object]:
    """Fields a run may change between launches (resume included)."""
    out: dict[str, object] = {}
    data = {k: getattr(args, k) for k in ("num_workers", "cache_dir", "cache_bytes") if getattr(args, k) is not None}
    if data:
        out["data"] = DataConfig(**{**cfg.data.model_dump(), **data})
    for key in ("log_every", "ckpt_every", "peak_tflops", "compile", "checkpointing", "attention"):
        if getattr(args, key) is not None:
            out[key] = getattr(args, key)
    return out


def build_config(args: argparse.Namespace, manifest: Path | str, resume_from: Path | None) -> TrainConfig:
    if resume_from is not None:
        from training.checkpoint import checkpoint_config, load_checkpoint

        saved, _ = checkpoint_config(load_checkpoint(resume_from))
        if Root(saved.manifest).where != Root(manifest).where:
            raise ValueError(f"--manifest {manifest} is not the checkpoint's manifest {saved.manifest}")
        for flag in (*_FIXED_FLAGS, *_MODEL_FLAGS):
            given = getattr(args, flag)
            had = getattr(saved.model if flag in _MODEL_FLAGS else saved, flag)
            if given is not None and given != had:
                what = "model" if flag in _MODEL_FLAGS else had
                raise ValueError(f"--{flag.replace('_', '-')} {given} differs from the checkpoint's {what}")
        if args.lara is not None and args.lara != saved.lara.mode:
            raise ValueError(f"--lara {args.lara} differs from the checkpoint's {saved.lara.mode}")
        if args.lam_weights is not None and args.lam_weights != saved.lara.weights:
            raise ValueError(f"--lam-weights {args.lam_weights}: a resume continues the checkpoint's LAM")
        return saved.model_copy(update=_runtime(args, saved))
    chosen = {"batch_size": args.batch_size, "seed": args.seed, "schedule_steps": args.steps}
    fields: dict[str, object] = {k: v for k, v in chosen.items() if v is not None}
    model = {k: getattr(args, k) for k in _MODEL_FLAGS if getattr(args, k) is not None}
    if model:
        preset = get_preset(args.preset or DEFAULT_PRESET)
        fields["model"] = ModelConfig.model_validate({**preset.model.model_dump(), **model})
    if args.lam_stride is not None and args.lara != "pretrain":
        raise ValueError("--lam-stride sets the LAM's pretraining pairs: it needs --lara pretrain")
    if args.lara is not None or args.lam_weights is not None:
        stride = {} if args.lam_stride is None else {"stride": args.lam_stride}
        fields["lara"] = LaraConfig(mode=args.lara or "joint", weights=args.lam_weights, **stride)
        if args.lam_weights is not None and not Path(args.lam_weights).is_file():
            raise ValueError(f"--lam-weights {args.lam_weights}: no such file")
    # a manifest as a run config names it: a resolved folder, or the URL as given (no trailing slash)
    cfg = config_from_preset(args.preset or DEFAULT_PRESET, str(Root(manifest).where), **fields)
    return cfg.model_copy(update=_runtime(args, cfg))


def cli_train(args: argparse.Namespace) -> int:
    """Exit 0 when the run reached its stop step, 1 for data or checkpoint problems, 2 for bad arguments."""
    from jobs.catalog.manifest_current import check_manifest_corpus
    from jobs.output_lock import OutputLock
    from jobs.runtime.job_lock import JobLockedError
    from schemas.manifest import MANIFEST_JSON
    from schemas.storage import CatalogError
    from training.checkpoint import CheckpointError
    from training.distributed import shutdown
    from training.errors import DataError
    from training.trainer import resolve_resume, train

    manifest = manifest_folder(args.manifest)  # a NAME (in ./manifests), a folder or its file, as export takes it
    try:  # the manifest's file (a bucket's: the credential and the bucket too), before any work
        Root.preflight(f"{manifest}/{MANIFEST_JSON}")
    except StorageError as e:
        return fail(2, f"eidata train: --manifest {args.manifest}: {e}{missing_hint(args.manifest)}")
    try:  # the catalog the manifest was curated from still describes the corpus's datasets
        check_manifest_corpus(manifest, "train")
    except CatalogError as e:
        return fail(1, f"eidata train: --manifest {args.manifest}: {e}")
    preset = args.preset or DEFAULT_PRESET
    name = str(Root(manifest).where).rsplit("/", 1)[-1]
    run_dir = Path(args.out) if args.out else Path("runs") / f"{name}-{preset}"
    with ExitStack() as held:
        for locked in (False, True):  # a bad call refused before anything is written; read again under the lock
            try:
                resume_from = resolve_resume(run_dir, args.resume)
                cfg = build_config(args, manifest, resume_from)
            except (KeyError, ValueError, ValidationError, CheckpointError) as e:
                return fail(1 if isinstance(e, CheckpointError) else 2, f"eidata train: {e}")
            if locked or os.environ.get("RANK", "0") != "0":  # rank 0 holds a group's lock
                break
            try:  # one run per run folder: a second is refused naming the first's pid (`jobs.output_lock`)
                held.enter_context(OutputLock(run_dir, "train"))
            except JobLockedError as e:
                return fail(1, f"eidata train: {e}; wait for it, or give another --out")
        try:
            result = train(cfg, run_dir, stop_step=args.steps, resume=resume_from, device=args.device)
        except (DataError, CheckpointError, StorageError) as e:
            return fail(1, f"eidata train: {e}")
        finally:
            shutdown()
    if result.is_main:
        print(f"trained to step {result.step}; last loss {result.loss:.4f}; checkpoint {result.checkpoint}")
        if result.index is not None:
            print(used_and_left_out(result.index))
    return 0


def used_and_left_out(report: IndexReport) -> str:
    """The run's summary of its train split: episodes used, and those left out by reason (also in `index.json`)."""
    line = f"train split: {report.episodes} episodes used ({report.samples} samples)"
    if report.native_widths:
        line += f", {report.native_trained} on native actions ({report.widths()})"
    if not report.left_out:
        return line + ", none left out"
    reasons = "; ".join(f"{n} {reason}" for reason, n in sorted(report.skipped.items(), key=lambda kv: -kv[1]))
    return f"{line}, {report.left_out} left out: {reasons}"


def cli_eval(args: argparse.Namespace) -> int:
    """`eidata eval`: exit 0, 1 for data/checkpoint problems."""
    from adapters.storage.atomic import atomic_write
    from jobs.catalog.manifest_current import check_manifest_corpus
    from schemas.storage import CatalogError
    from training.checkpoint import CheckpointError
    from training.errors import DataError
    from training.evaluate import evaluate

    job = EvalJob.model_validate(job_values(args, EVAL_OPTIONS, EvalJob))
    ckpt = job.checkpoint
    try:
        check_manifest_corpus(manifest_folder(job.manifest), "eval")  # as `train` checks it
        report = evaluate(
            ckpt,
            manifest_folder(job.manifest),
            job.split,
            **job.model_dump(exclude={"checkpoint", "manifest", "split", "out"}),
        )
    except (DataError, CheckpointError, FileNotFoundError, StorageError, CatalogError) as e:  # StorageError: credential
        return fail(1, f"eidata eval: {e}")
    out = job.out if args.out else ckpt.parent / f"eval_{job.split}_step{report['step']:08d}.json"
    atomic_write(out, json.dumps(report, indent=2) + "\n")
    print(f"eval {report['split']} at step {report['step']}: {report['samples']} samples -> {out}")
    if own := sorted(d for d, s in report["normalization"].items() if s != "train"):
        print(f"unseen in training, normalized with their own split's statistics: {', '.join(own)}")
    import pyarrow as pa

    from jobs.catalog.query import format_table  # duckdb: only when printing

    rows = [{"group": k, **v} for k, v in report["metrics"].items()]  # the per-group metrics as a text table
    print(format_table(pa.Table.from_pylist(rows), "table"), end="")
    return 0
