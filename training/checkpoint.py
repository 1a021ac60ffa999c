"""Checkpoints: everything a resume needs to take the identical next step, written atomically.

`<run>/checkpoints/step_XXXXXXXX.pt` holds the model (DiT, LAM, projector), optimizer and scheduler states, the
step, the number of samples drawn (the sampler's whole state, see `training.dataset`), the config and the
normalization statistics; `<run>/checkpoints/latest` names the newest one. The per-step noise is seeded from
(seed, rank, step), so no generator state is needed for exactness; torch's global RNG state is kept for anything
else that draws from it. Loads use `weights_only=True`: a checkpoint is data, never code.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import nn

from adapters.storage.atomic import atomic_write
from schemas.json_document import parsed_json
from training.config import TrainConfig
from training.normalize import NormStats

log = logging.getLogger(__name__)

CKPT_DIR = "checkpoints"
LATEST = "latest"
FORMAT = "eidata-train-ckpt-1"


class CheckpointError(RuntimeError):
    pass


def save_checkpoint(run_dir: Path, state: dict[str, Any], step: int, keep: int) -> Path:
    folder = Path(run_dir) / CKPT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"step_{step:08d}.pt"
    atomic_write(path, lambda tmp: torch.save({"format": FORMAT, **state}, tmp))
    atomic_write(folder / LATEST, path.name + "\n")
    for old in sorted(folder.glob("step_*.pt"))[:-keep]:
        old.unlink(missing_ok=True)
    return path


def latest_checkpoint(run_dir: Path) -> Path | None:
    pointer = Path(run_dir) / CKPT_DIR / LATEST
    if not pointer.is_file():
        return None
    path = pointer.parent / pointer.read_text(encoding="utf-8").strip()
    return path if path.is_file() else None


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)  # tensors paged in on use
    except (OSError, RuntimeError, EOFError) as e:
        raise CheckpointError(f"{path}: cannot load checkpoint ({e})") from e
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an eidata training checkpoint")
    return state


def checkpoint_config(state: dict[str, Any]) -> tuple[TrainConfig, NormStats]:
    config = TrainConfig.model_validate(parsed_json(state["config"], "the checkpoint's config"))
    return config, NormStats.model_validate(parsed_json(state["norm_stats"], "the checkpoint's norm_stats"))


def unwrap(module: nn.Module) -> nn.Module:
    """The plain module under DDP and torch.compile wrappers (their state-dict keys carry prefixes)."""
    module = getattr(module, "_orig_mod", module)  # the trainer compiles DDP(objective)
    module = module.module if isinstance(module, nn.parallel.DistributedDataParallel) else module
    return getattr(module, "_orig_mod", module)


def load_lam_weights(lam: nn.Module, path: Path | str) -> None:
    """LAM weights from a `.safetensors` of its state dict, or the `lam.*` part of a training checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"LAM weights {path}: no such file")
    if path.suffix == ".safetensors":
        weights = load_file(str(path))
    else:
        model = load_checkpoint(path)["model"]
        weights = {k.removeprefix("lam."): v for k, v in model.items() if k.startswith("lam.")}
        if not weights:
            raise CheckpointError(f"{path}: the checkpoint has no LAM (trained with --lara off)")
    try:
        lam.load_state_dict(weights)
    except RuntimeError as e:
        raise CheckpointError(f"LAM weights {path} do not fit this LAM config: {e}") from e
    log.info("LAM weights loaded from %s", path)
