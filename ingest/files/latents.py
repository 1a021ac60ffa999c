"""Reading and writing one episode's latents file (`schemas.image_latents`), atomically (`adapters.storage.atomic`):
temp files a killed job left never match `episode_*.safetensors` and are removed by `remove_stale_temps`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from adapters.storage.atomic import remove_temp_files
from ingest.files.safetensors_file import save_atomic
from schemas.image_latents import (
    CLS_REGISTERS_KEY,
    FRAME_INDEX_KEY,
    LATENTS_DIR,
    LATENTS_KEY,
    LatentsMeta,
)

TORCH_DTYPES: dict[str, torch.dtype] = {"bfloat16": torch.bfloat16, "float16": torch.float16}


class LatentsFileError(ValueError):
    """A latents file that breaks the contract (missing tensor, wrong shape or dtype, bad metadata)."""


@dataclass
class LatentsFile:
    latents: torch.Tensor  # [N, P, D]
    cls_registers: torch.Tensor  # [N, 1 + R, D]
    frame_index: torch.Tensor  # [N] int64
    meta: LatentsMeta


def check_latents(f: LatentsFile, where: str = "latents") -> None:
    """Raise LatentsFileError unless the tensors agree with each other and with the metadata."""
    want = TORCH_DTYPES[f.meta.dtype]
    n = f.frame_index.shape[0] if f.frame_index.ndim == 1 else -1
    grid = (f.meta.image_size // f.meta.patch_size) ** 2
    problems = []
    if f.frame_index.dtype != torch.int64 or f.frame_index.ndim != 1:
        problems.append(f"frame_index must be int64 [N], got {f.frame_index.dtype} {tuple(f.frame_index.shape)}")
    elif n > 1 and not bool((f.frame_index[1:] > f.frame_index[:-1]).all()):
        problems.append("frame_index is not strictly increasing")
    if f.latents.dtype != want or f.latents.ndim != 3 or tuple(f.latents.shape[:2]) != (n, grid):
        problems.append(
            f"latents must be {f.meta.dtype} [{n}, {grid}, D], got {f.latents.dtype} {tuple(f.latents.shape)}"
        )
    prefix = (n, 1 + f.meta.num_register_tokens, f.latents.shape[-1] if f.latents.ndim == 3 else -1)
    if f.cls_registers.dtype != want or tuple(f.cls_registers.shape) != prefix:
        problems.append(
            f"cls_registers must be {f.meta.dtype} {list(prefix)}, got {f.cls_registers.dtype} "
            f"{tuple(f.cls_registers.shape)}"
        )
    if problems:
        raise LatentsFileError(f"{where}: " + "; ".join(problems))


def write_latents(path: Path, f: LatentsFile) -> Path:
    """Check `f` against the contract and write it to `path` atomically (temp + fsync + rename)."""
    check_latents(f, str(path))
    tensors = {LATENTS_KEY: f.latents, CLS_REGISTERS_KEY: f.cls_registers, FRAME_INDEX_KEY: f.frame_index}
    return save_atomic(path, tensors, f.meta.to_metadata())


def remove_stale_temps(dataset_root: Path) -> int:
    """How many temp files of the latents files under `latents/` a killed writer left were removed."""
    return len(remove_temp_files(Path(dataset_root) / LATENTS_DIR, "chunk-*/*/.episode_*.safetensors"))
