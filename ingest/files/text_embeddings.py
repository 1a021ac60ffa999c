"""Reading and writing per-task text embedding files (`schemas.captions`: `latents/text/task_XXXXXX.safetensors`),
atomically (`ingest.files.safetensors_file`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from adapters.storage.atomic import remove_temp_files
from ingest.files.latents import TORCH_DTYPES
from ingest.files.safetensors_file import save_atomic
from schemas.captions import HIDDEN_KEY, INPUT_IDS_KEY, TEXT_DIR, TextEmbeddingMeta, text_embedding_file


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


def remove_stale_temps(dataset_root: Path) -> int:
    """How many temp files of the text embedding files in `latents/text/` a killed writer left were removed."""
    return len(remove_temp_files(Path(dataset_root) / TEXT_DIR, ".task_*.safetensors"))
