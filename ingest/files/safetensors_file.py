"""Safetensors files written atomically, and headers read into a pydantic model, with errors naming the file.

Files are written with `ingest.files.atomic` (hidden temp name, fsync, rename): a reader, or a rerun deciding what is
done,
sees a whole file or none; a killed writer's leftovers are only ever found by looking for `TEMP_MARK`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import torch
from pydantic import BaseModel
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ingest.files.atomic import atomic_write

M = TypeVar("M", bound=BaseModel)


def save_atomic(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> Path:
    contiguous = {k: v.contiguous() for k, v in tensors.items()}
    return atomic_write(path, lambda tmp: save_file(contiguous, str(tmp), metadata=metadata))


def read_header(path: Path, model: type[M], error: type[Exception], what: str) -> M:
    """The file's metadata validated as `model` (the header only, not the tensors); `error` naming the file when it
    is unreadable or its metadata is not a `what` file's."""
    try:
        with safe_open(str(path), framework="pt") as sf:
            raw = sf.metadata() or {}
    except (OSError, SafetensorError) as e:
        raise error(f"{path}: not a readable safetensors file ({e})") from e
    try:
        return model.model_validate(raw)
    except ValueError as e:
        raise error(f"{path}: bad {what} metadata ({e})") from e
