"""The files under a dataset's `latents/`, written atomically (`adapters.storage.atomic`: hidden temp name, fsync,
rename): one episode's latents file (`schemas.image_latents`) and the per-task text embedding files
(`schemas.captions`: `latents/text/task_XXXXXX.safetensors`). A reader, or a rerun deciding what is done, sees a whole
file or none; temp files a killed job left never match `episode_*.safetensors` (or `task_*.safetensors`) and are
removed by `remove_stale_temps` (`remove_stale_text_temps`).

The bytes are deterministic: safetensors keeps `__metadata__` in a Rust HashMap whose iteration order is seeded per
process (safetensors `lib.rs` `Metadata`, serialized by serde_json), so two processes writing the same tensors and
metadata give headers in different key orders. We re-serialize the header with the metadata keys sorted; the format
puts the tensor offsets relative to the end of the header, so its length may change freely (the 8-byte alignment
padding with spaces is kept, as the format asks).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save

from adapters.storage.atomic import atomic_write, remove_temp_files
from schemas.captions import HIDDEN_KEY, INPUT_IDS_KEY, TEXT_DIR, TextEmbeddingMeta, text_embedding_file
from schemas.image_latents import CLS_REGISTERS_KEY, FRAME_INDEX_KEY, LATENTS_DIR, LATENTS_KEY, LatentsMeta


def save_atomic(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> Path:
    contiguous = {k: v.contiguous() for k, v in tensors.items()}
    data = sorted_header(save(contiguous, metadata=metadata))
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def sorted_header(data: bytes) -> bytes:
    """The same safetensors file with its `__metadata__` keys in sorted order (see the module docstring)."""
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    if "__metadata__" in header:
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data[8 + n :]


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


class TextEmbeddingError(ValueError):
    """A text embedding file that breaks the contract (tensors, shapes, dtype or metadata)."""


@dataclass
class TextEmbedding:
    hidden_states: torch.Tensor  # [L, D] bfloat16 or float16
    input_ids: torch.Tensor  # [L] int64
    meta: TextEmbeddingMeta


def text_embedding_path(dataset_root: Path, task_index: int) -> Path:
    return Path(dataset_root) / text_embedding_file(task_index)


def check_text_embedding(e: TextEmbedding, where: str) -> None:
    h, ids = e.hidden_states, e.input_ids
    problems = []
    if ids.dtype != torch.int64 or ids.ndim != 1 or ids.shape[0] == 0:
        problems.append(f"input_ids must be int64 [L] with L > 0, got {ids.dtype} {tuple(ids.shape)}")
    if h.dtype != TORCH_DTYPES[e.meta.dtype] or h.ndim != 2 or h.shape[0] != ids.shape[0]:
        problems.append(f"hidden_states must be {e.meta.dtype} [{ids.shape[0]}, D], got {h.dtype} {tuple(h.shape)}")
    elif not bool(torch.isfinite(h).all()):
        problems.append("hidden_states hold non-finite values")
    if problems:
        raise TextEmbeddingError(f"{where}: " + "; ".join(problems))


def write_text_embedding(path: Path, input_ids: np.ndarray, hidden: torch.Tensor, meta: TextEmbeddingMeta) -> Path:
    """Store `hidden` [L, D] (cast to the metadata's dtype) and `input_ids` [L] at `path`, atomically."""
    e = TextEmbedding(
        hidden.detach().to("cpu", TORCH_DTYPES[meta.dtype]).contiguous(),
        torch.as_tensor(np.asarray(input_ids, dtype=np.int64)),
        meta,
    )
    check_text_embedding(e, str(path))
    return save_atomic(Path(path), {HIDDEN_KEY: e.hidden_states, INPUT_IDS_KEY: e.input_ids}, meta.to_metadata())


def remove_stale_text_temps(dataset_root: Path) -> int:
    """How many temp files of the text embedding files in `latents/text/` a killed writer left were removed."""
    return len(remove_temp_files(Path(dataset_root) / TEXT_DIR, ".task_*.safetensors"))
