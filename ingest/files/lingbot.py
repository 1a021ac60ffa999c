"""LingBot-VA latent files on disk: atomic writes, and whether an existing file is the one a plan asks for."""

from __future__ import annotations

from pathlib import Path

import torch

from adapters.storage.atomic import atomic_write
from schemas.lingbot import LatentPlan, LatentRecord


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
