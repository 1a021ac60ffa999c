"""LingBot-VA latent files on disk: atomic writes, and whether an existing file is the one a plan asks for."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

import torch

from schemas.lingbot import LatentPlan, LatentRecord


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """`write(tmp)` next to `path` under a hidden unique name, fsync, then rename: a killed job leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_record(path: Path, record: LatentRecord) -> None:
    atomic_write(path, lambda tmp: torch.save(record.to_dict(), tmp))


def read_record(path: Path, *, mmap: bool = False) -> LatentRecord:
    """Load and validate one latent file the way LingBot-VA can (`weights_only=True`: no pickled code)."""
    return LatentRecord.from_dict(torch.load(path, weights_only=True, mmap=mmap), where=str(path))


def record_matches(path: Path, plan: LatentPlan) -> bool:
    """True when `path` holds a valid record of exactly this plan (same text, frames, rates and shapes). Tensors are
    memory-mapped, not read, so checking a corpus of files costs little more than listing it."""
    if not path.is_file():
        return False
    try:
        return plan.matches(read_record(path, mmap=True))
    except Exception:  # unreadable or invalid: it will be made again
        return False
