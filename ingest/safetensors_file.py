"""Safetensors files written atomically, and headers read into a pydantic model, with errors naming the file.

A file is written under a hidden temp name in its final folder (`.<name>.tmp-<uuid>`), fsynced, then renamed into
place: a reader, or a rerun deciding what is done, sees a whole file or none. Temp names never match the files'
own glob patterns, so a killed writer's leftovers are only ever found by looking for `TEMP_MARK`.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import TypeVar

import torch
from pydantic import BaseModel
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

TEMP_MARK = ".tmp-"
M = TypeVar("M", bound=BaseModel)


def save_atomic(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}{TEMP_MARK}{uuid.uuid4().hex}")
    try:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata=metadata)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


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
